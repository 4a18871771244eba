"""What every colorizer shares: a U-Net generator, its colour space, and evaluation of the merged
RGB prediction with the full metric suite next to the grayscale baseline."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from colorgan.color_space import ColorSpace
from colorgan.data.batches import ColorBatch
from colorgan.metrics import colorization_metrics
from colorgan.unet import UNetGenerator


class ColorizerModule(L.LightningModule):
    """Base LightningModule: subclasses add a training step.

    Args:
        color_space: "lab" or "rgb"; sets the generator's output channels.
        generator: keyword arguments of UNetGenerator (channels, activation, norm, ...).
    """

    def __init__(self, color_space: str = "lab", generator: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.color_space = ColorSpace(color_space)
        space = self.color_space
        self.generator = UNetGenerator(space.in_channels, space.out_channels, **dict(generator or {}))
        # (H, W) of the training images, saved in checkpoints: inference's default working resolution.
        self.train_image_size: list[int] | None = None
        self.metrics = torch.nn.ModuleDict(
            {
                f"{stage}{kind}": colorization_metrics(prefix=f"{stage}{kind}/")
                for stage in ("val", "test")
                for kind in ("", "_baseline")
            }
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Network inputs (B, 1, H, W) in [-1, 1] -> targets (B, C, H, W) in [-1, 1]."""
        return self.generator(inputs)

    @torch.no_grad()
    def colorize(self, inputs: torch.Tensor) -> torch.Tensor:
        """Network inputs -> RGB (B, 3, H, W) in [0, 1]."""
        return self.color_space.merge(inputs, self(inputs))

    def on_train_batch_start(self, batch: ColorBatch, batch_idx: int) -> None:
        self.train_image_size = list(batch.rgb.shape[-2:])

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.train_image_size is not None:
            checkpoint["train_image_size"] = self.train_image_size

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.train_image_size = checkpoint.get("train_image_size", self.train_image_size)

    def _evaluate(self, batch: ColorBatch, stage: str) -> None:
        pred_rgb = self.color_space.merge(batch.inputs, self(batch.inputs))
        gray_rgb = self.color_space.merge(batch.inputs, self.color_space.gray_target(batch.inputs))
        model, baseline = self.metrics[stage], self.metrics[f"{stage}_baseline"]
        model.update(pred_rgb, batch.rgb)
        baseline.update(gray_rgb, batch.rgb)
        # Logging the collections lets Lightning compute, sync and reset them at epoch end.
        self.log_dict(model, on_step=False, on_epoch=True, prog_bar=stage == "val", batch_size=len(batch.rgb))
        self.log_dict(baseline, on_step=False, on_epoch=True, batch_size=len(batch.rgb))

    def validation_step(self, batch: ColorBatch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: ColorBatch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: ColorBatch, batch_idx: int) -> torch.Tensor:
        return self.colorize(batch.inputs)
