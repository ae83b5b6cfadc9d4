"""Training input pipeline throughput: samples/s per core, before and after the speed-ups.

    python bench/data.py [--quick] [--json PATH] [--files N] [--draws K] [--rounds R]

Two workloads, generated here at full size in a temporary folder:

* ``cityscapes``: 1024×2048 synthetic street scenes (``ocseg.data.synthetic_city.render_scene``)
  as RGB PNG + labelIds PNG in the Cityscapes layout, read by ``dataset=cityscapes`` with its
  training augmentation (random resize 0.5–2.0, aspect 0.9–1.1, bicubic image / nearest label →
  random crop 512×1024 → flip → brightness → pad) and HRNet's input normalisation;
* ``ade20k``: JPEG images around 512×683 with PNG labels in the prepared ``images/`` + ``labels/``
  layout, read by ``dataset=ade20k`` (flip → short side 520 → random resize → crop 520×520 →
  brightness → pad).

"after" is the dataset's own ``__getitem__``, what a DataLoader worker runs. "before" re-states the
pipeline as it was at commit 32c7aff (``src/ocseg/data/{augment,normalize,label_map,dataset}.py``):
int64 table for the label ids, the whole label resized with ``cv2.resize`` then cropped, numpy
flips and an int16 brightness shift, the image padded as float32 with the pixel that normalises to
0, then ``(x / div − mean) / std`` in numpy and a channel-first copy. Both run in this process with
OpenCV and torch on ``--threads`` threads (default 1: one DataLoader worker on one core), round-robin
(the order alternates every round), on the same files with the same random draws, and their
outputs are compared.

Samples/s per core are samples per CPU-second of this process (``time.process_time``), which on a
shared machine is what one dedicated core would give; wall-clock rates are reported beside them.
Per-stage times come from timers around the dataset's own calls, scaled to CPU time; "other" is
the rest (albumentations' bookkeeping, the label's tensor conversion).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import torch
from hydra.utils import instantiate
from PIL import Image

import ocseg.data.dataset as dataset_module
from ocseg.config import compose
from ocseg.data.augment import (
    BrightnessShift,
    HorizontalFlipSwap,
    PadToSize,
    RandomCropUpTo,
    ResizeThenCrop,
    _ResizeBase,
)
from ocseg.data.synthetic_city import render_scene
from ocseg.data.transforms import reseed
from ocseg.io.image_io import check_same_size, read_image, read_label

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import cpu_model  # noqa: E402

STAGES = ["decode image", "decode label", "label ids", "resize", "crop", "resize+crop", "flip",
          "brightness", "pad", "normalise", "other"]
STEP_STAGE = [(ResizeThenCrop, "resize+crop"), (_ResizeBase, "resize"), (RandomCropUpTo, "crop"),
              (HorizontalFlipSwap, "flip"), (BrightnessShift, "brightness"), (PadToSize, "pad")]
ADE_SIZES = [(512, 683), (683, 512), (512, 768), (427, 640)]  # H, W of ADE20K-like JPEGs


# ---- inputs --------------------------------------------------------------------------------------
def save_png(path: Path, array: np.ndarray) -> None:
    """With Pillow's defaults (zlib level 6, adaptive row filters), as cityscapesscripts writes
    the labelIds files (``preparation/json2labelImg.py``: ``Image.new("L", …)``, ``.save``); they
    are slower to decode than OpenCV's default (level 1, Sub rows only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array[..., ::-1] if array.ndim == 3 else array).save(path)


def make_cityscapes(root: Path, count: int) -> None:
    for i in range(count):
        bgr, label, _ = render_scene(1024, 2048, seed=100 + i)
        name = f"benchcity_000000_{i:06d}"
        save_png(root / "leftImg8bit" / "train" / "benchcity" / f"{name}_leftImg8bit.png", bgr)
        save_png(root / "gtFine" / "train" / "benchcity" / f"{name}_gtFine_labelIds.png", label)


def make_ade(root: Path, count: int) -> None:
    (root / "images" / "train").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        height, width = ADE_SIZES[i % len(ADE_SIZES)]
        bgr, label, _ = render_scene(height, width, seed=200 + i)  # labelIds 0..33: valid ADE ids
        cv2.imwrite(str(root / "images" / "train" / f"ade_{i:04d}.jpg"), bgr,
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
        save_png(root / "labels" / "train" / f"ade_{i:04d}.png", label)


def train_set(name: str, root: Path, scratch: Path):
    cfg = compose("train", [f"dataset={name}", f"dataset.root={root}", "model=hrnet48_ocr",
                            f"paths.output_dir={scratch / 'run'}", "data.num_workers=0"])
    return instantiate(cfg.data).dataset("train")


# ---- timing helpers ------------------------------------------------------------------------------
class Clock:
    """Seconds per stage, accumulated."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def timed(self, stage: str, fn, *args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds[stage] += time.perf_counter() - start


def time_steps(transform, clock: Clock) -> None:
    """Time every step of an albumentations ``Compose`` under its stage name (in place)."""
    for step in transform.transforms:
        cls = type(step)
        stage = next(stage for kind, stage in STEP_STAGE if isinstance(step, kind))

        def call(self, *args, _cls=cls, _stage=stage, **kwargs):
            return clock.timed(_stage, _cls.__call__, self, *args, **kwargs)

        step.__class__ = type(cls.__name__, (cls,), {"__call__": call})


class _Timed:
    """A stand-in for an object whose one method is timed; everything else is forwarded."""

    def __init__(self, target, method: str, stage: str, clock: Clock) -> None:
        self._target, self._method, self._stage, self._clock = target, method, stage, clock

    def __getattr__(self, name):
        value = getattr(self._target, name)
        if name == self._method:
            return lambda *a, **k: self._clock.timed(self._stage, value, *a, **k)
        return value

    def __call__(self, *args, **kwargs):
        return self._clock.timed(self._stage, self._target, *args, **kwargs)


def instrument_after(ds, clock: Clock) -> None:
    """Timers around the dataset's own calls (decoders, label map, steps, normalisation)."""
    dataset_module.read_image = lambda p: clock.timed("decode image", read_image, p)
    dataset_module.read_label = lambda p: clock.timed("decode label", read_label, p)
    ds.label_map = _Timed(ds.label_map, "to_train", "label ids", clock)
    ds.normalize = _Timed(ds.normalize, "__call__", "normalise", clock)
    time_steps(ds.transform, clock)


# ---- the pipeline before the speed-ups (commit 32c7aff), re-stated --------------------------------
class _FlipBefore(HorizontalFlipSwap):
    def apply(self, img, **params):
        return np.ascontiguousarray(img[:, ::-1])

    def apply_to_mask(self, mask, **params):
        flipped = np.ascontiguousarray(mask[:, ::-1])
        return flipped if self._swap_lut is None else self._swap_lut[flipped]


class _BrightnessBefore(BrightnessShift):
    def apply(self, img, shift: int = 0, **params):
        if shift == 0:
            return img
        return np.clip(img.astype(np.int16) + shift, 0, 255).astype(np.uint8)


def _step_before(step):
    if isinstance(step, HorizontalFlipSwap):
        return _FlipBefore(step.swap_pairs, p=step.p)
    if isinstance(step, BrightnessShift):
        return _BrightnessBefore(step.max_shift, p=step.p)
    return copy.deepcopy(step)  # resize, crop and pad steps: unchanged code (pad: float32 path)


class Before:
    """``SegmentationDataset._item`` as it was, for a dataset built from the same config."""

    def __init__(self, ds, clock: Clock) -> None:
        self.ds, self.clock = ds, clock
        steps = [s for t in ds.transform.transforms for s in getattr(t, "parts", [t])]
        self.transform = A.Compose([_step_before(s) for s in steps])  # no fusion: one step each
        for step in self.transform.transforms:
            if isinstance(step, PadToSize):
                step.use_normalize(ds.normalize)
        time_steps(self.transform, clock)
        norm = ds.normalize
        self.lookup = ds.label_map.lookup
        self.div, self.mean, self.std, self.rgb = norm.div, norm.mean, norm.std, norm.channel_order == "rgb"

    def to_train(self, raw: np.ndarray) -> np.ndarray:
        if raw.size and (int(raw.min()) < 0 or int(raw.max()) >= len(self.lookup)):
            raise ValueError("unknown id")
        out = self.lookup[raw]
        if (out == -1).any():
            raise ValueError("unknown id")
        return out.astype(np.uint8)

    def normalise(self, image: np.ndarray) -> torch.Tensor:
        image = image[..., ::-1] if self.rgb else image
        x = (image.astype(np.float32) / self.div - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))

    def __call__(self, index: int) -> dict:
        clock, sample = self.clock, self.ds.samples[index]
        image = clock.timed("decode image", read_image, sample.image)
        raw = clock.timed("decode label", read_label, sample.label)
        check_same_size(image, raw, sample.image, sample.label)
        label = clock.timed("label ids", self.to_train, raw)
        height, width = image.shape[:2]
        out = self.transform(image=image, mask=label)
        return {"image": clock.timed("normalise", self.normalise, out["image"]),
                "label": torch.from_numpy(np.ascontiguousarray(out["mask"]).astype(np.int64)),
                "orig_size": torch.tensor([height, width])}


# ---- the run -------------------------------------------------------------------------------------
def compare(before: dict, after: dict) -> dict:
    """Labels must be equal; images equal except the padding (before: the pixel that normalises
    to 0 went through the formula, ~1e-7; after: exact 0)."""
    a, b = after["image"], before["image"]
    same_shape = a.shape == b.shape and torch.equal(after["label"], before["label"])
    differ = (a != b) if a.shape == b.shape else torch.ones(1, dtype=torch.bool)
    only_padding = bool(same_shape and torch.all(a[differ] == 0) and torch.all(b[differ].abs() < 1e-6))
    return {"labels_equal": bool(same_shape), "image_values_differing": int(differ.sum()),
            "differences_only_in_padding": only_padding,
            "max_abs_difference": float((a - b).abs().max()) if a.shape == b.shape else float("inf")}


def run_workload(name: str, ds, schedule: list[tuple[int, int]], rounds: int) -> dict:
    clocks = {"before": Clock(), "after": Clock()}
    before = Before(ds, clocks["before"])
    instrument_after(ds, clocks["after"])

    def sample(variant: str, index: int, seed: int) -> dict:
        if variant == "after":
            reseed(ds.transform, seed)
            return ds[index]
        reseed(before.transform, seed)
        return before(index)

    check = {"samples": 0, "labels_equal": True, "differences_only_in_padding": True,
             "image_values_differing": 0, "max_abs_difference": 0.0}
    for index, seed in schedule:  # warm-up and comparison, untimed
        c = compare(sample("before", index, seed), sample("after", index, seed))
        check["samples"] += 1
        check["labels_equal"] &= c["labels_equal"]
        check["differences_only_in_padding"] &= c["differences_only_in_padding"]
        check["image_values_differing"] += c["image_values_differing"]
        check["max_abs_difference"] = max(check["max_abs_difference"], c["max_abs_difference"])

    rates: dict[str, list[float]] = {"before": [], "after": []}  # samples per CPU-second
    wall: dict[str, list[float]] = {"before": [], "after": []}  # samples per wall-clock second
    stages: dict[str, list[dict]] = {"before": [], "after": []}
    for r in range(rounds):
        for variant in (("before", "after") if r % 2 == 0 else ("after", "before")):
            clock = clocks[variant]
            clock.seconds.clear()
            start, cpu_start = time.perf_counter(), time.process_time()
            for index, seed in schedule:
                sample(variant, index, seed)
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            rates[variant].append(len(schedule) / cpu)
            wall[variant].append(len(schedule) / elapsed)
            per = {k: 1e3 * v / len(schedule) for k, v in clock.seconds.items()}
            per["other"] = 1e3 * elapsed / len(schedule) - sum(per.values())
            # stage timers are wall-clock: scale them to the round's CPU time
            stages[variant].append({k: v * cpu / elapsed for k, v in per.items()})
        print(f"  {name} round {r + 1}/{rounds}: before {rates['before'][-1]:.2f}/s, "
              f"after {rates['after'][-1]:.2f}/s per CPU-second (wall: {wall['before'][-1]:.2f}, "
              f"{wall['after'][-1]:.2f}/s)", flush=True)

    result = {"samples_per_round": len(schedule), "rounds": rounds, "check": check}
    for variant in ("before", "after"):
        rs = rates[variant]
        med = statistics.median(rs)
        result[variant] = {
            "samples_per_s": med,
            "ms_per_sample": 1e3 / med,
            "wall_samples_per_s": statistics.median(wall[variant]),
            "spread": (max(rs) - min(rs)) / med,  # (max − min) / median over rounds
            "stages_ms": {s: statistics.median(d.get(s, 0.0) for d in stages[variant])
                          for s in STAGES if any(s in d for d in stages[variant])},
        }
    ratios = [a / b for a, b in zip(rates["after"], rates["before"])]
    result["speedup"] = statistics.median(ratios)
    result["speedup_range"] = [min(ratios), max(ratios)]
    return result


def machine() -> str:
    return f"{cpu_model()}, {torch.get_num_threads()} torch thread(s), {cv2.getNumThreads()} OpenCV thread(s)"


def print_table(name: str, res: dict) -> None:
    b, a = res["before"], res["after"]
    print(f"\n{name}: {res['samples_per_round']} samples × {res['rounds']} rounds, round-robin")
    print(f"{'stage':14s} {'before ms':>10s} {'after ms':>10s}")
    for stage in STAGES:
        if stage in b["stages_ms"] or stage in a["stages_ms"]:
            print(f"{stage:14s} {b['stages_ms'].get(stage, 0.0):10.1f} {a['stages_ms'].get(stage, 0.0):10.1f}")
    print(f"{'total':14s} {b['ms_per_sample']:10.1f} {a['ms_per_sample']:10.1f}")
    print(f"samples/s per core: before {b['samples_per_s']:.2f} (spread {b['spread']:.0%}), "
          f"after {a['samples_per_s']:.2f} (spread {a['spread']:.0%}); "
          f"after/before ×{res['speedup']:.2f} (rounds ×{res['speedup_range'][0]:.2f}–"
          f"×{res['speedup_range'][1]:.2f}); wall-clock: {b['wall_samples_per_s']:.2f} → "
          f"{a['wall_samples_per_s']:.2f}/s")
    c = res["check"]
    same = "identical" if c["labels_equal"] and c["image_values_differing"] == 0 else (
        f"labels equal: {c['labels_equal']}, {c['image_values_differing']} image values differ, "
        f"only in the padding: {c['differences_only_in_padding']} "
        f"(max |before − after| {c['max_abs_difference']:.1e})")
    print(f"outputs of the {c['samples']} samples, before vs after: {same}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer files and rounds (~1–2 min)")
    parser.add_argument("--files", type=int, default=None, help="Cityscapes images (default 6; quick 2)")
    parser.add_argument("--draws", type=int, default=None, help="random draws per file (default 3; quick 2)")
    parser.add_argument("--rounds", type=int, default=None, help="round-robin rounds (default 7; quick 3)")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV and torch threads (default 1)")
    parser.add_argument("--workloads", nargs="+", default=["cityscapes", "ade20k"],
                        choices=["cityscapes", "ade20k"])
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    files = args.files or (2 if args.quick else 6)
    draws = args.draws or (2 if args.quick else 3)
    rounds = args.rounds or (3 if args.quick else 7)
    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)

    results = {"benchmark": "data", "machine": machine(), "quick": args.quick,
               "opencv": cv2.__version__, "numpy": np.__version__, "workloads": {}}
    with tempfile.TemporaryDirectory(prefix="ocseg-bench-data-") as tmp:
        scratch = Path(tmp)
        for name in args.workloads:
            root = scratch / name
            count = files if name == "cityscapes" else 4 * files
            print(f"generating {count} {name} samples ...", flush=True)
            (make_cityscapes if name == "cityscapes" else make_ade)(root, count)
            ds = train_set(name, root, scratch)
            schedule = [(i, 1000 + i * draws + k) for i in range(len(ds)) for k in range(draws)]
            res = run_workload(name, ds, schedule, rounds)
            results["workloads"][name] = res
            print_table(name, res)
    print(f"\nmachine: {results['machine']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
