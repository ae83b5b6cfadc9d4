"""Initialising a training stage from the previous stage's checkpoint (``train.py init_from=``).

The original chained its Cityscapes leaderboard stages with ``--resume <file> --resume_strict
False`` (e.g. ``scripts/cityscapes/hrnet/run_h_48_d_4_ocr_b_mapillary_trainval_ohem.sh``, master,
lines 37-40): ``ModuleRunner.load_state_dict`` (``segmentor/tools/module_runner.py``, master,
lines 114-155) copied every tensor whose name and shape fit and only warned about the rest, so
the 65-class Mapillary classifiers kept their random initialisation in the 19-class Cityscapes
stage, and training restarted at iteration 0 with a fresh optimiser. This does the same with any
ocseg ``.ckpt`` or original ``.pth`` and says what it skipped. Resuming an interrupted run is a
different thing: ``ckpt_path=<last.ckpt>``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from ocseg.checkpoints.files import read_checkpoint
from ocseg.checkpoints.load import load_checkpoint
from ocseg.checkpoints.zoo import resolve_checkpoint
from ocseg.errors import OcsegError

__all__ = ["StageInit", "init_from_checkpoint"]

log = logging.getLogger(__name__)

# bookkeeping entries, not weights
_NOT_WEIGHTS = ("num_batches_tracked", "_extra_state")
# below this fraction of the network's tensors the file is not a previous stage of this model
_MIN_LOADED = 0.5


@dataclass
class StageInit:
    """What :func:`init_from_checkpoint` did: ``loaded`` of ``total`` tensors copied; ``skipped``
    lists the tensors that kept their fresh initialisation (absent or of another shape)."""

    path: str
    kind: str
    loaded: int
    total: int
    skipped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"init_from='{self.path}' ({self.kind}): {self.loaded}/{self.total} tensors loaded"
        if self.skipped:
            shown = ", ".join(self.skipped[:6]) + (", …" if len(self.skipped) > 6 else "")
            text += (f"; {len(self.skipped)} keep their fresh initialisation (not in the file or "
                     f"of another shape, e.g. the classifier of another class count): {shown}")
        return text


def init_from_checkpoint(net: nn.Module, path: str | Path, trust: bool | None = None) -> StageInit:
    """Copy every fitting tensor of ``path`` into ``net``; the others stay as initialised.
    ``trust``: as ``trust_checkpoint`` (None: :func:`ocseg.io.safe_load.trusted_files`).

    Raises :class:`OcsegError` when less than half of the network's tensors fit (the file is
    not a previous stage of this model).
    """
    missing: list[list[str]] = []
    handle = net.register_load_state_dict_post_hook(
        lambda module, keys: missing.append(list(keys.missing_keys)))
    try:
        path = resolve_checkpoint(path)  # zoo:<name>: the released file, fetched once
        obj = read_checkpoint(path, trust=trust, option="init_from")
        kind = load_checkpoint(net, path, strict=False, obj=obj)
    finally:
        handle.remove()
    weights = [k for k in net.state_dict() if not k.endswith(_NOT_WEIGHTS)]
    not_loaded = set(missing[-1]) if missing else set(weights)
    skipped = [k for k in weights if k in not_loaded]
    report = StageInit(str(path), kind, len(weights) - len(skipped), len(weights), skipped)
    if report.loaded < _MIN_LOADED * report.total:
        raise OcsegError(f"init_from='{path}' fits only {report.loaded}/{report.total} tensors of this "
                         f"network (first skipped: {', '.join(skipped[:3])}); pass a checkpoint of "
                         "the same model= (a previous stage of this recipe)")
    log.info("%s", report)
    return report
