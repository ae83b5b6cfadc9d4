#!/usr/bin/env python
"""The Cityscapes reproduction pipelines (``make reproduce-cityscapes`` / ``-val``).

    python scripts/reproduce_cityscapes.py leaderboard [--data DIR] [--gpus N] [--dry-run] [overrides]
    python scripts/reproduce_cityscapes.py val --tiny          # the whole chain in a minute on a CPU

Every stage runs in ``<runs>/<stage>``; running the same command again skips finished stages
and resumes an interrupted training stage from its ``checkpoints/last.ckpt``. Trailing
``key=value`` arguments are added to every ``train.py`` stage. Stages and variables:
docs/reproduce-cityscapes.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ocseg.errors import OcsegError
from ocseg.reproduce import cityscapes, stages, tiny
from ocseg.reproduce.preflight import FIX, check_inputs, missing_inputs

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RUNS = {"leaderboard": "logs/reproduce/cityscapes", "val": "logs/reproduce/cityscapes_val"}


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pipeline", choices=["leaderboard", "val"])
    p.add_argument("--runs", type=Path, help="the pipeline's folder (default "
                   f"{DEFAULT_RUNS['leaderboard']} / {DEFAULT_RUNS['val']})")
    p.add_argument("--data", type=Path, help="paths.data_dir: holds cityscapes/ and mapillary/ "
                   "(default data; --tiny: <runs>/data)")
    p.add_argument("--pretrained", type=Path, help="paths.pretrained_dir (ImageNet files)")
    p.add_argument("--gpus", type=int, help="GPUs to use (default: all, trainer=ddp; 0: CPU)")
    p.add_argument("--segfix-ckpt", type=Path, help="a SegFix checkpoint instead of training one")
    p.add_argument("--offsets", type=Path, help="SegFix offsets (folder or the original's "
                   "offset_semantic.zip) instead of predicting them")
    p.add_argument("--mapillary-ckpt", type=Path, help="a Mapillary checkpoint (the released "
                   ".pth) instead of training stage 1 (leaderboard only)")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("--tiny", action="store_true", help="tiny data and sizes (a CPU smoke run)")
    p.add_argument("overrides", nargs="*", help="key=value added to every train.py stage")
    return p.parse_intermixed_args(argv)


def settings_of(args: argparse.Namespace) -> cityscapes.Settings:
    runs = args.runs or Path(DEFAULT_RUNS[args.pipeline] + ("_tiny" if args.tiny else ""))
    data = args.data or (runs / "data" if args.tiny else Path("data"))
    gpus = 0 if args.tiny and args.gpus is None else args.gpus
    return cityscapes.Settings(runs=runs, data=data, pretrained=args.pretrained, gpus=gpus,
                               segfix_ckpt=args.segfix_ckpt, offsets=args.offsets,
                               mapillary_ckpt=args.mapillary_ckpt, train_args=tuple(args.overrides),
                               tiny=args.tiny)


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def report(pipeline: str, settings: cityscapes.Settings) -> None:
    """The results next to the original's numbers."""
    ours, segfix = cityscapes.PUBLISHED[pipeline]
    if pipeline == "val":
        plain = _json(settings.runs / "val_ss" / "metrics.json").get("mIoU")
        refined = _json(settings.runs / "val_ss_segfix" / "metrics.json").get("mIoU")
        print(f"\nCityscapes val mIoU: {plain} single scale (original {ours}), {refined} w/ SegFix "
              f"(original {segfix})")
    else:
        print(f"\nsubmission: {settings.runs / 'cityscapes_test_submission.zip'}; the original scored "
              f"{ours} on the test server, {segfix} w/ SegFix")


def main(argv: list[str] | None = None, execute=None) -> list[stages.Step]:
    """Run (or with --dry-run print) a pipeline; ``execute`` replaces the subprocess executor."""
    args = parse(sys.argv[1:] if argv is None else argv)
    settings = settings_of(args)
    if args.pipeline == "leaderboard":
        plan = cityscapes.leaderboard_stages(settings)
        title = "Cityscapes leaderboard (MODEL_ZOO.md: 84.2 test, 84.5 w/ SegFix)"
    else:
        if args.mapillary_ckpt:
            raise OcsegError("--mapillary-ckpt belongs to the leaderboard pipeline")
        plan = cityscapes.val_stages(settings)
        title = "Cityscapes val, HRNet-W48 + OCR (MODEL_ZOO.md: 81.09, 81.73 w/ SegFix)"
    if args.dry_run:
        missing: dict[str, list[str]] = {}
        for item in missing_inputs(stages.plan(plan), settings.runs):
            missing.setdefault(item.stage, []).append(str(item))
        steps = stages.run_pipeline(title, plan, None, missing=missing)
        if missing:
            count = len({m for items in missing.values() for m in items})
            print(f"\n# {count} input(s) missing, listed under their stages above: {FIX}")
        return steps
    if args.tiny:
        tiny.build_tiny_data(settings.data)
    check_inputs(stages.plan(plan), settings.runs)
    steps = stages.run_pipeline(title, plan, execute or stages.subprocess_executor(REPO))
    report(args.pipeline, settings)
    return steps


if __name__ == "__main__":
    try:
        main()
    except OcsegError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
