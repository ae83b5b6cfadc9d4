"""Splitting an evaluation set over DDP processes without the padding duplicates of
``DistributedSampler`` (a repeated image would be counted twice in the metrics)."""

from __future__ import annotations

from typing import Iterator

from torch.utils.data import Sampler

__all__ = ["ShardSampler"]


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world_size, …`` of ``0 .. length-1``: every index on exactly one rank."""

    def __init__(self, length: int, world_size: int = 1, rank: int = 0) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.indices = list(range(rank, int(length), world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
