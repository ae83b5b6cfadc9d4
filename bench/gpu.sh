#!/usr/bin/env bash
# The GPU benchmark of issue 12 in one go (≤ 10 minutes on an H100/H200-class GPU): training
# img/s and peak memory (hrnet48_ocr, r101_ocr, r101_isa; 2×512×1024; fp32 and bf16) and
# whole-image 1024×2048 inference fps (batch 1, 200 images after 5 warm-up; eager, and
# torch.compile for hrnet48_ocr). Prints the table; the JSON goes to bench/results/gpu-<name>.json.
#   bench/gpu.sh                          # extra arguments go to bench/gpu.py
#   PYTHON=.venv/bin/python bench/gpu.sh --models hrnet48_ocr
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
name=$("$PYTHON" -c "import torch; print(torch.cuda.get_device_name(0).replace(' ', '-') if torch.cuda.is_available() else 'none')")
if [ "$name" = none ]; then
    echo "error: no CUDA device; bench/gpu.py --device cpu --tiny checks the logic on a CPU" >&2
    exit 2
fi
# a run cut short still leaves the finished rows in the JSON (written after each measurement)
timeout 590 "$PYTHON" bench/gpu.py --json "bench/results/gpu-$name.json" "$@"
