#!/usr/bin/env bash
# Cross-dataset (10 targets) and domain generalisation (4 ImageNet variants) for seeds 1-3,
# then the tables. usage: bash scripts/vamp/xd_all.sh [SWEEP OPTIONS] [KEY VALUE ...]
# Environment: TARGETS and SEEDS narrow the loop; CFG, SOURCE as in xd_train.sh / xd_test.sh.
# On Slurm: add --launcher slurm and its options (python -m vamp_prompt.sweep xd --help).
source "$(dirname "$0")/common.sh"
run_sweep xd "$@"
