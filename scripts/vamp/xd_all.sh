#!/usr/bin/env bash
# Cross-dataset (10 targets) and domain generalisation (4 ImageNet variants) for seeds 1-3,
# then the tables. usage: bash scripts/vamp/xd_all.sh [KEY VALUE ...]
source "$(dirname "$0")/common.sh"
TARGETS="${TARGETS:-caltech101 oxford_pets stanford_cars oxford_flowers food101 fgvc_aircraft sun397 dtd eurosat ucf101 imagenet_v2 imagenet_sketch imagenet_a imagenet_r}"
SEEDS="${SEEDS:-1 2 3}"
FAILED=()
for SEED in $SEEDS; do
  if ! bash scripts/vamp/xd_train.sh "$SEED" "$@"; then
    FAILED+=("train imagenet seed$SEED"); continue
  fi
  for DATASET in $TARGETS; do
    bash scripts/vamp/xd_test.sh "$DATASET" "$SEED" "$@" || FAILED+=("test $DATASET seed$SEED")
  done
done
finish_sweep ${FAILED[@]+"${FAILED[@]}"}
