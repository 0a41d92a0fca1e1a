#!/usr/bin/env bash
# Cross-dataset / domain generalisation, step 1: train on ImageNet (all classes, 16 shots).
# usage: bash scripts/vamp/xd_train.sh SEED [KEY VALUE ...]
source "$(dirname "$0")/common.sh"
SEED=${1:?usage: $0 SEED [KEY VALUE ...]}; shift 1
SOURCE="${SOURCE:-imagenet}"
reject_shot_override "$@"
require_data; require_dataset_config "$SOURCE"
CFG="${CFG:-vit_b16_cross_dataset}"
DIR="$OUTPUT/cross_dataset/train_source/$SOURCE/shots_$SHOTS/$TRAINER/$CFG/seed$SEED"
skip_if_done "$DIR"
run_train_py "$SOURCE" "$CFG" "$DIR" "$SEED" \
  DATASET.NUM_SHOTS "$SHOTS" DATASET.SUBSAMPLE_CLASSES all TASK XD "$@"
