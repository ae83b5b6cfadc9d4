"""GPU benchmark: training images/s and peak memory, whole-image inference fps (``bench/gpu.sh``).

    python bench/gpu.py --json bench/results/gpu.json          # on a CUDA machine
    python bench/gpu.py --device cpu --tiny --json /tmp/g.json # the same logic on tiny sizes, CPU

Training: ``--batch`` (2) images of ``--crop`` (512×1024) per step, forward + the model's CE loss
(main + 0.4·aux, as ``conf/loss/ce.yaml``) + backward + SGD step, in float32 and under bf16
autocast; images/s over ``--steps`` timed steps after ``--warmup``; peak memory is
``torch.cuda.max_memory_allocated`` over those steps. Inference follows mmseg's protocol: whole
1024×2048 images, batch 1, ``--images`` (200) timed after 5 warm-up, data loading excluded — here
the network ``eval.py`` runs (``fuse_for_inference``, ``torch.inference_mode``, logits upsampled to
the input), eager and under ``torch.compile`` (compile time reported apart). Results are written
to ``--json`` after every measurement, so a run cut short keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from ocseg.data.resize import upsample_to
from ocseg.losses import CrossEntropy
from ocseg.models import build_model

MODELS = ("hrnet48_ocr", "r101_ocr", "r101_isa")
TINY = {"models": ("tiny_fcn", "hrnet18_small_ocr"), "crop": (64, 128), "size": (128, 256),
        "steps": 2, "warmup": 1, "images": 3, "image_warmup": 1}
GOALS = {"hrnet48_ocr": {"train_img_s_bf16": 60.0, "infer_fps_bf16": 30.0}}
# mmseg's published V100 figures (configs/ocrnet/README.md, configs/isanet/README.md, 512×1024,
# 2 images per GPU): training memory (GB) and whole-image inference fps
MMSEG_V100 = {"hrnet48_ocr": (8.0, 4.22), "r101_ocr": (8.8, 3.02), "r101_isa": (9.425, 2.35)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _autocast(device: torch.device, dtype: str):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16")


def train_speed(name: str, dtype: str, args, device: torch.device) -> dict:
    torch.manual_seed(0)
    net = build_model(name, 19).to(device).train()
    loss_fn = CrossEntropy(seg_weight=1.0, aux_weight=0.4, class_weights=None, ignore_index=255)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(args.batch, 3, *args.crop, device=device)
    label = torch.randint(0, 19, (args.batch, *args.crop), device=device)

    def step():
        with _autocast(device, dtype):
            loss = loss_fn(net(x), label)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    _sync(device)
    seconds = time.perf_counter() - start
    row = {"model": name, "dtype": dtype, "batch": args.batch, "crop": list(args.crop),
           "steps": args.steps, "img_s": args.batch * args.steps / seconds}
    if device.type == "cuda":
        row["peak_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
    return row


def infer_speed(name: str, dtype: str, compiled: bool, args, device: torch.device) -> dict:
    torch.manual_seed(0)
    net = build_model(name, 19).eval().fuse_for_inference().to(device)
    size = tuple(args.size)
    forward = torch.compile(net) if compiled else net
    x = torch.randn(1, 3, *size, device=device)

    def predict():
        with torch.inference_mode(), _autocast(device, dtype):
            return upsample_to(forward(x)["out"].float(), size).argmax(1)

    start = time.perf_counter()
    predict()  # the first call compiles
    _sync(device)
    first = time.perf_counter() - start
    for _ in range(args.image_warmup):
        predict()
    _sync(device)
    start = time.perf_counter()
    for _ in range(args.images):
        predict()
    _sync(device)
    seconds = time.perf_counter() - start
    row = {"model": name, "dtype": dtype, "compile": compiled, "size": list(size), "images": args.images,
           "fps": args.images / seconds}
    if compiled:
        row["compile_s"] = first
    return row


def table(result: dict) -> str:
    lines = [f"{result['device']}, torch {result['torch']}",
             "| model | dtype | train img/s (2/GPU) | peak GB | infer fps | fps compiled | mmseg V100 GB / fps |",
             "|---|---|---:|---:|---:|---:|---|"]
    for name in result["models"]:
        for dtype in result["dtypes"]:
            tr = next((r for r in result["train"] if r["model"] == name and r["dtype"] == dtype), {})
            inf = {r["compile"]: r for r in result["infer"] if r["model"] == name and r["dtype"] == dtype}
            fmt = lambda r, k, spec: format(r[k], spec) if k in r else "—"  # noqa: E731
            ref = MMSEG_V100.get(name)
            lines.append(f"| {name} | {dtype} | {fmt(tr, 'img_s', '.1f')} | {fmt(tr, 'peak_gb', '.2f')} | "
                         f"{fmt(inf.get(False, {}), 'fps', '.2f')} | {fmt(inf.get(True, {}), 'fps', '.2f')} | "
                         f"{f'{ref[0]} / {ref[1]}' if ref else '—'} |")
    for name, goals in GOALS.items():
        tr = next((r for r in result["train"] if r["model"] == name and r["dtype"] == "bf16"), None)
        fps = max((r["fps"] for r in result["infer"] if r["model"] == name and r["dtype"] == "bf16"), default=None)
        if tr is not None:
            lines.append(f"goal {name} bf16 training ≥ {goals['train_img_s_bf16']:.0f} img/s: {tr['img_s']:.1f} "
                         f"({'met' if tr['img_s'] >= goals['train_img_s_bf16'] else 'not met'})")
        if fps is not None:
            lines.append(f"goal {name} bf16 inference ≥ {goals['infer_fps_bf16']:.0f} fps: {fps:.1f} "
                         f"({'met' if fps >= goals['infer_fps_bf16'] else 'not met'})")
    return "\n".join(lines)


def _write(path: str | None, result: dict) -> None:
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(result, indent=1))
        os.replace(tmp, target)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--dtypes", default="fp32,bf16")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--crop", type=int, nargs=2, default=(512, 1024), metavar=("H", "W"))
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed training steps first")
    parser.add_argument("--size", type=int, nargs=2, default=(1024, 2048), metavar=("H", "W"))
    parser.add_argument("--images", type=int, default=200, help="timed inference images")
    parser.add_argument("--image-warmup", type=int, default=5)
    parser.add_argument("--compile-models", default="hrnet48_ocr",
                        help="models also timed under torch.compile (inference); '' for none")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="tiny models and sizes: checks the logic on CPU")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.tiny:  # tiny defaults; explicit options still win
        parser.set_defaults(**{**TINY, "models": ",".join(TINY["models"])})
        args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("error: no CUDA device here; pass --device cpu --tiny to check the logic")
        torch.backends.cudnn.benchmark = True
        name = torch.cuda.get_device_name(device)
    else:
        name = f"CPU ({torch.get_num_threads()} threads)"
    models = [m for m in args.models.split(",") if m]
    dtypes = [d for d in args.dtypes.split(",") if d]
    if set(dtypes) - {"fp32", "bf16"}:
        parser.error("--dtypes takes fp32 and/or bf16")
    compile_models = {m for m in args.compile_models.split(",") if m}
    result = {"device": name, "torch": torch.__version__, "models": models, "dtypes": dtypes,
              "train": [], "infer": []}
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    for model in models:
        for dtype in dtypes:
            if not args.skip_train:
                result["train"].append(train_speed(model, dtype, args, device))
                log(f"train {model} {dtype}: {result['train'][-1]}")
                _write(args.json, result)
            for compiled in (False, True) if model in compile_models else (False,):
                result["infer"].append(infer_speed(model, dtype, compiled, args, device))
                log(f"infer {model} {dtype} compile={compiled}: {result['infer'][-1]}")
                _write(args.json, result)
            if device.type == "cuda":
                torch.cuda.empty_cache()
    print(table(result), flush=True)
    return result


if __name__ == "__main__":
    main()
