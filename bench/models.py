"""Model benchmarks: the zoo table (parameters, GFLOPs, times) and ``--compare`` side by side.

    python bench/models.py                          # all zoo models, 256×512, batch 1, CPU
    python bench/models.py --flops --no-time --docs     # rewrite the model tables of docs/models.md, README.md
    python bench/models.py --compare --threads 2 [--original-repo /tmp/openseg] [--mmseg /tmp/mmseg-venv]
    python bench/models.py --compare --variants inference_mode,channels_last,fused,bf16
    python bench/models.py --compare --quick --json out.json
    python bench/models.py --compare --threads 1 --clock cpu   # CPU time: steadier on a shared machine

``--compare`` times, per model and workload (forward 1×3×512×1024, forward+backward 2×3×256×512),
ocseg's own path against its plain eager float32 path and, when given, the original's network
(``--original-repo``: a checkout of openseg.pytorch, see ``openseg_nets.py``) and mmseg's
(``--mmseg``: see ``mmseg_nets.py``), in round-robin alternation, median of ``--repeats``; ratios
below 1 mean the first is faster. With the original, the original's random weights are loaded into
ocseg's network and the outputs are compared, so both compute the same function. ``model_sides.py``
says what each side runs.

The zoo table times the median of ``--repeats`` runs after one warm-up; GFLOPs are counted with
``torch.utils.flop_counter`` on the meta device (no compute), as 2 × multiply-adds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_sides import VARIANTS, fwd_bwd_fn, fwd_fn, ocseg_sides, outputs_of  # noqa: E402
from ocseg.models import available_models, build_model  # noqa: E402
from timing import CLOCKS, cpu_model, medians, ratio, round_robin  # noqa: E402

COMPARED = ("hrnet48_ocr", "r101_ocr", "segfix_hrnet2x20")
SIZES = {"fwd": (1, 512, 1024), "fwd_bwd": (2, 256, 512)}
QUICK_SIZES = {"fwd": (1, 128, 256), "fwd_bwd": (1, 128, 256)}


def device_name(device: torch.device) -> str:
    """``cpu-<model>-<n>cores`` or the GPU's name, for results file names."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device).replace(" ", "-")
    return f"cpu-{cpu_model().replace(' ', '-')}-{os.cpu_count()}cores"


# -- the zoo table --------------------------------------------------------------------------------
def gflops(name: str, height: int = 1024, width: int = 2048) -> float:
    with torch.device("meta"):
        net = build_model(name, 19).eval()
        x = torch.empty(1, 3, height, width)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(x)
    return counter.get_total_flops() / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device, repeats: int) -> float:
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def zoo_row(name: str, args, device: torch.device) -> dict:
    net = build_model(name, 19).to(device)
    row = {"model": name, "params": sum(p.numel() for p in net.parameters()) / 1e6}
    if args.time:
        x = torch.randn(args.batch, 3, *args.size, device=device)

        def forward():
            with torch.no_grad():
                net.eval()(x)

        def forward_backward():
            net.train()
            out = net(x)
            sum(v.float().mean() for v in out.values()).backward()
            net.zero_grad(set_to_none=True)

        row["fwd"] = timed(forward, device, args.repeats)
        row["fwd_bwd"] = timed(forward_backward, device, args.repeats)
    if args.flops:
        row["gflops"] = gflops(name)
    return row


def zoo_table(args, device: torch.device) -> dict:
    names = [n for n in args.models.split(",") if n] or available_models()
    print(f"device {device} ({torch.get_num_threads()} threads), input {args.batch}×3×{args.size[0]}×{args.size[1]}")
    print(f"{'model':20s} {'params(M)':>9s} {'GFLOPs':>8s} {'fwd(s)':>8s} {'fwd+bwd(s)':>10s}")
    rows = []
    for name in names:
        row = zoo_row(name, args, device)
        rows.append(row)
        def fmt(key, spec, row=row):
            return format(row[key], spec) if key in row else "-"

        print(f"{name:20s} {row['params']:9.2f} {fmt('gflops', '8.1f'):>8s} {fmt('fwd', '8.3f'):>8s} "
              f"{fmt('fwd_bwd', '10.3f'):>10s}", flush=True)
    if args.docs:
        from model_tables import ROOT, write_docs

        for path in write_docs(rows):
            print(f"rewrote the model table in {path.relative_to(ROOT)}")
    return {"zoo": rows}


# -- side by side -----------------------------------------------------------------------------------
def _max_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((u.float() - v.float()).abs().max()) for u, v in zip(a, b))


def compare_model(name: str, args) -> list[dict]:
    from openseg_nets import build_original, copy_weights_from_original, randomise_batchnorm

    segmentation = not name.startswith("segfix")
    torch.manual_seed(0)
    original = None
    if args.original_repo:
        original = build_original(name, args.original_repo)
        randomise_batchnorm(original)
    ours = build_model(name, 19)
    if original is not None:
        copy_weights_from_original(ours, original)
    else:
        randomise_batchnorm(ours)
    state = ours.state_dict()

    def make_copy():
        copy = build_model(name, 19)
        copy.load_state_dict(state)
        return copy

    mm = None
    if args.mmseg and segmentation:
        from mmseg_nets import build_mmseg, mmseg_forward
        mm = build_mmseg(name, args.mmseg)
    params = {"ocseg": sum(p.numel() for p in ours.parameters()) / 1e6}
    if original is not None:
        params["original"] = sum(p.numel() for p in original.parameters()) / 1e6
    if mm is not None:
        params["mmseg"] = sum(p.numel() for p in mm.parameters()) / 1e6
    sizes = {**(QUICK_SIZES if args.quick else SIZES),
             **{w: tuple(v) for w, v in (("fwd", args.fwd_input), ("fwd_bwd", args.fwd_bwd_input)) if v}}
    results = []
    for workload in args.workloads:
        n, h, w = sizes[workload]
        x = torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(1))
        variants = tuple(v for v in args.variants if v in VARIANTS[workload])
        sides, prep = ocseg_sides(ours, x, workload, segmentation, variants, make_copy)
        check = {}
        if original is not None:
            if workload == "fwd":
                original.eval()
                sides["original"] = fwd_fn(original, x, upsample=False)
                want = sides["original"]()
                keys = ["aux", "out"] if segmentation else ["mask", "direction"]
                ours.eval()
                with torch.no_grad():
                    got = outputs_of(ours(x), (h, w), segmentation, keys)
                check["plain_vs_original"] = _max_diff(got, want)
                check["ocseg_vs_original"] = _max_diff(sides["ocseg"](), want[-1:] if segmentation else want)
                check["original_max_abs"] = max(float(t.abs().max()) for t in want)
            else:
                original.train()
                sides["original"] = fwd_bwd_fn(original, x, upsample=False)
        if mm is not None:
            mm.train(workload == "fwd_bwd")
            if workload == "fwd":
                sides["mmseg"] = lambda x=x: _no_grad(lambda: mmseg_forward(mm, x, False))
            else:
                sides["mmseg"] = fwd_bwd_fn(mm, x, False, forward=lambda t: mmseg_forward(mm, t, True))
        order = [s for s in ("original", "mmseg", "plain", "ocseg") if s in sides] + list(variants)
        log = (lambda m, p=f"    {name} {workload}": print(f"{p} {m}", file=sys.stderr, flush=True)) \
            if args.verbose else None
        times = round_robin({s: sides[s] for s in order}, args.repeats, warmup=1, log=log,
                            clock=CLOCKS[args.clock])
        med = medians(times)
        if workload == "fwd_bwd":
            med["ocseg"] = med["plain"]  # the training step is the plain path
        base = "original" if "original" in med else "plain"
        row = {"model": name, "workload": workload, "input": [n, 3, h, w], "params_m": params,
               "seconds": med, "times": times, "prepare_seconds": prep, "check": check,
               "ratios": {f"{s}/{base}": ratio(med[s], med[base]) for s in med if s != base}}
        if "mmseg" in med:
            row["ratios"]["ocseg/mmseg"] = ratio(med["ocseg"], med["mmseg"])
        if base == "original":
            row["ratios"]["ocseg/plain"] = ratio(med["ocseg"], med["plain"])
            for v in variants:
                row["ratios"][f"{v}/plain"] = ratio(med[v], med["plain"])
        results.append(row)
        print_row(row)
    return results


def _no_grad(fn):
    with torch.no_grad():
        return fn()


def print_row(row: dict) -> None:
    n, c, h, w = row["input"]
    secs = "  ".join(f"{k} {v:.3f}s" for k, v in row["seconds"].items())
    rats = "  ".join(f"{k} {v:.2f}" for k, v in row["ratios"].items() if v is not None)
    print(f"{row['model']:17s} {row['workload']:7s} {n}×{c}×{h}×{w}  {secs}\n{'':26s}{rats}", flush=True)
    if row["check"]:
        print(f"{'':26s}max |Δ| vs original: plain {row['check']['plain_vs_original']:.2e}, "
              f"ocseg {row['check']['ocseg_vs_original']:.2e} (outputs up to "
              f"{row['check']['original_max_abs']:.2e})", flush=True)
    if row["prepare_seconds"]:
        print(f"{'':26s}" + "  ".join(f"{k}: {v:.0f} s to compile" for k, v in row["prepare_seconds"].items()))


def compare(args) -> dict:
    names = [n for n in args.models.split(",") if n] or (list(COMPARED[:1]) if args.quick else list(COMPARED))
    print(f"{device_name(torch.device('cpu'))}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"{args.clock} time, median of {args.repeats}, round-robin; ratios < 1: the first is faster",
          flush=True)
    rows = []
    for name in names:
        rows.extend(compare_model(name, args))
    return {"compare": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="", help="comma-separated names (default: every zoo model; "
                        f"--compare: {','.join(COMPARED)})")
    parser.add_argument("--size", type=int, nargs=2, default=(256, 512), metavar=("H", "W"))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=None, help="timed runs (default 2; --compare 5)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--flops", action="store_true", help="count GFLOPs at 1024×2048")
    parser.add_argument("--no-time", dest="time", action="store_false", help="skip the timings")
    parser.add_argument("--docs", action="store_true", help="rewrite the model tables of docs/models.md and "
                        "README.md (with --flops: all 12 models; see model_tables.py)")
    parser.add_argument("--compare", action="store_true", help="ocseg side by side with its plain path "
                        "(and the original / mmseg when given)")
    parser.add_argument("--original-repo", default=None, help="checkout of openseg.pytorch (pytorch-1.7)")
    parser.add_argument("--mmseg", default=None, help="venv or site-packages with mmsegmentation installed")
    parser.add_argument("--variants", default="", help="comma-separated: " + ",".join(VARIANTS["fwd"]))
    parser.add_argument("--workloads", default="fwd,fwd_bwd")
    parser.add_argument("--fwd-input", type=int, nargs=3, default=None, metavar=("N", "H", "W"),
                        help="forward input (default 1 512 1024)")
    parser.add_argument("--fwd-bwd-input", type=int, nargs=3, default=None, metavar=("N", "H", "W"),
                        help="forward+backward input (default 2 256 512)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="--compare's clock: wall time, or the process's CPU time (steadier on a "
                        "shared machine; with --threads 1, see timing.py)")
    parser.add_argument("--quick", action="store_true", help="small inputs, 3 repeats, hrnet48_ocr only")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--verbose", action="store_true", help="log every timed run to stderr")
    args = parser.parse_args()
    args.variants = [v for v in args.variants.split(",") if v]
    unknown = set(args.variants) - set(VARIANTS["fwd"])
    if unknown:
        parser.error(f"unknown --variants {sorted(unknown)}; use {','.join(VARIANTS['fwd'])}")
    args.workloads = [w for w in args.workloads.split(",") if w]
    if set(args.workloads) - set(SIZES):
        parser.error(f"--workloads must be from {','.join(SIZES)}")
    if args.repeats is None:
        args.repeats = (3 if args.quick else 5) if args.compare else 2
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    result = compare(args) if args.compare else zoo_table(args, device)
    if args.json:
        meta = {"device": device_name(device), "threads": torch.get_num_threads(),
                "torch": torch.__version__, "repeats": args.repeats, "quick": args.quick,
                "clock": args.clock}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({**meta, **result}, indent=1))


if __name__ == "__main__":
    main()
