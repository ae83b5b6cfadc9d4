"""Time and peak memory of every loss (forward + backward) at Cityscapes training size.

    python bench/losses.py [--device cpu|cuda] [--batch 2] [--height 512] [--width 1024]
                           [--stride 4] [--repeats 3] [--amp] [--quick] [--json out.json]

``--quick``: one 256×512 label map, 2 repeats. ``--json``: the rows and RMI's overhead over CE.

Segmentation losses get ``{"out", "aux"}`` logits of N×19×(H/stride)×(W/stride) (HRNet-OCR's
stride 4) and N×H×W labels, so the bilinear upsampling the losses do is part of the cost; SegFix
gets 2 mask + 8 direction channels at the same stride. Each loss runs in a fresh process so the
CPU peak (max RSS growth over the process baseline after the inputs exist) is its own; on CUDA the
peak is ``torch.cuda.max_memory_allocated`` above the inputs.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

LOSSES = {
    "ce": ("CrossEntropy", {}),
    "ohem": ("OhemCrossEntropy", {"ohem_thresh": 0.9, "min_kept": 100000}),
    "rmi": ("RMILoss", {}),
    "segfix": ("SegFixLoss", {}),
}
CITYSCAPES_WEIGHTS = [0.8373, 0.918, 0.866, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023,
                      0.9539, 0.9843, 1.1116, 0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507]


def make_inputs(name: str, args, torch):
    g = torch.Generator().manual_seed(0)
    n, h, w, s = args.batch, args.height, args.width, args.stride
    # blocky labels at 1/16 resolution, like real segmentations, with ~5% ignore
    label = torch.randint(0, 19, (n, h // 16, w // 16), generator=g)
    label = label.repeat_interleave(16, 1).repeat_interleave(16, 2)
    label[torch.rand(label.shape, generator=g) < 0.05] = 255
    low = lambda c: torch.randn(n, c, h // s, w // s, generator=g)  # noqa: E731
    if name == "segfix":
        outputs = {"mask": low(2), "direction": low(8)}
        target = {"label": label, "distance": torch.randint(0, 30, (n, h, w), generator=g).float(),
                  "angle": torch.rand(n, h, w, generator=g) * 360 - 180}
    else:
        outputs, target = {"out": low(19), "aux": low(19)}, label
    to = lambda t: t.to(args.device)  # noqa: E731
    outputs = {k: to(v).requires_grad_(True) for k, v in outputs.items()}
    target = {k: to(v) for k, v in target.items()} if isinstance(target, dict) else to(target)
    return outputs, target


def measure(name: str, args, queue) -> None:
    import torch

    import ocseg.losses as losses

    torch.set_num_threads(args.threads) if args.threads else None
    cls, kwargs = LOSSES[name]
    if name in ("ce", "ohem"):
        kwargs = {**kwargs, "class_weights": CITYSCAPES_WEIGHTS}
    loss = getattr(losses, cls)(**kwargs).to(args.device)
    outputs, target = make_inputs(name, args, torch)
    cuda = args.device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def step():
        for t in outputs.values():
            t.grad = None
        with torch.autocast(torch.device(args.device).type, dtype=torch.bfloat16, enabled=args.amp):
            value = loss(outputs, target)
        value.backward()
        return value

    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    step()  # warm-up (also the peak-memory run)
    sync()
    peak = (torch.cuda.max_memory_allocated() if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) - base
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        value = step()
        sync()
        times.append(time.perf_counter() - start)
    queue.put((name, min(times), sorted(times)[len(times) // 2], peak, float(value.detach())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--stride", type=int, default=4, help="logit stride relative to the labels")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--amp", action="store_true", help="run under bf16 autocast")
    parser.add_argument("--losses", nargs="+", default=list(LOSSES), choices=list(LOSSES))
    parser.add_argument("--quick", action="store_true", help="batch 1 of 256×512, 2 repeats")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.height, args.width, args.repeats = 1, 256, 512, 2
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    ctx = mp.get_context("spawn")
    rows = []
    for name in args.losses:
        queue = ctx.Queue()
        proc = ctx.Process(target=measure, args=(name, args, queue))
        proc.start()
        rows.append(queue.get())
        proc.join()
    print(f"device {args.device}, labels {args.batch}×{args.height}×{args.width}, logits 19 classes at "
          f"stride {args.stride}, forward+backward, {'bf16 autocast' if args.amp else 'float32'}")
    print(f"{'loss':8} {'best ms':>9} {'median ms':>10} {'peak MiB':>9} {'value':>9}")
    for name, best, median, peak, value in rows:
        print(f"{name:8} {best * 1e3:9.1f} {median * 1e3:10.1f} {peak / 2**20:9.0f} {value:9.4f}")
    by_name = {r[0]: r for r in rows}
    ratio = None
    if "ce" in by_name and "rmi" in by_name:
        ratio = by_name["rmi"][1] / by_name["ce"][1]
        print(f"RMI costs {ratio:.1f}× the time of CE (best of {args.repeats}).")
    if args.json:
        import json
        from pathlib import Path

        Path(args.json).write_text(json.dumps({
            "device": args.device, "labels": [args.batch, args.height, args.width], "amp": args.amp,
            "repeats": args.repeats, "rmi_over_ce": ratio,
            "losses": [{"loss": n, "best_ms": b * 1e3, "median_ms": m * 1e3, "peak_mib": p / 2**20, "value": v}
                       for n, b, m, p, v in rows]}, indent=1))


if __name__ == "__main__":
    main()
