"""Evaluation throughput: images/s and forward passes per image for each test mode.

    python bench/eval.py [--size 1024 2048] [--images 2] [--device cpu|cuda] [--amp] [model=<name> ...]
    python bench/eval.py --quick --json out.json     # 256×512, 1 image per mode, hrnet18_small_ocr

Builds the network of the eval config (``model=``/``dataset=`` overrides; random weights, no
data needed; BN folded, as ``eval.py`` runs it) and times ``test=ss`` (whole image),
``test=sliding`` and ``test=ms`` (7 scales + flip) on random images of ``--size`` (default
Cityscapes' 1024×2048). Prints a table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

CONF = Path(__file__).resolve().parents[1] / "conf"
MODES = ["ss", "sliding", "ms"]


class CountingNet(torch.nn.Module):
    """Counts forward passes (one per image of each batch)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net
        self.passes = 0

    def forward(self, x):
        self.passes += x.shape[0]
        return self.net(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=2, default=[1024, 2048], metavar=("H", "W"))
    parser.add_argument("--images", type=int, default=2, help="timed images per mode")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", action="store_true", help="float16 autocast on CUDA")
    parser.add_argument("--modes", nargs="+", default=MODES, choices=MODES)
    parser.add_argument("--quick", action="store_true", help="256×512, 1 image, model=hrnet18_small_ocr")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args, overrides = parser.parse_known_args()
    if args.quick:
        args.size, args.images = [256, 512], 1
        if not any(o.startswith("model=") for o in overrides):
            overrides.append("model=hrnet18_small_ocr")
    overrides = ["dataset=cityscapes", *overrides]
    device = torch.device(args.device)
    rows = []
    for mode in args.modes:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(config_name="eval", overrides=[*overrides, f"test={mode}"])
        torch.manual_seed(0)
        net = CountingNet(instantiate(cfg.net).eval().fuse_for_inference()).to(device).eval()  # as eval.py
        predictor = instantiate(cfg.test)
        image = torch.randn(3, *args.size, device=device)
        with torch.inference_mode(), torch.autocast(device.type, enabled=args.amp and device.type == "cuda"):
            predictor.predict(net, [image])  # warm-up (cuDNN autotune, allocator)
            net.passes = 0
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(args.images):
                predictor.predict(net, [image])
            if device.type == "cuda":
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - start
        rows.append((mode, repr(predictor), net.passes / args.images, elapsed / args.images))
        print(f"  {mode}: {elapsed / args.images:.3f} s/image", file=sys.stderr, flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"\nmodel={cfg.model.name}  input {args.size[0]}×{args.size[1]}  device: {name}"
          f"{'  amp fp16' if args.amp and device.type == 'cuda' else ''}  ({args.images} images per mode)")
    print(f"| {'mode':8} | {'passes/image':>12} | {'s/image':>8} | {'images/s':>8} | settings")
    print(f"|{'-' * 10}|{'-' * 14}|{'-' * 10}|{'-' * 10}|---------")
    for mode, desc, passes, seconds in rows:
        print(f"| {mode:8} | {passes:12.0f} | {seconds:8.3f} | {1 / seconds:8.3f} | {desc}")
    if args.json:
        import json

        Path(args.json).write_text(json.dumps({
            "model": str(cfg.model.name), "size": list(args.size), "device": name, "images": args.images,
            "modes": [{"mode": m, "settings": d, "passes_per_image": p, "seconds_per_image": s}
                      for m, d, p, s in rows]}, indent=1))


if __name__ == "__main__":
    main()
