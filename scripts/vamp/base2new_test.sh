#!/usr/bin/env bash
# Base-to-new, step 2: evaluate the model base2new_train.sh finished with on the new classes.
# usage: bash scripts/vamp/base2new_test.sh DATASET SEED [KEY VALUE ...]  (same overrides as training)
source "$(dirname "$0")/common.sh"
DATASET=${1:?usage: $0 DATASET SEED [KEY VALUE ...]}; SEED=${2:?usage: $0 DATASET SEED [KEY VALUE ...]}; shift 2
require_data; require_dataset_config "$DATASET"
reject_shot_override "$@"
CFG="$(base2new_cfg "$DATASET")"
TRAIN_DIR="$OUTPUT/base2new/train_base/$DATASET/shots_$SHOTS/$TRAINER/$CFG/seed$SEED"
DIR="$OUTPUT/base2new/test_new/$DATASET/shots_$SHOTS/$TRAINER/$CFG/seed$SEED"
skip_if_done "$DIR"
EPOCH=$(last_epoch "$TRAIN_DIR")
run_train_py "$DATASET" "$CFG" "$DIR" "$SEED" \
  --model-dir "$TRAIN_DIR" --load-epoch "$EPOCH" --eval-only \
  DATASET.NUM_SHOTS "$SHOTS" DATASET.SUBSAMPLE_CLASSES new TASK B2N "$@"
