"""The LightningDataModule shared by every model: uint8 RGB batches on the host, then on the
training device: to float, random horizontal flip (training only), colour space split.

With `on_device=True` (CIFAR-10) the whole uint8 split lives on the training device and every
batch is gathered there by an index tensor: no host-to-device copy per batch (GPU fast path)."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from colorgan.color_space import ColorSpace
from colorgan.data.batches import ColorBatch, IndexBatches, ResumableDataLoader, TensorImages
from colorgan.data.errors import DatasetError


class ColorizationDataModule(L.LightningDataModule):
    """Base class: subclasses fill `self.train_images`, `self.val_images`, `self.test_images`
    ((N, 3, H, W) uint8 tensors) in `setup`; this class turns them into device-side batches."""

    on_device = False  # keep the uint8 images on the trainer's root device (CIFAR10DataModule's option)
    batch_sampler_class = IndexBatches

    def __init__(
        self,
        color_space: str = "lab",
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        flip: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.color_space = ColorSpace(color_space)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.flip = flip
        self.seed = seed
        self.train_images = self.val_images = self.test_images = None

    # -- loaders -------------------------------------------------------------------------------
    def _batch_sampler(self, size: int, train: bool, device: torch.device | None = None) -> IndexBatches:
        """This rank's whole batches of `size` items: shuffled and full for training, in order for eval.
        With `device`, the index tensors are made there (for images that live on that device)."""
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        return self.batch_sampler_class(
            size,
            self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            drop_last=train,
            seed=self.seed,
            rank=rank,
            world_size=world,
            device=device,
        )

    def _loader(self, split: str, train: bool) -> DataLoader:
        images = getattr(self, f"{split}_images")
        device = self.trainer.strategy.root_device if self.on_device and self.trainer else None
        if device is not None and images.device != device:
            images = images.to(device)  # once per split and device: about 150 MB for CIFAR-10's train split
            setattr(self, f"{split}_images", images)
        sampler = self._batch_sampler(len(images), train, device)
        pin = torch.cuda.is_available() and images.device.type == "cpu"
        return self._whole_batch_loader(TensorImages(images), sampler, train, pin_memory=pin)

    def _whole_batch_loader(self, dataset: Dataset, sampler: IndexBatches, train: bool, **options) -> DataLoader:
        """A loader of the sampler's whole batches (batch_size=None: each index tensor is a batch).
        The training loader checkpoints its position in the epoch, so a mid-epoch resume continues
        the order. The loader's own generator draws the per-iterator seed that DataLoader otherwise
        takes from torch's global one, so creating an iterator does not move the global state the
        training flip draws from (a resumed run creates its iterator at another moment)."""
        if train and len(sampler) == 0:  # Lightning would skip the epoch, test the untrained model, call it done
            per_rank = f" on each of {sampler.world_size} processes" if sampler.world_size > 1 else ""
            raise DatasetError(
                f"{len(dataset)} training images make no full batch of data.batch_size={self.batch_size}{per_rank}: "
                "the run would train on zero batches. Use a smaller data.batch_size or add images."
            )
        loader = ResumableDataLoader if train else DataLoader
        return loader(dataset, sampler=sampler, batch_size=None, generator=torch.Generator().manual_seed(self.seed),
                      **options)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()

    # -- on the device -------------------------------------------------------------------------
    def on_after_batch_transfer(self, batch: torch.Tensor, dataloader_idx: int) -> ColorBatch:
        return self.color_batch(batch, train=self.trainer is not None and self.trainer.training)

    def color_batch(self, batch: torch.Tensor, train: bool) -> ColorBatch:
        """uint8 RGB (B, 3, H, W) on the device -> ColorBatch; flipped at random when `train`."""
        rgb = batch.float() / 255.0  # (B, 3, H, W) in [0, 1]
        if self.flip and train:
            flip = torch.rand(rgb.shape[0], 1, 1, 1, device=rgb.device) < 0.5
            rgb = torch.where(flip, rgb.flip(-1), rgb)
        inputs, targets = self.color_space.split(rgb)
        return ColorBatch(rgb, inputs, targets)

    def split_sizes(self) -> tuple[int, int, int]:
        """How many train, validation and test images (after setup)."""
        return len(self.train_images), len(self.val_images), len(self.test_images)

    def sample_images(self, count: int) -> torch.Tensor:
        """The first `count` test images (uint8): the fixed images of every image grid."""
        if self.test_images is None:
            self.setup("test")
        return self.test_images[:count]

    def prior_images(self, count: int) -> torch.Tensor:
        """Up to `count` training images (uint8, (N, 3, H, W)): what a model counts its colour prior
        on (colorgan.models.classify_colorizer). A seeded choice, the same for every run and rank."""
        if self.train_images is None:
            self.setup("fit")
        chosen = torch.randperm(len(self.train_images), generator=torch.Generator().manual_seed(0))[:count]
        return self.train_images[chosen.sort().values.to(self.train_images.device)].cpu()
