#!/usr/bin/env bash
# The paper's ablation: the four rows (MMRL, + sample-specific, + variational, + class-aware prior)
# in base-to-new over the 11 datasets x seeds 1-3. usage: bash scripts/vamp/ablation_all.sh [KEY VALUE ...]
source "$(dirname "$0")/common.sh"
STATUS=0
for ROW in vit_b16_base2new_ablation_mmrl vit_b16_base2new_ablation_sample_specific \
           vit_b16_base2new_ablation_variational vit_b16_base2new; do
  CFG="$ROW" bash scripts/vamp/base2new_all.sh "$@" || STATUS=1
done
exit $STATUS
