#!/usr/bin/env bash
# Tuning for the micro benchmark on its VALIDATION split only (never the test split): each
# setting trains one row on the base classes and evaluates base and new validation images.
# usage: bash scripts/vamp/micro_tune.sh NAME CFG SEED [KEY VALUE ...]
#   e.g. bash scripts/vamp/micro_tune.sh ls0.3 micro_vamp 1 TRAINER.VAMP.LATENT_SCALE 0.3
# Writes OUTPUT/<NAME>/base2new/... (OUTPUT default output/micro_tune) and appends the
# validation numbers to OUTPUT/tuning.md (python -m vamp_prompt.micro tuning OUTPUT).
OUTPUT="${OUTPUT:-output/micro_tune}"
SHOTS="${SHOTS:-16}"
source "$(dirname "$0")/common.sh"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
NAME=${1:?usage: $0 NAME CFG SEED [KEY VALUE ...]}; CFG_NAME=${2:?}; SEED=${3:?}; shift 3
if [ -z "${CLIP:-}" ]; then   # CLIP=/path/to/weights to tune on another micro CLIP
  CLIP=$("$PYTHON" -m vamp_prompt.micro pretrain)
fi
DATA=$("$PYTHON" -m vamp_prompt.micro dataset)
ROOT="$OUTPUT"
export DATA OUTPUT="$ROOT/$NAME" CFG="$CFG_NAME"
T0=$SECONDS
bash scripts/vamp/base2new_train.sh micro_shapes "$SEED" MODEL.BACKBONE.NAME "$CLIP" TEST.SPLIT val "$@"
bash scripts/vamp/base2new_test.sh micro_shapes "$SEED" MODEL.BACKBONE.NAME "$CLIP" TEST.SPLIT val "$@"
echo "$NAME: $((SECONDS - T0)) s ($CFG_NAME seed $SEED: $*)" >> "$ROOT/timings.txt"
echo "$CFG_NAME seed $SEED $*" > "$OUTPUT/settings.txt"
"$PYTHON" -m vamp_prompt.micro tuning "$ROOT"
