"""SegFix training samples per core: ground truth from the full label against from the crop.

    python bench/segfix_targets.py [--files N] [--draws K] [--rounds R] [--quick] [--json PATH]

Generates ``--files`` 1024×2048 street scenes (``ocseg.data.synthetic_city.render_scene``) as
Cityscapes-layout PNGs and reads them with the SegFix recipe's own dataset
(``experiment=segfix_cityscapes_hrnet48``: 512×512 crop → flip → brightness → pad, HRNet
normalisation, ``task=segfix`` targets), what one DataLoader worker runs per sample, with
``task.targets.full_label=true`` (the default: the ground truth of the whole label, cropped and
flipped with it, as the original's ``.mat`` files) and ``false`` (the ground truth of the crop).
Round-robin over ``--rounds`` rounds (the order alternates), ``--draws`` samples per file per
round, OpenCV and torch on one thread; CPU seconds of this process per sample (``time.process_time``,
one dedicated core's view on a shared machine), medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from hydra.utils import instantiate
from PIL import Image

from ocseg.config import compose
from ocseg.data.synthetic_city import render_scene


def write_scenes(root: Path, count: int) -> None:
    for k in range(count):
        image, label_ids, _ = render_scene(1024, 2048, seed=2000 + k)
        stem = f"bench_000000_{k:06d}"
        for kind, name, array in (("leftImg8bit", "leftImg8bit", image[..., ::-1]),
                                  ("gtFine", "gtFine_labelIds", label_ids)):
            folder = root / kind / "train" / "bench"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.ascontiguousarray(array)).save(folder / f"{stem}_{name}.png")


def dataset(root: Path, full_label: bool):
    cfg = compose("train", ["experiment=segfix_cityscapes_hrnet48", f"dataset.root={root}",
                            "backbone.pretrained=null", "data.num_workers=0",
                            f"task.targets.full_label={str(full_label).lower()}",
                            f"paths.output_dir={root / 'run'}"])
    return instantiate(cfg.data).dataset("train")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="2 files, 1 draw, 3 rounds (bench/run.py --quick)")
    args = parser.parse_args()
    if args.quick:
        args.files, args.draws, args.rounds = 2, 1, 3
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_scenes(root, args.files)
        sets = {"full label": dataset(root, True), "crop": dataset(root, False)}
        per_round: dict[str, list[float]] = {name: [] for name in sets}
        for r in range(args.rounds):
            order = list(sets) if r % 2 == 0 else list(reversed(sets))
            for name in order:
                ds = sets[name]
                start = time.process_time()
                for _ in range(args.draws):
                    for index in range(len(ds)):
                        ds[index]
                per_round[name].append((time.process_time() - start) / (args.draws * len(ds)))
    result = {name: 1000 * statistics.median(times) for name, times in per_round.items()}
    print(f"{args.files} files × {args.draws} draws × {args.rounds} rounds, 1 thread, CPU ms per sample:")
    for name, ms in result.items():
        spread = 1000 * (max(per_round[name]) - min(per_round[name]))
        print(f"  targets from the {name:10s} {ms:7.1f} ms   (rounds vary by {spread:.1f} ms)")
    print(f"  full label − crop        {result['full label'] - result['crop']:7.1f} ms")
    if args.json:
        args.json.write_text(json.dumps({"ms_per_sample": result, "rounds": per_round}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
