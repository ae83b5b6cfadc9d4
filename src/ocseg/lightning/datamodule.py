"""The one LightningDataModule shared by training, evaluation and SegFix.

Datasets are given as factories (Hydra ``_partial_`` configs holding the dataset's files and
augmentation), completed here with what the rest of the run decides: the model's input
normalisation, the task's extra per-sample targets (SegFix distance/direction), whether instance
maps are read, and ``on_bad_file``. Nothing is read until ``setup``; generating the synthetic
data (``prepare``) happens once, on rank 0. The batch is given as the total of one optimizer step
(``global_batch_size``, the original's ``train.batch_size``) and divided over the processes by
:meth:`set_world_size`, unless a per-device ``batch_size`` is set. Under DDP the val split is
shared out without the padding duplicates of ``DistributedSampler`` (every image scored once, as
eval.py does).
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Callable

from lightning.pytorch import LightningDataModule
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset, Sampler

from ocseg.data.trainable import check_batches, check_crop, sample_sizes
from ocseg.data.transforms import reseed
from ocseg.errors import OcsegError

__all__ = ["SegDataModule", "per_device_batch", "default_workers", "MAX_DEFAULT_WORKERS"]

#: loader workers per process when ``num_workers`` is None: the cores, up to this many
MAX_DEFAULT_WORKERS = 4

DatasetFactory = Callable[..., Dataset]

log = logging.getLogger("ocseg.data")


def per_device_batch(global_batch_size: int, world_size: int) -> int:
    """``global_batch_size / world_size``, or one clear error when it does not divide."""
    if global_batch_size < 1 or global_batch_size % world_size:
        raise OcsegError(
            f"data.global_batch_size={global_batch_size} does not divide over {world_size} "
            f"processes (devices × nodes); use a total batch that is a multiple of {world_size}, "
            "another device count, or set data.batch_size=<images per device>")
    return global_batch_size // world_size


def cpu_cores() -> int:
    """The CPU cores this process may run on (its affinity; all cores where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_workers(processes: int = 1) -> int:
    """Loader workers per process: the machine's cores shared by its ``processes`` (devices on
    this node), at most :data:`MAX_DEFAULT_WORKERS`."""
    return max(0, min(MAX_DEFAULT_WORKERS, cpu_cores() // max(processes, 1)))


class SegDataModule(LightningDataModule):
    """Args:
        train_set, val_set, test_set: dataset factories (None where the split is not used).
        prepare: optional callable run once before ``setup`` (e.g. generate synthetic data).
        normalize: image → network input (the model's normalisation), given to every factory.
        target_transform: optional per-sample extra targets from the augmented label.
        with_instances: also read each sample's instance-id map (SegFix instance targets).
        seed: seed of the training augmentation in the main process (workers reseed themselves).
        global_batch_size: images of one optimizer step over all processes.
        batch_size: images per process; None: ``global_batch_size / world size``.
        val_batch_size: evaluation batch size per process (images of one size only when > 1).
        num_workers: DataLoader worker processes per process; None: :func:`default_workers`.
        on_bad_file: ``error`` (stop at a corrupt image/label) or ``skip`` (skip and count it).
    """

    def __init__(
        self,
        train_set: DatasetFactory | None = None,
        val_set: DatasetFactory | None = None,
        test_set: DatasetFactory | None = None,
        prepare: Callable[[], object] | None = None,
        normalize: Callable | None = None,
        target_transform: Callable | None = None,
        with_instances: bool = False,
        seed: int | None = None,
        global_batch_size: int = 8,
        batch_size: int | None = None,
        val_batch_size: int = 1,
        num_workers: int | None = None,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        on_bad_file: str = "error",
    ) -> None:
        super().__init__()
        self.factories = {"train": train_set, "val": val_set, "test": test_set}
        self.prepare = prepare
        self.normalize = normalize
        self.target_transform = target_transform
        self.with_instances = bool(with_instances)
        self.seed = seed
        self.global_batch_size = int(global_batch_size)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.val_batch_size = int(val_batch_size)
        self.num_workers = None if num_workers is None else int(num_workers)
        self.pin_memory = bool(pin_memory)
        self.persistent_workers = bool(persistent_workers)
        self.on_bad_file = on_bad_file
        self.datasets: dict[str, Dataset] = {}

    def set_world_size(self, world_size: int) -> int:
        """Fix the per-process batch for ``world_size`` processes; returns it."""
        if self.batch_size is None:
            self.batch_size = per_device_batch(self.global_batch_size, world_size)
        return self.batch_size

    def prepare_data(self) -> None:
        if self.prepare is not None:
            self.prepare()

    def dataset(self, split: str) -> Dataset:
        """The dataset of ``split`` ('train', 'val' or 'test'), built on first use."""
        if split not in self.datasets:
            factory = self.factories.get(split)
            if factory is None:
                raise ValueError(f"no '{split}' dataset is configured")
            extra = {"with_instances": True} if self.with_instances and split != "test" else {}
            dataset = factory(normalize=self.normalize, on_bad_file=self.on_bad_file,
                              target_transform=self.target_transform if split != "test" else None,
                              **extra)
            if split == "train" and getattr(dataset, "transform", None) is not None:
                reseed(dataset.transform, self.seed)
            self.datasets[split] = dataset
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
        if stage == "fit" and self.factories.get("train") is not None:
            self.check_trainable()

    def _world_size(self) -> int:
        trainer = getattr(self, "trainer", None)
        return int(trainer.world_size) if trainer is not None else 1

    def check_trainable(self) -> None:
        """Stop before training, with one error naming the fix, when the training loader would
        be empty (fewer images per process than the batch) or the crop is larger than every
        image (:mod:`ocseg.data.trainable`)."""
        world_size = self._world_size()
        if self.batch_size is None:
            self.set_world_size(world_size)
        dataset = self.dataset("train")
        key = "data.global_batch_size" if self.batch_size * world_size == self.global_batch_size \
            else "data.batch_size"
        check_batches(len(dataset), self.batch_size, world_size, key)
        transform = getattr(dataset, "transform", None)
        if transform is not None and getattr(dataset, "samples", None):
            check_crop(transform, sample_sizes(dataset.samples))

    def workers(self) -> int:
        """Loader worker processes per process: ``num_workers``, or :func:`default_workers` for
        the devices of this machine. More workers than cores is said once."""
        if self.num_workers is not None:
            cores = cpu_cores()
            if self.num_workers > cores and not getattr(self, "_said_workers", False):
                self._said_workers = True
                log.warning("data.num_workers=%d is more than the %d CPU cores this process may "
                            "use, which can slow loading down; data.num_workers=null picks "
                            "min(%d, cores per process)", self.num_workers, cores, MAX_DEFAULT_WORKERS)
                # torch says the same for every loader and every iterator it starts
                warnings.filterwarnings("ignore", message="This DataLoader will create")
            return self.num_workers
        trainer = getattr(self, "trainer", None)
        return default_workers(int(getattr(trainer, "num_devices", 1) or 1) if trainer else 1)

    def _loader(self, split: str, batch_size: int, train: bool,
                sampler: Sampler | None = None) -> DataLoader:
        workers = self.workers()
        return DataLoader(
            self.dataset(split), batch_size=batch_size, shuffle=train and sampler is None,
            drop_last=train, sampler=sampler, num_workers=workers, pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and workers > 0,
        )

    def _unrepeated(self, split: str) -> Sampler | None:
        """Each image on exactly one process under DDP (Lightning keeps a ``DistributedSampler``
        it is given); None in one process, or when some process would get no image at all."""
        trainer = self.trainer
        if trainer is None or not 1 < trainer.world_size <= len(self.dataset(split)):
            return None
        return UnrepeatedDistributedSampler(self.dataset(split), num_replicas=trainer.world_size,
                                            rank=trainer.global_rank, shuffle=False)

    def train_dataloader(self) -> DataLoader:
        if self.batch_size is None:  # used without a trainer (tests, notebooks): one process
            self.set_world_size(1)
        return self._loader("train", self.batch_size, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.val_batch_size, train=False, sampler=self._unrepeated("val"))

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.val_batch_size, train=False)
