#!/usr/bin/env bash
# The GPU benchmark of issue 12 in one go (≤ 10 minutes on an H100/H200-class GPU): training
# img/s and peak memory (hrnet48_ocr, r101_ocr, r101_isa; 2×512×1024; fp32 and bf16) and
# whole-image 1024×2048 inference fps (batch 1, 200 images after 5 warm-up; eager, and
# torch.compile for hrnet48_ocr). Prints the table; the JSON goes to bench/results/gpu-<name>.json.
# Then (issue 19) torch against ONNX Runtime's CUDA and TensorRT providers on the exported files
# (bench/runtimes.py --device cuda; needs onnxruntime-gpu in place of onnxruntime, and tensorrt-cu12
# for the TensorRT provider; not measured yet): bench/results/gpu-runtimes-<name>.json.
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
if "$PYTHON" -c "import onnxruntime as o, sys; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())" 2>/dev/null; then
    timeout 590 "$PYTHON" bench/runtimes.py --device cuda --size 1024 2048 --repeats 20 \
        --json "bench/results/gpu-runtimes-$name.json"
else
    echo "skipped the ONNX Runtime providers: pip uninstall -y onnxruntime && pip install onnxruntime-gpu==1.31.1 tensorrt-cu12==11.4.0.106" >&2
fi
