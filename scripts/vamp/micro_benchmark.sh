#!/usr/bin/env bash
# The micro benchmark (CPU, about 30 minutes on 2 cores): pretrain the micro CLIP and write the
# MicroShapes dataset (both cached), then zero-shot CLIP and the four ablation rows (MMRL,
# + sample-specific, + variational, + class-aware prior) x SEEDS with the real base2new_train.sh /
# base2new_test.sh, and the table in OUTPUT/tables/micro_benchmark.{md,csv}.
# usage: bash scripts/vamp/micro_benchmark.sh [KEY VALUE ...]   (overrides go to every run)
# Environment: OUTPUT (default output/micro), SEEDS (default "1 2 3"), SHOTS (default 16),
#   ROWS (default: the four configs), VAMP_CACHE (cache folder), PYTHON.
OUTPUT="${OUTPUT:-output/micro}"
SHOTS="${SHOTS:-16}"
source "$(dirname "$0")/common.sh"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"   # one thread: far faster on a busy 2-core machine
SEEDS="${SEEDS:-1 2 3}"
ROWS="${ROWS:-micro_mmrl micro_sample_specific micro_variational micro_vamp}"
START=$SECONDS
timed() {  # timed LABEL CMD...: run CMD and log its wall time to OUTPUT/timings.txt
  local label="$1" t0=$SECONDS
  shift
  "$@"
  echo "$label: $((SECONDS - t0)) s" | tee -a "$OUTPUT/timings.txt"
}
mkdir -p "$OUTPUT"
PREP=$(timed "prepare (pretrain + dataset, cached)" "$PYTHON" -m vamp_prompt.micro prepare)
echo "$PREP"
CLIP=$(echo "$PREP" | sed -n 's/^CLIP=//p')
DATA=$(echo "$PREP" | sed -n 's/^DATA=//p')
export DATA
timed "zero-shot CLIP" "$PYTHON" -m vamp_prompt.micro zeroshot --clip "$CLIP" --data "$DATA" \
  --output "$OUTPUT" --seeds "$(echo $SEEDS | tr ' ' ',')" --shots "$SHOTS"
FAILED=()
for CFG in $ROWS; do
  for SEED in $SEEDS; do
    export CFG
    timed "$CFG seed $SEED train" bash scripts/vamp/base2new_train.sh micro_shapes "$SEED" \
      MODEL.BACKBONE.NAME "$CLIP" "$@" || { FAILED+=("$CFG/seed$SEED train"); continue; }
    timed "$CFG seed $SEED test" bash scripts/vamp/base2new_test.sh micro_shapes "$SEED" \
      MODEL.BACKBONE.NAME "$CLIP" "$@" || FAILED+=("$CFG/seed$SEED test")
  done
done
"$PYTHON" -m vamp_prompt.micro table "$OUTPUT" --shots "$SHOTS"
echo "micro benchmark total: $((SECONDS - START)) s" | tee -a "$OUTPUT/timings.txt"
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "Failed jobs: ${FAILED[*]}" >&2
  exit 1
fi
