"""The U-Net colorizer: plain regression of the target colour channels (L1 by default)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from colorgan.models.base import SingleLossColorizer

LOSSES = {"l1": F.l1_loss, "l2": F.mse_loss, "smooth_l1": F.smooth_l1_loss}


class UNetColorizer(SingleLossColorizer):
    """U-Net trained by regression on the colour targets.

    Args:
        color_space: "lab" or "rgb".
        generator: UNetGenerator keyword arguments.
        loss: "l1" (default), "l2" or "smooth_l1".
        lr: Adam learning rate.
        betas: Adam betas.
        weight_decay: Adam weight decay.
        channels_last, compile, init: see ColorizerModule.
    """

    def __init__(
        self,
        color_space: str = "lab",
        generator: dict[str, Any] | None = None,
        loss: str = "l1",
        lr: float = 2e-4,
        betas: Sequence[float] = (0.5, 0.999),
        weight_decay: float = 0.0,
        channels_last: bool = False,
        compile: bool | str = False,
        init: str = "normal",
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"Unknown loss {loss!r}; valid names: {', '.join(LOSSES)}.")
        super().__init__(color_space, generator, channels_last, compile, init)
        self.save_hyperparameters()
        self.use_memory_format()
        self.loss_fn = LOSSES[loss]

    def training_loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(self(inputs), targets)
