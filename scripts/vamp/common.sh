# Shared by the VaMP scripts (sourced, not run). Environment:
#   DATA    folder holding the datasets (required)
#   OUTPUT  output root (default: output)
#   SHOTS   shots per class (default: 16)
#   CFG     trainer config name under configs/trainers/VaMP (default per protocol)
#   PYTHON  python executable (default: python)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Relative DATA / OUTPUT paths are taken from where the script was called, then we cd to the repo.
CALLER_DIR="$PWD"
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$CALLER_DIR/$1" ;; esac; }
if [ -n "${DATA:-}" ]; then DATA="$(absolute "$DATA")"; fi
OUTPUT="$(absolute "${OUTPUT:-output}")"
case "${PYTHON:-python}" in */*) PYTHON="$(absolute "$PYTHON")" ;; esac
cd "$REPO"
TRAINER=VaMP
SHOTS="${SHOTS:-16}"
PYTHON="${PYTHON:-python}"
export DATA OUTPUT SHOTS PYTHON   # the loops call the other scripts, which must see the same values

require_data() {
  if [ -z "${DATA:-}" ]; then
    echo "ERROR: set DATA to the folder holding the datasets, e.g. DATA=/data bash $0 ..." >&2
    exit 2
  fi
}

require_dataset_config() {
  if [ ! -f "configs/datasets/$1.yaml" ]; then
    echo "ERROR: unknown dataset '$1' (no configs/datasets/$1.yaml). Choose one of:" \
      "$(ls configs/datasets | sed 's/\.yaml$//' | tr '\n' ' ')" >&2
    exit 2
  fi
}

# reject_shot_override ARGS...: the shot count names the output folder, so it comes from SHOTS.
reject_shot_override() {
  for arg in "$@"; do
    if [ "$arg" = DATASET.NUM_SHOTS ]; then
      echo "ERROR: set the number of shots with SHOTS=K (it names the output folder), not with" \
        "a DATASET.NUM_SHOTS override." >&2
      exit 2
    fi
  done
}

# base2new_cfg DATASET: the trainer config; ImageNet uses <cfg>_imagenet when that file exists.
base2new_cfg() {
  local cfg="${CFG:-vit_b16_base2new}"
  if [ "$1" = imagenet ] && [ -f "configs/trainers/$TRAINER/${cfg}_imagenet.yaml" ]; then
    cfg="${cfg}_imagenet"
  fi
  echo "$cfg"
}

# run_train_py DATASET CFG OUTPUT_DIR SEED [ARGS ...]: train.py with the family's flags.
run_train_py() {
  local dataset="$1" cfg="$2" dir="$3" seed="$4"
  shift 4
  "$PYTHON" train.py --root "$DATA" --seed "$seed" --trainer "$TRAINER" \
    --dataset-config-file "configs/datasets/$dataset.yaml" \
    --config-file "configs/trainers/$TRAINER/$cfg.yaml" --output-dir "$dir" "$@"
}

# run_sweep PROTOCOL [SWEEP OPTIONS] [KEY VALUE ...]: the loops' one entry point, python -m
# vamp_prompt.sweep, with their environment (DATASETS or TARGETS, SEEDS, CFG, SOURCE) as options.
# It runs the single-job scripts (locally one after another, or on Slurm with --launcher slurm),
# then writes the tables and lists the failed jobs (exit 1 if any).
run_sweep() {
  local protocol="$1" targets
  shift
  local args=(--data "${DATA:-}" --output "$OUTPUT" --shots "$SHOTS" --python "$PYTHON" --repo "$REPO")
  if [ "$protocol" = xd ]; then targets="${TARGETS:-}"; else targets="${DATASETS:-}"; fi
  if [ -n "$targets" ]; then args+=(--datasets "$targets"); fi
  if [ -n "${SEEDS:-}" ]; then args+=(--seeds "$SEEDS"); fi
  if [ -n "${CFG:-}" ] && [ "$protocol" != ablation ]; then args+=(--cfg "$CFG"); fi
  if [ -n "${SOURCE:-}" ]; then args+=(--source "$SOURCE"); fi
  "$PYTHON" -m vamp_prompt.sweep "$protocol" "${args[@]}" "$@"
}

# skip_if_done DIR: a job whose DONE marker exists is finished; never redo or overwrite it.
skip_if_done() {
  if [ -f "$1/DONE" ]; then
    echo "Skip: $1 is finished (remove $1/DONE to run it again)."
    exit 0
  fi
}

# last_epoch TRAIN_DIR: the epoch of the newest final checkpoint the training run wrote.
last_epoch() {
  local ckpt
  ckpt=$(ls "$1/prompt_learner" 2>/dev/null | sed -n 's/^model\.pth\.tar-\([0-9][0-9]*\)$/\1/p' | sort -n | tail -1)
  if [ ! -f "$1/DONE" ] || [ -z "$ckpt" ]; then
    echo "ERROR: no finished training run in $1 (no DONE marker or no model.pth.tar-<epoch>)." \
      "Fix: run the matching train script first, with the same dataset, seed and overrides." >&2
    exit 2
  fi
  echo "$ckpt"
}
