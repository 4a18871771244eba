"""Whole-batch loading from an in-memory uint8 tensor: one index tensor per batch, no per-image
Python work, and a shuffle that depends only on (seed, epoch) so a resumed run sees the same order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch.utils.data import Dataset, Sampler


class ColorBatch(NamedTuple):
    """A batch after transfer: true RGB (B, 3, H, W) in [0, 1], network inputs and targets."""

    rgb: torch.Tensor
    inputs: torch.Tensor
    targets: torch.Tensor


class TensorImages(Dataset):
    """Indexable by a 1-D index tensor: returns the (B, 3, H, W) uint8 batch at those indices."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, indices: torch.Tensor) -> torch.Tensor:
        return self.images[indices]


class IndexBatches(Sampler):
    """Yields index tensors of `batch_size`, this rank's share of a (seed, epoch)-seeded shuffle.

    Sharding happens here (not in Lightning's DistributedSampler), so DDP works with whole-batch
    indexing: each rank takes every world_size-th batch. With `device`, the epoch's indices are
    copied there at once, for images that live on that device.
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        shuffle: bool,
        drop_last: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        self.size, self.batch_size = size, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.device = device
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Lightning calls this at the start of every epoch."""
        self.epoch = epoch

    def _batches(self) -> list[torch.Tensor]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.size, generator=generator)
        else:
            order = torch.arange(self.size)
        batches = list(order.split(self.batch_size))
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.world_size > 1:
            batches = batches[: len(batches) - len(batches) % self.world_size] if self.drop_last else batches
            batches = batches[self.rank :: self.world_size]
        return batches

    def __iter__(self) -> Iterator[torch.Tensor]:
        batches = self._batches()
        if self.device is None or not batches:
            return iter(batches)
        # One host-to-device copy per epoch instead of one (synchronising) copy per batch.
        return iter(torch.cat(batches).to(self.device).split([len(b) for b in batches]))

    def __len__(self) -> int:
        return len(self._batches())
