#!/usr/bin/env bash
# Base-to-new over the 11 datasets x seeds 1-3 (finished jobs are skipped, interrupted ones resume),
# then the tables. usage: bash scripts/vamp/base2new_all.sh [SWEEP OPTIONS] [KEY VALUE ...]
# Environment: DATASETS="dtd eurosat" and SEEDS="1 2 3" narrow the loop; CFG picks an ablation row.
# On Slurm: bash scripts/vamp/base2new_all.sh --launcher slurm --partition gpu  (README, "Sweeps on
# Slurm"; python -m vamp_prompt.sweep base2new --help lists the options).
source "$(dirname "$0")/common.sh"
run_sweep base2new "$@"
