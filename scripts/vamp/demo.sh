#!/usr/bin/env bash
# CPU demo: the micro CLIP (pretrained here once, about 10 minutes on 2 cores, then cached) on the
# MicroShapes benchmark: zero-shot CLIP, then full VaMP trained on the base classes with the real
# base2new_train.sh / base2new_test.sh, the table (zero-shot vs trained, base and new) and the
# uncertainty plots. The numbers are real learning on a toy world; they say nothing about
# accuracy on real images (README, "Micro benchmark").
# usage: bash scripts/vamp/demo.sh [WORKDIR]   (default: output/demo)
SHOTS="${SHOTS:-16}"
source "$(dirname "$0")/common.sh"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
WORK="${1:-output/demo}"
WORK="$(absolute "$WORK")"
echo "Preparing the micro CLIP and the MicroShapes dataset (cached after the first run) ..."
PREP=$("$PYTHON" -m vamp_prompt.micro prepare)
CLIP=$(echo "$PREP" | sed -n 's/^CLIP=//p')
export DATA=$(echo "$PREP" | sed -n 's/^DATA=//p') OUTPUT="$WORK/output" CFG=micro_vamp
"$PYTHON" -m vamp_prompt.micro zeroshot --clip "$CLIP" --data "$DATA" --output "$OUTPUT" \
  --seeds 1 --shots "$SHOTS"
OVERRIDES=(MODEL.BACKBONE.NAME "$CLIP" TRAINER.VAMP.SAVE_PER_IMAGE True
           TRAINER.VAMP.UNCERTAINTY_ANALYSIS True)
bash scripts/vamp/base2new_train.sh micro_shapes 1 "${OVERRIDES[@]}"
bash scripts/vamp/base2new_test.sh micro_shapes 1 "${OVERRIDES[@]}"
"$PYTHON" -m vamp_prompt.micro table "$OUTPUT" --shots "$SHOTS"
for RUN in "$OUTPUT"/base2new/*/micro_shapes/shots_"$SHOTS"/VaMP/micro_vamp/seed1; do
  "$PYTHON" -m vamp_prompt.plots "$RUN"
done
echo "Demo finished: $OUTPUT/tables/micro_benchmark.md (zero-shot vs trained), plots in each" \
  "run's uncertainty/ folder."
