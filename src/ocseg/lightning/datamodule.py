"""The one LightningDataModule shared by training, evaluation and SegFix.

Datasets are given as factories (Hydra ``_partial_`` configs), so nothing is read until ``setup``
and generation of the synthetic data (``prepare``) happens once, on rank 0. ``on_bad_file`` is
passed to every factory; with ``skip`` the number of corrupt files skipped is reported at the end.
"""

from __future__ import annotations

import logging
from typing import Callable

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

__all__ = ["SegDataModule"]

DatasetFactory = Callable[..., Dataset]

log = logging.getLogger("ocseg.data")


class SegDataModule(LightningDataModule):
    """Args:
        train_set, val_set, test_set: dataset factories (None where the split is not used).
        prepare: optional callable run once before ``setup`` (e.g. generate synthetic data).
        batch_size: training batch size per device.
        val_batch_size: evaluation batch size per device (images of one size only when > 1).
        num_workers: DataLoader worker processes.
        on_bad_file: ``error`` (stop at a corrupt image/label) or ``skip`` (skip and count it).
    """

    def __init__(
        self,
        train_set: DatasetFactory | None = None,
        val_set: DatasetFactory | None = None,
        test_set: DatasetFactory | None = None,
        prepare: Callable[[], object] | None = None,
        batch_size: int = 8,
        val_batch_size: int = 1,
        num_workers: int = 4,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        on_bad_file: str = "error",
    ) -> None:
        super().__init__()
        self.factories = {"train": train_set, "val": val_set, "test": test_set}
        self.prepare = prepare
        self.batch_size = int(batch_size)
        self.val_batch_size = int(val_batch_size)
        self.num_workers = int(num_workers)
        self.pin_memory = bool(pin_memory)
        self.persistent_workers = bool(persistent_workers) and self.num_workers > 0
        self.on_bad_file = on_bad_file
        self.datasets: dict[str, Dataset] = {}

    def prepare_data(self) -> None:
        if self.prepare is not None:
            self.prepare()

    def dataset(self, split: str) -> Dataset:
        """The dataset of ``split`` ('train', 'val' or 'test'), built on first use."""
        if split not in self.datasets:
            factory = self.factories.get(split)
            if factory is None:
                raise ValueError(f"no '{split}' dataset is configured")
            # only a non-default policy is passed, so factories without the argument still work
            self.datasets[split] = factory() if self.on_bad_file == "error" \
                else factory(on_bad_file=self.on_bad_file)
        return self.datasets[split]

    def skipped_files(self) -> dict[str, int]:
        """Corrupt files skipped so far per split (``on_bad_file=skip``)."""
        return {split: int(getattr(ds, "skipped", 0)) for split, ds in self.datasets.items()}

    def teardown(self, stage: str | None = None) -> None:
        for split, count in self.skipped_files().items():
            if count:
                log.warning("skipped %d corrupt file(s) in the %s split (data.on_bad_file=skip)",
                            count, split)

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ["train", "val"], "validate": ["val"], "test": ["test"],
                  "predict": ["test"]}.get(stage or "", ["train", "val", "test"])
        for split in wanted:
            if self.factories.get(split) is not None:
                self.dataset(split)

    def _loader(self, split: str, batch_size: int, train: bool) -> DataLoader:
        return DataLoader(
            self.dataset(split), batch_size=batch_size, shuffle=train, drop_last=train,
            num_workers=self.num_workers, pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.val_batch_size, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.val_batch_size, train=False)
