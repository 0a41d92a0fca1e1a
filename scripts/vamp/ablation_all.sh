#!/usr/bin/env bash
# The paper's ablation: the four rows (MMRL, + sample-specific, + variational, + class-aware prior)
# in base-to-new over the 11 datasets x seeds 1-3.
# usage: bash scripts/vamp/ablation_all.sh [SWEEP OPTIONS] [KEY VALUE ...]
# Environment: DATASETS and SEEDS narrow the loop. On Slurm: add --launcher slurm and its options
# (python -m vamp_prompt.sweep ablation --help).
source "$(dirname "$0")/common.sh"
run_sweep ablation "$@"
