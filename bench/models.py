"""Model-zoo benchmark: parameters, GFLOPs at 1024×2048, forward and forward+backward time.

    python bench/models.py                          # all zoo models, 256×512, batch 1, CPU
    python bench/models.py --models hrnet18_small_ocr --batch 8 --size 256 256
    python bench/models.py --flops --no-time --readme   # the README table (GFLOPs on the meta device)

Times are the median of ``--repeats`` runs after one warm-up, on the current device
(``--device cuda`` if available). GFLOPs are counted with ``torch.utils.flop_counter`` on the
meta device (no compute), as 2 × multiply-adds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ocseg.models import available_models, build_model
from ocseg.models.cards import CARDS, ModelCard, Weights


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


def bench(name: str, args, device: torch.device) -> dict:
    net = build_model(name, 19).to(device)
    params = sum(p.numel() for p in net.parameters()) / 1e6
    row = {"model": name, "params": params}
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


_DATASETS = {"cityscapes": "Cityscapes", "pascal_context": "PASCAL-Context", "lip": "LIP",
             "coco_stuff": "COCO-Stuff", "ade20k": "ADE20K", "mapillary": "Mapillary"}


def _scores(weights: Weights) -> str:
    """``Cityscapes val: 81.09, 81.73 w/ SegFix``: the published scores of one training result."""
    if not weights.scores:
        return ""
    parts = [f"{score.miou:g}" + (f" ({score.test})" if score.test not in ("ss", None) else "")
             + (" w/ SegFix" if score.segfix else "") for score in weights.scores]
    first = weights.scores[0]
    return f"{_DATASETS[first.dataset]} {first.split}: {', '.join(parts)}"


def _weights(card: ModelCard) -> tuple[str, str]:
    """The released files and the published scores of a card, one line per training result."""
    files, scores = [], []
    for w in card.weights:
        trained = f"{_DATASETS[w.dataset]} {w.split}"
        if w.url:
            files.append(f"[`{w.file}`]({w.url})" if w.file else f"[{w.note}]({w.url})")
            files[-1] += f" ({trained}{'; ' + w.note if w.note and w.file else ''})"
        else:
            files.append(f"no file released ({trained}{'; ' + w.note if w.note else ''})")
        scores.append(_scores(w))
    if card.task == "segfix":
        scores = ["— (refines others: see the \"w/ SegFix\" scores)"] if card.weights else []
    return "<br>".join(files) or "—", "<br>".join(s for s in scores if s) or "—"


def readme_table(rows: list[dict]) -> str:
    """README's model table: one row per user-facing card, with the measured params/GFLOPs."""
    lines = ["| model | params (M) | GFLOPs 1024×2048 | original (backbone) | input | released weights "
             "(trained on) | published mIoU |", "|---|---:|---:|---|---|---|---|"]
    for row in rows:
        card = CARDS[row["model"]]
        if card.test_only:
            continue
        original = f"{card.original} ({card.backbone})" if card.original else \
            f"— (ocseg: {card.description})"
        files, scores = _weights(card)
        gf = f"{row['gflops']:.0f}" if "gflops" in row else "-"
        lines.append(f"| `{row['model']}` | {row['params']:.2f} | {gf} | {original} | {card.normalize} | "
                     f"{files} | {scores} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="", help="comma-separated names (default: every zoo model)")
    parser.add_argument("--size", type=int, nargs=2, default=(256, 512), metavar=("H", "W"))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--flops", action="store_true", help="count GFLOPs at 1024×2048")
    parser.add_argument("--no-time", dest="time", action="store_false", help="skip the timings")
    parser.add_argument("--readme", action="store_true", help="print the README's model table")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    names = [n for n in args.models.split(",") if n] or available_models()
    print(f"device {device} ({torch.get_num_threads()} threads), input {args.batch}×3×{args.size[0]}×{args.size[1]}")
    print(f"{'model':20s} {'params(M)':>9s} {'GFLOPs':>8s} {'fwd(s)':>8s} {'fwd+bwd(s)':>10s}")
    rows = []
    for name in names:
        row = bench(name, args, device)
        rows.append(row)
        fmt = lambda key, spec: format(row[key], spec) if key in row else "-"  # noqa: E731
        print(f"{name:20s} {row['params']:9.2f} {fmt('gflops', '8.1f'):>8s} {fmt('fwd', '8.3f'):>8s} "
              f"{fmt('fwd_bwd', '10.3f'):>10s}", flush=True)
    if args.readme:
        print()
        print(readme_table(rows))

if __name__ == "__main__":
    main()
