"""``ocseg-segfix-gt``: the ground truth of ``conf/segfix_ground_truth.yaml`` for a label folder."""

from __future__ import annotations

from ocseg.io.status import status_logger
from ocseg.segfix.ground_truth.generate import dataset_label_ids, generate_ground_truth

__all__ = ["run"]

log = status_logger(__name__)


def run(cfg) -> dict:
    """Write ``<output>/<stem>.mat`` for every label under ``cfg.input``; returns a summary."""
    summary = generate_ground_truth(
        cfg.input, cfg.output, cfg.kind, dataset_label_ids(cfg.dataset), glob=cfg.glob,
        min_pixels=cfg.min_pixels, skip_existing=cfg.skip_existing, workers=cfg.workers,
        progress=cfg.progress)
    log.info("wrote %d SegFix %s ground-truth files to %s%s", summary["written"], cfg.kind,
             summary["output"],
             f" ({summary['skipped']} existing kept)" if summary["skipped"] else "")
    return summary
