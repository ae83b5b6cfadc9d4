"""Lightning glue: the shared LightningModule and LightningDataModule, and what keeps long runs
safe: atomic checkpoint files, ``last.ckpt`` (periodic, on SIGTERM), resuming with
``ckpt_path=last``."""

from ocseg.lightning.checkpoint_io import AtomicCheckpointIO
from ocseg.lightning.datamodule import SegDataModule
from ocseg.lightning.last_checkpoint import LastCheckpoint
from ocseg.lightning.module import SegmentationModule

__all__ = ["AtomicCheckpointIO", "LastCheckpoint", "SegDataModule",
           "SegmentationModule"]
