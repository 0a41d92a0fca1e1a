#!/usr/bin/env bash
# Cross-dataset / domain generalisation, step 2: evaluate the ImageNet model on a target dataset
# (one of the other 10 datasets, or imagenet_v2 / imagenet_sketch / imagenet_a / imagenet_r).
# usage: bash scripts/vamp/xd_test.sh DATASET SEED [KEY VALUE ...]
source "$(dirname "$0")/common.sh"
DATASET=${1:?usage: $0 DATASET SEED [KEY VALUE ...]}; SEED=${2:?usage: $0 DATASET SEED [KEY VALUE ...]}; shift 2
SOURCE="${SOURCE:-imagenet}"
reject_shot_override "$@"
require_data; require_dataset_config "$DATASET"
CFG="${CFG:-vit_b16_cross_dataset}"
TRAIN_DIR="$OUTPUT/cross_dataset/train_source/$SOURCE/shots_$SHOTS/$TRAINER/$CFG/seed$SEED"
DIR="$OUTPUT/cross_dataset/test_target/$DATASET/shots_$SHOTS/$TRAINER/$CFG/seed$SEED"
case "$DATASET" in imagenet_v2|imagenet_sketch|imagenet_a|imagenet_r) TASK=DG ;; *) TASK=XD ;; esac
skip_if_done "$DIR"
EPOCH=$(last_epoch "$TRAIN_DIR")
run_train_py "$DATASET" "$CFG" "$DIR" "$SEED" \
  --model-dir "$TRAIN_DIR" --load-epoch "$EPOCH" --eval-only \
  DATASET.SUBSAMPLE_CLASSES all TASK "$TASK" "$@"
