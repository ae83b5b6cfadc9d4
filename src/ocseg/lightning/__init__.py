"""Lightning glue: the shared LightningModule and LightningDataModule."""

from ocseg.lightning.datamodule import SegDataModule
from ocseg.lightning.module import SegmentationModule

__all__ = ["SegDataModule", "SegmentationModule"]
