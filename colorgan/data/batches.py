"""Whole-batch loading from an in-memory uint8 tensor: one index tensor per batch, no per-image
Python work, and a shuffle that depends only on (seed, epoch) so a resumed run sees the same order.
ResumableDataLoader lets Lightning checkpoint the position inside an epoch, so a run resumed from a
mid-epoch checkpoint continues with the next batch instead of restarting the epoch's order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class ColorBatch(NamedTuple):
    """A batch after transfer: true RGB (B, 3, H, W) in [0, 1], network inputs and targets."""

    rgb: torch.Tensor
    inputs: torch.Tensor
    targets: torch.Tensor


class FolderBatch(NamedTuple):
    """What a folder loader yields: uint8 images (B, 3, S, S) and the (path, error) of files that
    failed to decode in the worker (replaced or dropped), so the main process can count them."""

    images: torch.Tensor
    failed: list[tuple[str, str]]


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
        self._skip = 0

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

    def skip_next_pass(self, batches: int) -> None:
        """Start the next pass at this batch of the epoch's order (resuming mid-epoch)."""
        self._skip = batches

    def __iter__(self) -> Iterator[torch.Tensor]:
        # A generator, so the order is drawn at the first batch: when resuming, Lightning creates
        # the iterator before it calls set_epoch.
        skip, self._skip = self._skip, 0
        batches = self._batches()[skip:]
        if self.device is not None and batches:
            # One host-to-device copy per epoch instead of one (synchronising) copy per batch.
            batches = torch.cat(batches).to(self.device).split([len(b) for b in batches])
        yield from batches

    def __len__(self) -> int:
        return len(self._batches())


class ResumableDataLoader(DataLoader):
    """A DataLoader over an IndexBatches sampler whose position inside an epoch is checkpointed.

    Lightning saves `state_dict()` of a training loader that has one (with the loop state) and
    calls `load_state_dict()` when it resumes mid-epoch; the next pass over that epoch then skips
    the batches already trained on. It counts the batches it delivered to the training loop, not
    those its sampler handed out, so the count is right with prefetching workers too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.sampler, IndexBatches):
            raise TypeError(f"ResumableDataLoader needs an IndexBatches sampler, got {type(self.sampler).__name__}.")
        self._position = {"epoch": 0, "batches": 0}
        self._resume_at: dict[str, int] | None = None

    def __iter__(self) -> Iterator[Any]:
        # A generator: this runs at the first batch, after Lightning's set_epoch.
        epoch = self.sampler.epoch
        resume, self._resume_at = self._resume_at, None
        skip = resume["batches"] if resume and resume["epoch"] == epoch else 0
        self.sampler.skip_next_pass(skip)
        self._position = {"epoch": epoch, "batches": skip}
        for batch in super().__iter__():
            self._position["batches"] += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return dict(self._position)

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._resume_at = {"epoch": int(state["epoch"]), "batches": int(state["batches"])}
