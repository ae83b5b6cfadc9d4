#!/usr/bin/env bash
# The whole SegFix chain on the embedded synthetic dataset, on a CPU:
#   1. train the default segmentation model      (python train.py)
#   2. predict its val labels and score them      (python eval.py)
#   3. train SegFix                               (python train.py experiment=segfix_synthetic)
#   4. predict SegFix offsets for val             (python predict_offsets.py)
#   5. refine the labels, scores before / after   (python refine.py ... split=val)
#   6. the same in one go                         (python eval.py ... segfix.offsets=)
# and ends by printing the SegFix page (report.html: per-class change, fixed/broken pixels, crops).
# Usage: scripts/segfix_demo.sh [work dir (default logs/segfix_demo)] [extra args for step 1 ...]
# e.g.   scripts/segfix_demo.sh logs/segfix_demo schedule.max_steps=80 schedule.val_every=40
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
W=${1:-logs/segfix_demo}
shift || true
COMMON=(paths.data_dir="$W/data" trainer.enable_progress_bar=false '~callbacks.progress_bar')
step() { echo; echo "== $*"; date +%T; }

step "1. segmentation model"
$PY train.py "${COMMON[@]}" hydra.run.dir="$W/seg" "$@"

step "2. its val predictions (label PNGs in $W/eval/label, scores in $W/eval/metrics.json)"
$PY eval.py paths.data_dir="$W/data" ckpt_path="$W/seg/checkpoints/last.ckpt" \
    output_dir="$W/eval" hydra.run.dir="$W/eval" trainer.enable_progress_bar=false

step "3. SegFix"
$PY train.py experiment=segfix_synthetic "${COMMON[@]}" hydra.run.dir="$W/segfix"

step "4. SegFix offsets for val ($W/offsets/<image>.npz)"
$PY predict_offsets.py paths.data_dir="$W/data" split=val \
    ckpt_path="$W/segfix/checkpoints/last.ckpt" output_dir="$W/offsets" format=npz \
    hydra.run.dir="$W/offsets"

step "5. refinement, before / after ($W/refine/metrics.json)"
$PY refine.py paths.data_dir="$W/data" input="$W/eval/label" offsets="$W/offsets" \
    output="$W/refined" split=val hydra.run.dir="$W/refine"

step "6. chained: eval.py segfix.offsets= ($W/eval_segfix/metrics.json)"
$PY eval.py paths.data_dir="$W/data" ckpt_path="$W/seg/checkpoints/last.ckpt" \
    segfix.offsets="$W/offsets" output_dir="$W/eval_segfix" hydra.run.dir="$W/eval_segfix" \
    trainer.enable_progress_bar=false
date +%T
echo "SegFix report (refine.py): $W/refine/report.html (chained eval.py: $W/eval_segfix/report.html)"
