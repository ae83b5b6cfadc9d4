"""SegFix throughput, ocseg against the original's scripts, measured side by side on the same files.

    python bench/segfix.py [--quick] [--json PATH] [--refine-counts 100 500] [--gt-maps 6]

**Refinement**, whole processes (start-up included, as a user runs them), in alternation
(round-robin over ``--repeats`` rounds, median): the original ``scripts/cityscapes/segfix.py``
re-stated in ``bench/original/segfix_refine.py`` (one process per core, as its
``multiprocessing.pool.Pool()``) against ``python refine.py input=… offsets=… output=…``
(default workers: all cores), on ``--refine-counts`` Cityscapes-size (1024×2048) label maps.
Inputs are palette PNGs, as the original tester writes predictions (``segmentor/tester.py``
line 189, ``Image.fromarray(label, 'P')``); offsets are the 8-direction moves of the 1–5 px
boundary band (~8 % of the pixels) as int32 ``.mat`` (what the original tester wrote:
``segmentor/tester_offset.py`` lines 131-148, int64 offsets through ``cv2.resize``), int8
``.mat`` and ocseg's ``.npz``. The original reads ``.mat`` only, so the ``.npz`` row is compared
with the original on int32 ``.mat``. Start-up alone: each tool on one map, and
``python -c "import torch"``.

**Id blending**: the original samples the train-id map bilinearly (``shift()``, lines 64-79), so
a pixel between two classes can take a third id; the outputs of both tools are compared pixel by
pixel, and a pixel is *invented* when its class occurs nowhere in the input within the reach of
the original's bilinear sample (3 px). One example is printed with the four input pixels the
original blended.

**Ground truth**, in this process (start-up excluded): the original ``dt_offset_generator.py``
re-stated in ``bench/original/dt_offset_generator.py`` under ``Pool(cpu_count // 2)`` (its line
131; torch's default threads for its conv2d, as the original leaves them) and on one process on
one thread (per core), against ``generate_ground_truth`` on one worker (one thread) and on its
default (one worker per core); the arrays are compared (identical ``depth``; ``dir_deg`` equal except one
truncation step at exact 2° boundaries; identical direction bins).

``--json PATH`` writes every figure as a dict (for ``make bench`` / ``make bench-quick``);
``--quick`` is the same at small counts (a couple of minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import scipy.io
import torch
from PIL import Image

from ocseg.data.cityscapes import CITYSCAPES_TRAIN_IDS
from ocseg.data.synthetic_city import render_scene
from ocseg.io.parallel import default_workers
from ocseg.segfix.encoding.directions import angle_to_bin, bin_to_offset
from ocseg.segfix.ground_truth.files import read_ground_truth
from ocseg.segfix.ground_truth.generate import generate_ground_truth, label_to_ground_truth
from ocseg.segfix.offsets.files import write_offsets

REPO = Path(__file__).resolve().parents[1]
ORIGINAL_REFINE = REPO / "bench" / "original" / "segfix_refine.py"
sys.path.insert(0, str(REPO / "bench" / "original"))
import dt_offset_generator as original_gt  # noqa: E402

IDS = CITYSCAPES_TRAIN_IDS
SCALE = 2  # semantic offsets are doubled by both tools (segfix.py line 105, refine.py scale=2)
GREY_PALETTE = [v for i in range(256) for v in (i, i, i)]


# ---- data -------------------------------------------------------------------------------------
def make_scenes(count: int, height: int, width: int) -> list[np.ndarray]:
    return [render_scene(height, width, seed=1000 + k)[1] for k in range(count)]


def variants(scenes: list[np.ndarray], count: int):
    """``count`` distinct label maps: each scene rolled sideways and/or mirrored."""
    for k in range(count):
        base = scenes[k % len(scenes)]
        shift, flip = (k // len(scenes)) * 97, (k // len(scenes)) % 2 == 1
        label = np.roll(base, shift, axis=1)
        yield k, (label[:, ::-1] if flip else label), shift, flip


def boundary_offsets(label_ids: np.ndarray) -> np.ndarray:
    """Moves of the 1–5 px boundary band along the ground-truth direction (int8 H×W×2)."""
    gt = label_to_ground_truth(label_ids, "semantic", IDS)
    off = bin_to_offset(angle_to_bin(gt.angle)).astype(np.int8)
    off[(gt.depth < 1) | (gt.depth > 5)] = 0
    return off


def write_prediction(path: Path, label_ids: np.ndarray) -> None:
    """A palette PNG of label ids, as the original tester saved predictions."""
    image = Image.frombytes("P", label_ids.shape[::-1], np.ascontiguousarray(label_ids).tobytes())
    image.putpalette(GREY_PALETTE)
    image.save(path)


def make_refine_data(work: Path, count: int, height: int, width: int) -> dict:
    scenes = make_scenes(min(count, 10), height, width)
    base_offsets = [boundary_offsets(s) for s in scenes]
    folders = {name: work / name for name in ("pred", "mat_int32", "mat_int8", "npz")}
    for folder in folders.values():
        folder.mkdir()
    moved = 0
    for k, label, shift, flip in variants(scenes, count):
        stem = f"city_{k:06d}_000019_leftImg8bit"
        label = np.where(np.isin(label, IDS), label, IDS[0]).astype(np.uint8)  # class ids only
        write_prediction(folders["pred"] / f"{stem}.png", label)
        off = np.roll(base_offsets[k % len(scenes)], shift, axis=1)
        if flip:
            off = off[:, ::-1].copy()
            off[..., 1] *= -1
        moved += np.count_nonzero(off.any(axis=2))
        scipy.io.savemat(str(folders["mat_int32"] / f"{stem}.mat"), {"mat": off.astype(np.int32)},
                         do_compression=True)
        write_offsets(folders["mat_int8"] / f"{stem}.mat", off, mat_dtype="int8")
        write_offsets(folders["npz"] / f"{stem}.npz", off)
    return {"folders": folders, "moved_fraction": moved / (count * height * width)}


def subset(folder: Path, count: int) -> Path:
    """A folder holding the first ``count`` files of ``folder`` (hard links)."""
    out = folder.with_name(f"{folder.name}_{count}")
    out.mkdir(exist_ok=True)
    for path in sorted(folder.iterdir())[:count]:
        target = out / path.name
        if not target.exists():
            os.link(path, target)
    return out


# ---- timing -----------------------------------------------------------------------------------
def run_process(cmd: list[str], out: Path | None = None) -> float:
    """Wall time of one command (its output folder emptied first); a failure stops the bench."""
    if out is not None:
        shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return seconds


def round_robin(repeats: int, runs: dict) -> dict:
    """Every measurement ``repeats`` times in alternation, so a busy spell on a shared machine
    hits all of them alike; returns each one's times."""
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            times[name].append(run())
    return times


def summary(seconds: list[float]) -> dict:
    return {"median_s": round(statistics.median(seconds), 3), "min_s": round(min(seconds), 3),
            "max_s": round(max(seconds), 3), "runs": len(seconds)}


def original_cmd(pred: Path, offsets: Path, out: Path) -> list[str]:
    return [sys.executable, str(ORIGINAL_REFINE), "--input", str(pred), "--offset", str(offsets),
            "--out", str(out)]


def ocseg_cmd(pred: Path, offsets: Path, out: Path, work: Path) -> list[str]:
    return [sys.executable, "refine.py", f"input={pred}", f"offsets={offsets}", f"output={out}",
            f"hydra.run.dir={work / 'hydra'}", "progress=false"]


def bench_refine(work: Path, counts: list[int], repeats: int, data: dict) -> dict:
    folders = data["folders"]
    runs, plan = {}, []
    for count in counts:
        pred = subset(folders["pred"], count)
        for fmt in ("mat_int32", "mat_int8"):
            out = work / f"orig_{fmt}_{count}"
            runs[("original", fmt, count)] = (
                lambda p=pred, f=folders[fmt], o=out: run_process(original_cmd(p, f, o), o))
        for fmt in ("mat_int32", "mat_int8", "npz"):
            out = work / f"ocseg_{fmt}_{count}"
            runs[("ocseg", fmt, count)] = (
                lambda p=pred, f=folders[fmt], o=out: run_process(ocseg_cmd(p, f, o, work), o))
            plan.append((fmt, count))
    one = subset(folders["pred"], 1)
    runs[("original", "start-up", 1)] = lambda: run_process(
        original_cmd(one, folders["mat_int32"], work / "orig_one"), work / "orig_one")
    runs[("ocseg", "start-up", 1)] = lambda: run_process(
        ocseg_cmd(one, folders["mat_int32"], work / "ocseg_one", work), work / "ocseg_one")
    runs[("import torch", "start-up", 0)] = lambda: run_process([sys.executable, "-c", "import torch"])
    times = round_robin(repeats, runs)
    rows = []
    for fmt, count in plan:
        baseline = "mat_int32" if fmt == "npz" else fmt
        orig = statistics.median(times[("original", baseline, count)])
        ours = statistics.median(times[("ocseg", fmt, count)])
        rows.append({"maps": count, "offsets": fmt, "original_offsets": baseline,
                     "original": summary(times[("original", baseline, count)]),
                     "ocseg": summary(times[("ocseg", fmt, count)]),
                     "ratio": round(orig / ours, 2)})
    startup = {name: summary(times[key]) for name, key in (
        ("original, 1 map", ("original", "start-up", 1)), ("refine.py, 1 map", ("ocseg", "start-up", 1)),
        ("python -c 'import torch'", ("import torch", "start-up", 0)))}
    return {"rows": rows, "startup": startup}


# ---- id blending ------------------------------------------------------------------------------
def _train_ids(label_ids: np.ndarray) -> np.ndarray:
    lut = np.full(256, 255, np.uint8)
    lut[IDS] = np.arange(len(IDS), dtype=np.uint8)
    return lut[label_ids]


def _read_ids(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.array(image)


def _sample_corners(y: np.ndarray, x: np.ndarray, off: np.ndarray, height: int, width: int):
    """Where the original samples for pixels (y, x): ``shift()`` normalises the grid by
    (size − 1) / 2 (line 76) while grid_sample's default align_corners=False maps it back with
    size / 2, so it reads position ``t·size/(size − 1) − 0.5``, between four pixels (clamped:
    padding_mode='border'). Returns the positions and the four corners' (row, col)."""
    sy = (y + SCALE * off[y, x, 0]) * height / (height - 1) - 0.5
    sx = (x + SCALE * off[y, x, 1]) * width / (width - 1) - 0.5
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    corners = [(np.clip(r, 0, height - 1), np.clip(c, 0, width - 1))
               for r in (y0, y0 + 1) for c in (x0, x0 + 1)]
    return sy, sx, corners


def bench_blending(work: Path, data: dict, count: int) -> dict:
    """Pixels where the original's bilinear id sampling differs from ocseg's exact gather, the
    classes it invents, and which pairs of classes blend into which."""
    orig_dir, ours_dir = work / f"orig_mat_int32_{count}", work / f"ocseg_mat_int32_{count}"
    # the farthest input pixel the original can read: the offset, plus up to one pixel from the
    # grid's mis-normalisation (see _sample_corners)
    reach = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * SCALE + 3, 2 * SCALE + 3))
    differ = invented = total = 0
    blends: dict[tuple[int, int, int], int] = {}
    example = None
    for path in sorted(ours_dir.iterdir()):
        source = _read_ids(data["folders"]["pred"] / path.name)
        ours, orig = _read_ids(path), _read_ids(orig_dir / path.name)
        total += ours.size
        differ += int(np.count_nonzero(ours != orig))
        made_up = np.zeros(ours.shape, bool)
        for value in np.unique(orig[orig != ours]):
            near = cv2.dilate((source == value).view(np.uint8), reach).view(bool)
            made_up |= (orig == value) & ~near
        invented += int(np.count_nonzero(made_up))
        if not made_up.any():
            continue
        off = scipy.io.loadmat(str(data["folders"]["mat_int32"] / f"{path.stem}.mat"))["mat"]
        off = off.astype(np.int64)
        ys, xs = np.nonzero(made_up)
        sy, sx, corners = _sample_corners(ys, xs, off, *source.shape)
        train, got = _train_ids(source), _train_ids(orig)[ys, xs]
        ids = np.stack([train[r, c] for r, c in corners], axis=1)
        low, high = ids.min(1), ids.max(1)
        for key in zip(low.tolist(), high.tolist(), got.tolist()):
            blends[key] = blends.get(key, 0) + 1
        wanted = np.flatnonzero((low == 2) & (high == 8) & (got == 5))  # docs/segfix.md's example
        if example is None or (wanted.size and example["original_train_id"] != 5):
            k = int(wanted[0]) if wanted.size else 0
            y, x = int(ys[k]), int(xs[k])
            ty = min(max(y + SCALE * int(off[y, x, 0]), 0), source.shape[0] - 1)
            tx = min(max(x + SCALE * int(off[y, x, 1]), 0), source.shape[1] - 1)
            example = {"map": path.stem, "pixel": [y, x], "offset": off[y, x].tolist(),
                       "sampled_at": [round(float(sy[k]), 3), round(float(sx[k]), 3)],
                       "corners_train_ids": ids[k].tolist(),
                       "original_train_id": int(got[k]), "ocseg_train_id": int(train[ty, tx])}
    top = sorted(blends.items(), key=lambda kv: -kv[1])[:5]
    return {"maps": count, "pixels": total, "differ": differ, "invented": invented,
            "top_blends": [{"between": [a, b], "became": c, "pixels": n} for (a, b, c), n in top],
            "example": example}


# ---- ground truth -----------------------------------------------------------------------------
def _timed_pool(jobs, processes: int, threads: int | None = None) -> float:
    """The original's pool over the jobs; its per-file prints go to /dev/null (they are made).
    ``threads``: torch's intra-op threads for its conv2d (None: torch's default, all cores, which
    the original leaves as it is); 1 for a per-core figure."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            start = time.perf_counter()
            if processes <= 1:
                for job in jobs:
                    original_gt.process(job)
            else:
                with mp.get_context("fork").Pool(processes) as pool:
                    pool.map(original_gt.process, jobs)
            return time.perf_counter() - start
    finally:
        torch.set_num_threads(previous)


def bench_ground_truth(work: Path, count: int, height: int, width: int, repeats: int) -> dict:
    src = work / "gt_labels"
    src.mkdir()
    for k, label in enumerate(make_scenes(count, height, width)):
        Image.fromarray(label).save(src / f"city_{k:06d}_000019_gtFine_labelIds.png")
    files = sorted(src.glob("*.png"))
    orig_out = work / "gt_original"
    orig_out.mkdir()
    processes = max(1, mp.cpu_count() // 2)  # dt_offset_generator.py line 131
    jobs = [(f, orig_out / f"{f.stem}.mat") for f in files]
    cores = default_workers()

    def ours(workers: int):
        def run() -> float:
            start = time.perf_counter()
            generate_ground_truth(src, work / f"gt_ocseg_{workers}", "semantic", IDS,
                                  workers=workers, progress=False)
            return time.perf_counter() - start
        return run

    # per core: one process on one thread each side (the original's conv2d otherwise runs on
    # torch's default threads, all cores; ocseg's workers run one thread each)
    runs = {f"original, Pool(cpu_count // 2) = {processes}": lambda: _timed_pool(jobs, processes),
            "original, 1 process, 1 thread": lambda: _timed_pool(jobs, 1, threads=1)}
    runs["ocseg, workers=1"] = ours(1)
    if cores > 1:
        runs[f"ocseg, workers={cores} (default)"] = ours(cores)
    times = round_robin(repeats, runs)
    per_map = {name: round(1000 * statistics.median(t) / count, 1) for name, t in times.items()}
    original_default = per_map[f"original, Pool(cpu_count // 2) = {processes}"]
    original_core = per_map["original, 1 process, 1 thread"]
    ours_default = per_map.get(f"ocseg, workers={cores} (default)", per_map["ocseg, workers=1"])
    return {"maps": count, "size": [height, width], "ms_per_map": per_map,
            "ratio_default": round(original_default / ours_default, 2),
            "ratio_per_core": round(original_core / per_map["ocseg, workers=1"], 2),
            "agreement": _agreement(files, orig_out, work / "gt_ocseg_1")}


def _agreement(files: list[Path], orig_dir: Path, ours_dir: Path) -> dict:
    depth_same, dir_diff, bins_diff = True, 0, 0
    for f in files:
        a, b = read_ground_truth(orig_dir / f"{f.stem}.mat"), read_ground_truth(ours_dir / f"{f.stem}.mat")
        depth_same &= bool(np.array_equal(a.depth, b.depth))
        dir_diff += int(np.count_nonzero(a.dir_deg != b.dir_deg))
        bins_diff += int(np.count_nonzero(angle_to_bin(a.angle) != angle_to_bin(b.angle)))
    return {"depth_identical": depth_same, "dir_deg_pixels_differ": dir_diff,
            "direction_bins_differ": bins_diff}


# ---- report -----------------------------------------------------------------------------------
def report(results: dict) -> None:
    ref = results.get("refine")
    if ref:
        print(f"\nRefinement, whole processes incl. start-up (median of {ref['repeats']}, "
              f"{100 * ref['moved_fraction']:.1f}% of pixels move):")
        print(f"  {'maps':>5} {'offsets':10} {'original s':>11} {'ocseg s':>8} {'ratio':>6}")
        for row in ref["rows"]:
            note = "" if row["offsets"] == row["original_offsets"] else \
                f"  (original on {row['original_offsets']})"
            print(f"  {row['maps']:>5} {row['offsets']:10} {row['original']['median_s']:>11.2f} "
                  f"{row['ocseg']['median_s']:>8.2f} {row['ratio']:>5.1f}×{note}")
        for name, s in ref["startup"].items():
            print(f"  start-up: {name:26s} {s['median_s']:.2f} s (min {s['min_s']:.2f}, "
                  f"max {s['max_s']:.2f})")
    blend = results.get("blending")
    if blend:
        print(f"\nOriginal's bilinear id sampling vs exact gather, {blend['maps']} maps, int32 .mat: "
              f"{blend['differ']} of {blend['pixels']} pixels differ "
              f"({100 * blend['differ'] / blend['pixels']:.3f}%), {blend['invented']} carry a "
              "class found nowhere in the input within 3 px (invented by blending)")
        for item in blend["top_blends"]:
            print(f"  between train ids {item['between'][0]} and {item['between'][1]} → "
                  f"{item['became']}: {item['pixels']} pixels")
        if blend["example"]:
            e = blend["example"]
            print(f"  e.g. {e['map']} pixel {tuple(e['pixel'])}, offset {tuple(e['offset'])}: "
                  f"sampled at {tuple(e['sampled_at'])} between train ids {e['corners_train_ids']} "
                  f"→ original {e['original_train_id']}, ocseg {e['ocseg_train_id']}")
    gt = results.get("ground_truth")
    if gt:
        print(f"\nGround truth, {gt['maps']} label maps {gt['size'][0]}×{gt['size'][1]}, in-process "
              "(median per map):")
        for name, ms in gt["ms_per_map"].items():
            print(f"  {name:38s} {ms:8.1f} ms/map")
        print(f"  ratio at default workers ×{gt['ratio_default']}, per core ×{gt['ratio_per_core']}; "
              f"{gt['agreement']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small counts: 20 maps, 2 ground-truth maps, 1 round")
    parser.add_argument("--refine-counts", type=int, nargs="*", default=None,
                        help="label maps per refinement run (default 100 500; quick: 20)")
    parser.add_argument("--gt-maps", type=int, default=None, help="default 6 (quick: 2)")
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 3; quick: 1)")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    counts = args.refine_counts if args.refine_counts is not None else ([20] if args.quick else [100, 500])
    gt_maps = args.gt_maps if args.gt_maps is not None else (2 if args.quick else 6)
    repeats = args.repeats or (1 if args.quick else 3)
    work = Path(tempfile.mkdtemp(prefix="ocseg_bench_segfix_", dir=args.workdir))
    results: dict = {"machine": {"cores": mp.cpu_count(), "cpu": platform.processor() or platform.machine(),
                                 "torch": torch.__version__, "load_average": os.getloadavg()[0]},
                     "quick": args.quick}
    print(f"cores: {mp.cpu_count()}, torch {torch.__version__}, {repeats} round(s), load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    try:
        if counts:
            data = make_refine_data(work, max(counts), args.height, args.width)
            refine = bench_refine(work, sorted(counts), repeats, data)
            results["refine"] = {"repeats": repeats, "moved_fraction": data["moved_fraction"],
                                 "size": [args.height, args.width], **refine}
            results["blending"] = bench_blending(work, data, min(counts))
        if gt_maps > 0:
            results["ground_truth"] = bench_ground_truth(work, gt_maps, args.height, args.width,
                                                         repeats)
        results["machine"]["load_average_after"] = os.getloadavg()[0]
        report(results)
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
            print(f"\nresults written to {args.json}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
