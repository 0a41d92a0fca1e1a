#!/usr/bin/env bash
# Base-to-new, step 1: train VaMP on the base classes of DATASET.
# usage: bash scripts/vamp/base2new_train.sh DATASET SEED [KEY VALUE ...]
source "$(dirname "$0")/common.sh"
DATASET=${1:?usage: $0 DATASET SEED [KEY VALUE ...]}; SEED=${2:?usage: $0 DATASET SEED [KEY VALUE ...]}; shift 2
require_data; require_dataset_config "$DATASET"
reject_shot_override "$@"
CFG="$(base2new_cfg "$DATASET")"
DIR="$OUTPUT/base2new/train_base/$DATASET/shots_$SHOTS/$TRAINER/$CFG/seed$SEED"
skip_if_done "$DIR"
run_train_py "$DATASET" "$CFG" "$DIR" "$SEED" \
  DATASET.NUM_SHOTS "$SHOTS" DATASET.SUBSAMPLE_CLASSES base TASK B2N "$@"
