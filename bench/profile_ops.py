"""Op by op, ocseg's plain path against the original's network: which ATen ops each side calls
(and with which input shapes), and how long each op takes (``torch.profiler``, self time).

    python bench/profile_ops.py --original-repo /tmp/openseg --model r101_ocr --workload fwd_bwd

Both sides are built and given the same weights as in ``models.py --compare`` (``openseg_nets.py``
names the original's files and lines) and run the same workload (``model_sides.py``) in one
process, alternating, ``--repeats`` profiled runs each after one warm-up. Prints the convolution
calls whose (op, input shapes) counts differ between the sides (none: both do the same
convolution work), the ops whose call counts differ, and the ops whose median self time differs
most. Profiled times are wall-clock and noisy on a shared machine; the counts are exact.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_sides import fwd_bwd_fn, fwd_fn  # noqa: E402
from ocseg.models import build_model  # noqa: E402

CONV_OPS = ("aten::mkldnn_convolution", "aten::_slow_conv2d_forward", "aten::convolution_backward",
            "aten::_slow_conv2d_backward")


def sides(name: str, repo: str, workload: str, size: tuple[int, int, int]) -> dict:
    from openseg_nets import build_original, copy_weights_from_original, randomise_batchnorm

    torch.manual_seed(0)
    original = build_original(name, repo)
    randomise_batchnorm(original)
    ours = build_model(name, 19)
    copy_weights_from_original(ours, original)
    n, h, w = size
    x = torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(1))
    segmentation = not name.startswith("segfix")
    train = workload == "fwd_bwd"
    original.train(train)
    ours.train(train)
    make = fwd_bwd_fn if train else fwd_fn
    return {"original": make(original, x, upsample=False), "plain": make(ours, x, upsample=segmentation)}


def profile_once(fn) -> tuple[collections.Counter, dict[str, float]]:
    """(calls per (op, input shapes), self milliseconds per op) of one run of ``fn``."""
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        fn()
    calls: collections.Counter = collections.Counter()
    for event in prof.events():
        if event.name.startswith("aten::"):
            calls[(event.name, str(event.input_shapes))] += 1
    self_ms: dict[str, float] = collections.defaultdict(float)
    for avg in prof.key_averages():
        self_ms[avg.key] += avg.self_cpu_time_total / 1e3
    return calls, self_ms


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--original-repo", required=True, help="checkout of openseg.pytorch (pytorch-1.7)")
    parser.add_argument("--model", default="r101_ocr")
    parser.add_argument("--workload", choices=("fwd", "fwd_bwd"), default="fwd_bwd")
    parser.add_argument("--input", type=int, nargs=3, default=(1, 128, 256), metavar=("N", "H", "W"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--top", type=int, default=25, help="ops listed by time difference")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    fns = sides(args.model, args.original_repo, args.workload, tuple(args.input))
    for fn in fns.values():
        fn()
    calls: dict[str, collections.Counter] = {}
    times: dict[str, dict[str, list[float]]] = {s: collections.defaultdict(list) for s in fns}
    order = list(fns)
    for r in range(args.repeats):
        for side in order[r % 2:] + order[:r % 2]:
            calls[side], self_ms = profile_once(fns[side])
            for op, ms in self_ms.items():
                times[side][op].append(ms)
    a, b = calls["original"], calls["plain"]
    conv = {s: sum(v for (op, _), v in c.items() if op in CONV_OPS) for s, c in calls.items()}
    print(f"{args.model} {args.workload} {args.input}: convolution calls original {conv['original']}, "
          f"plain {conv['plain']}")
    for key in sorted(set(a) | set(b)):
        if key[0] in CONV_OPS and a[key] != b[key]:
            print(f"  differs: {key[0]} {key[1]}: original {a[key]}, plain {b[key]}")
    by_op = {s: collections.Counter() for s in calls}
    for s, c in calls.items():
        for (op, _), v in c.items():
            by_op[s][op] += v
    print("ops called a different number of times (original, plain):")
    for op in sorted(set(by_op["original"]) | set(by_op["plain"])):
        if by_op["original"][op] != by_op["plain"][op]:
            print(f"  {op:45s} {by_op['original'][op]:6d} {by_op['plain'][op]:6d}")
    med = {s: {op: statistics.median(v) for op, v in t.items()} for s, t in times.items()}
    total = {s: sum(m.values()) for s, m in med.items()}
    print(f"self time, median of {args.repeats} (ms): original {total['original']:.0f}, plain {total['plain']:.0f}")
    ops = sorted(set(med["original"]) | set(med["plain"]),
                 key=lambda op: -abs(med["plain"].get(op, 0.0) - med["original"].get(op, 0.0)))
    print(f"  {'op':45s} {'original':>9s} {'plain':>9s}")
    for op in ops[:args.top]:
        print(f"  {op[:45]:45s} {med['original'].get(op, 0.0):9.1f} {med['plain'].get(op, 0.0):9.1f}")


if __name__ == "__main__":
    main()
