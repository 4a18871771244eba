"""The U-Net colorizer: plain regression of the target colour channels (L1 by default)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from colorgan.models.base import SingleLossColorizer
from colorgan.models.simulated_user import SimulatedUser
from colorgan.nets.generators import takes_hints
from colorgan.nets.semantic_loss import SemanticLoss

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
        semantic: colorgan.nets.semantic_loss.SemanticLoss settings ({classifier, feature, kl, size}),
            added to the colour loss on the predicted RGB photo; None: the colour loss alone.
        generator_init: a colorizer checkpoint (or the shipped photo.pt) whose generator starts this one.
        lr_schedule: None (a constant learning rate) or "cosine" (from lr down to 1% of it over the fit).
        hints: a hint model's simulated users (colorgan.models.simulated_user.SimulatedUser settings):
            each training photo gets hints from its original; None: no hints (validation and test
            always colorize without hints, as the automatic models do).
        colourfulness: weight of a charge for a predicted photo paler than its original
            (colorgan.nets.colourfulness_loss, capped at the original's own): L1 and the semantic
            loss pull towards gray where unsure, this pulls back (0: off).
        colourfulness_sure: scale each photo's charge for paleness by how sure the semantic loss's
            classifier is, from the gray photo, of the class it gives the original (needs semantic and
            colourfulness): colour is asked for where the photo says what the thing is.
        colourfulness_where: "photo" (the charge per photo, on Hasler and Suesstrunk's colourfulness)
            or "pixel" (per pixel, on Lab chroma: colour asked for only where the original has it).
        channels_last, compile, init, select_classifier: see ColorizerModule.
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
        semantic: dict[str, Any] | None = None,
        generator_init: str | None = None,
        select_classifier: str | None = None,
        lr_schedule: str | None = None,
        hints: dict[str, Any] | None = None,
        colourfulness: float = 0.0,
        colourfulness_sure: bool = False,
        colourfulness_where: str = "photo",
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"Unknown loss {loss!r}; valid names: {', '.join(LOSSES)}.")
        self.check_photo_terms(colourfulness, colourfulness_sure, semantic, colourfulness_where)
        super().__init__(color_space, generator, channels_last, compile, init, select_classifier)
        self.save_hyperparameters()
        self.use_memory_format()
        self.loss_fn = LOSSES[loss]
        self.semantic_loss = SemanticLoss(**semantic) if semantic else None
        self.simulated_user = SimulatedUser(**hints) if hints else None
        if hints and (self.color_space.name != "lab" or not takes_hints(self.generator)):
            raise ValueError("model.hints (simulated users) train a hint model: a Lab model whose generator "
                             "takes hints (model/generator=hint_unet, data.color_space=lab).")

    def training_loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        hints = self.simulated_user(targets) if self.simulated_user is not None else None
        pred = self(inputs, hints)
        loss = self.loss_fn(pred, targets)
        if self.semantic_loss is not None or self.hparams.colourfulness:
            self.loss_parts = {"colour": loss.detach()}
        return self.with_photo_terms(loss, inputs, pred, targets)
