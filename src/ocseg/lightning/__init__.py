"""Lightning glue: the shared LightningModule and LightningDataModule, and what keeps long runs
safe: atomic checkpoint files, ``last.ckpt`` (periodic, on SIGTERM), resuming with
``ckpt_path=last``, and the NaN/Inf and fp16-overflow guard."""

from ocseg.lightning.checkpoint_io import AtomicCheckpointIO
from ocseg.lightning.datamodule import SegDataModule
from ocseg.lightning.last_checkpoint import LastCheckpoint
from ocseg.lightning.module import SegmentationModule
from ocseg.lightning.numerics import NumericsGuard

__all__ = ["AtomicCheckpointIO", "LastCheckpoint", "NumericsGuard", "SegDataModule",
           "SegmentationModule"]
