#!/usr/bin/env bash
# Base-to-new over the 11 datasets x seeds 1-3 (finished jobs are skipped, interrupted ones resume),
# then the tables. usage: bash scripts/vamp/base2new_all.sh [KEY VALUE ...]
# Environment: DATASETS="dtd eurosat" and SEEDS="1 2 3" narrow the loop; CFG picks an ablation row.
source "$(dirname "$0")/common.sh"
DATASETS="${DATASETS:-imagenet caltech101 oxford_pets stanford_cars oxford_flowers food101 fgvc_aircraft sun397 dtd eurosat ucf101}"
SEEDS="${SEEDS:-1 2 3}"
FAILED=()
for DATASET in $DATASETS; do
  for SEED in $SEEDS; do
    if bash scripts/vamp/base2new_train.sh "$DATASET" "$SEED" "$@"; then
      bash scripts/vamp/base2new_test.sh "$DATASET" "$SEED" "$@" || FAILED+=("test $DATASET seed$SEED")
    else
      FAILED+=("train $DATASET seed$SEED")
    fi
  done
done
finish_sweep ${FAILED[@]+"${FAILED[@]}"}
