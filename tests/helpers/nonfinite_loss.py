"""A cross-entropy that is NaN in one training batch on DDP rank 1 only, for the DDP skip test in
``tests/test_train_numerics.py`` (a class the spawned processes can import by name)."""

from __future__ import annotations

import torch

from ocseg.losses import CrossEntropy


class NanOnRankOne(CrossEntropy):
    """``CrossEntropy`` whose terms are NaN on rank 1 in training call number ``bad_call``."""

    def __init__(self, bad_call: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bad_call = int(bad_call)
        self.calls = 0

    def terms(self, outputs, target):
        terms = super().terms(outputs, target)
        if self.training:
            rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
            if rank == 1 and self.calls == self.bad_call:
                terms = {name: value * float("nan") for name, value in terms.items()}
            self.calls += 1
        return terms
