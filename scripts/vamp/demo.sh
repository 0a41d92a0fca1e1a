#!/usr/bin/env bash
# CPU demo (a few minutes): synthetic DTD-layout data + a tiny random CLIP, then the real
# base-to-new train and test scripts, the results table and the uncertainty plots.
# Accuracies on random weights mean nothing: this shows the pipeline, not VaMP's accuracy.
# usage: bash scripts/vamp/demo.sh [WORKDIR]   (default: output/demo)
source "$(dirname "$0")/common.sh"
WORK="${1:-output/demo}"
WORK="$(absolute "$WORK")"
"$PYTHON" -m vamp_prompt.demo "$WORK"   # writes $WORK/data and $WORK/tiny_clip.pt
export DATA="$WORK/data" OUTPUT="$WORK/output"
CLIP="$WORK/tiny_clip.pt"
OVERRIDES=(MODEL.BACKBONE.NAME "$CLIP" INPUT.SIZE "(64,64)" OPTIM.MAX_EPOCH 2
           DATALOADER.NUM_WORKERS 0 DATALOADER.TEST.BATCH_SIZE 50 TRAIN.PRINT_FREQ 10
           TRAINER.VAMP.SAVE_PER_IMAGE True TRAINER.VAMP.UNCERTAINTY_ANALYSIS True)
bash scripts/vamp/base2new_train.sh dtd 1 "${OVERRIDES[@]}"
bash scripts/vamp/base2new_test.sh dtd 1 "${OVERRIDES[@]}"
"$PYTHON" -m vamp_prompt.results "$OUTPUT"
for RUN in "$OUTPUT"/base2new/*/dtd/shots_"$SHOTS"/VaMP/"$(base2new_cfg dtd)"/seed1; do
  "$PYTHON" -m vamp_prompt.plots "$RUN"
done
echo "Demo finished: tables in $OUTPUT/tables, plots in each run's uncertainty/ folder."
