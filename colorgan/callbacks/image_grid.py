"""Image grids like the seed's slides: rows original | grayscale | prediction, one column an image."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from PIL import Image

from colorgan.callbacks.dashboards import log_validation_images
from colorgan.image_io import comparison_rows, make_grid, save_image


class ValidationImageGrid(L.Callback):
    """After every validation epoch, colorize the same fixed test images and save
    `<run dir>/images/epoch_NNN.png`; the attached loggers get it too, W&B with a prediction table
    of the same images (colorgan.callbacks.dashboards)."""

    def __init__(self, num_images: int = 8, scale: int = 4, dirname: str = "images") -> None:
        self.num_images, self.scale, self.dirname = num_images, scale, dirname
        self.images: torch.Tensor | None = None
        self.paths: list[Path] = []

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.images = trainer.datamodule.sample_images(self.num_images)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.images is None or not trainer.is_global_zero:
            return
        rgb = self.images.to(pl_module.device).float() / 255.0
        was_training = pl_module.training
        pl_module.eval()
        # Eager even when the networks are compiled: a batch of num_images would be one more graph
        # to compile, on rank 0 only, for one call per epoch.
        with torch.no_grad(), torch.compiler.set_stance("force_eager"):
            rows = comparison_rows(rgb, pl_module.color_space, pl_module)
        pl_module.train(was_training)
        path = Path(trainer.default_root_dir) / self.dirname / f"epoch_{trainer.current_epoch + 1:03d}.png"  # from 1, as the checkpoints
        path.parent.mkdir(parents=True, exist_ok=True)
        grid = make_grid(rows, self.scale)
        save_image(Image.fromarray(grid), path, "PNG")
        self.paths.append(path)
        log_validation_images(trainer, rows, grid, path, self.scale)
