"""``python -m ocseg.segfix.ground_truth``: the original SegFix ground truth for a folder of labels.

::

    python -m ocseg.segfix.ground_truth input=<dir> output=<dir> kind=semantic dataset=cityscapes

Composes ``conf/segfix_ground_truth.yaml`` and runs
:func:`~ocseg.segfix.ground_truth.generate.generate_ground_truth`.
"""

from __future__ import annotations

from pathlib import Path

from ocseg.segfix.ground_truth.generate import dataset_label_ids, generate_ground_truth

__all__ = ["main"]


def _task(cfg) -> dict:
    summary = generate_ground_truth(
        cfg.input, cfg.output, cfg.kind, dataset_label_ids(cfg.dataset), glob=cfg.glob,
        min_pixels=cfg.min_pixels, skip_existing=cfg.skip_existing, workers=cfg.workers,
        progress=cfg.progress)
    print(f"wrote {summary['written']} SegFix {cfg.kind} ground-truth files to {summary['output']}"
          + (f" ({summary['skipped']} existing kept)" if summary["skipped"] else ""), flush=True)
    return summary


def main() -> None:
    import hydra

    from ocseg.cli import run_task

    conf = str(Path(__file__).resolve().parents[4] / "conf")

    @hydra.main(config_path=conf, config_name="segfix_ground_truth", version_base="1.3")
    def _main(cfg) -> None:
        run_task(_task, cfg)

    _main()


if __name__ == "__main__":
    main()
