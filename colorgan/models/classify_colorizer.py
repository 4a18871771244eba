"""The classification colorizer (Zhang, Isola and Efros 2016): a U-Net that predicts, per pixel, a
distribution over quantized ab colours, trained with cross-entropy on soft-encoded targets,
weighted so that rare (vivid) colours are not drowned by the common desaturated ones, and decoded
by annealed mean. L1 regression averages plausible colours into sepia; this keeps them apart.

    python -m colorgan.train +experiment=classify
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from colorgan.color_space import ColorSpace
from colorgan.models.base import SingleLossColorizer
from colorgan.nets.ab_bins import REBALANCE, nearest_bin, rebalancing_weights, smoothed_prior, soft_encode_sparse
from colorgan.nets.color_classifier import TEMPERATURE, ColorClassifierUNet
from colorgan.nets.semantic_loss import SemanticLoss
from colorgan.runs.checkpoint_io import generator_weights

log = logging.getLogger(__name__)

PRIOR_CHUNK = 256  # images per step while counting the colour prior


class ClassifyColorizer(SingleLossColorizer):
    """U-Net body + per-pixel softmax over ab bins; Lab only.

    Args:
        color_space: must be "lab" (the bins live in the ab plane).
        generator: UNetGenerator settings of the body (its output layer is the classifier head).
        temperature: annealed-mean temperature used to decode (validation, test, colorize); 0.38
            is the paper's, 1 gives the mean, 0 the mode.
        rebalance: lambda of the class rebalancing, weights 1 / ((1 - lambda) prior + lambda / Q):
            1 is no rebalancing, 0 the full 1 / prior; the paper's 0.5 between.
        prior_images: how many training images the colour prior is counted on, at the start of
            the first fit (kept in checkpoints, so a resumed or tested model does not count again).
        lr, betas, weight_decay: Adam's.
        generator_init: a U-Net colorizer checkpoint (or the shipped photo.pt) whose generator, less its
            output layer, starts the body; the classifier head starts from scratch.
        lr_schedule: None (a constant learning rate) or "cosine" (from lr down to 1% of it over the fit).
        decoded_l1: weight of an L1 loss on the decoded colour (the annealed mean, differentiable) against
            the original's ab, beside the cross-entropy: a tint laid over a whole photo costs there, where
            the bins' cross-entropy barely sees it (0: off).
        semantic: colorgan.nets.semantic_loss.SemanticLoss settings, on the decoded colour's RGB photo
            against the original; None: off.
        colourfulness: weight of a loss on how much paler the decoded colour's photo is than the
            original (colorgan.nets.colourfulness_loss; DDColor's colourfulness loss, capped at the
            original's own): L1 and the semantic loss pull towards gray where unsure, this pulls back (0: off).
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
        temperature: float = TEMPERATURE,
        rebalance: float = REBALANCE,
        prior_images: int = 5000,
        lr: float = 2e-4,
        betas: Sequence[float] = (0.5, 0.999),
        weight_decay: float = 0.0,
        channels_last: bool = False,
        compile: bool | str = False,
        init: str = "normal",
        generator_init: str | None = None,
        select_classifier: str | None = None,
        lr_schedule: str | None = None,
        decoded_l1: float = 0.0,
        semantic: dict[str, Any] | None = None,
        colourfulness: float = 0.0,
        colourfulness_sure: bool = False,
        colourfulness_where: str = "photo",
    ) -> None:
        if color_space != "lab":
            raise ValueError(
                f"The classification colorizer predicts Lab ab colours and needs color_space 'lab', got {color_space!r}: "
                "use data.color_space=lab, or a U-Net/GAN experiment for RGB."
            )
        if not 0.0 <= rebalance <= 1.0:
            raise ValueError(f"rebalance (lambda) must be in [0, 1], got {rebalance}.")
        if decoded_l1 < 0:
            raise ValueError(f"decoded_l1 is a loss weight and must be >= 0, got {decoded_l1}.")
        self.check_photo_terms(colourfulness, colourfulness_sure, semantic, colourfulness_where)
        self._temperature = temperature
        super().__init__(color_space, generator, channels_last, compile, init, select_classifier)
        self.save_hyperparameters()
        self.use_memory_format()
        q = self.generator.num_bins
        # The colour prior and the loss weights it gives, counted at the first fit (see on_fit_start).
        self.register_buffer("prior", torch.full((q,), 1.0 / q))
        self.register_buffer("class_weights", torch.ones(q))
        self.register_buffer("prior_count", torch.zeros((), dtype=torch.long))  # images counted; 0: not yet
        self.semantic_loss = SemanticLoss(**semantic) if semantic else None

    def build_generator(self, color_space: ColorSpace, settings: dict[str, Any]) -> ColorClassifierUNet:
        return ColorClassifierUNet(color_space.in_channels, self._temperature, **settings)

    # -- the colour prior ------------------------------------------------------------------------
    def warm_start(self, path: str) -> None:
        """The body from a regression colorizer's generator: every weight but its output layer's."""
        body = self.generator.body
        own = body.state_dict()
        weights = {k: v for k, v in generator_weights(path).items() if k in own}
        missing = sorted(set(own) - set(weights))
        if len(weights) < len(missing):
            raise ValueError(f"generator_init {path}: its generator shares only {len(weights)} tensors with this "
                             f"model's body ({len(missing)} missing, e.g. {missing[:3]}); use a checkpoint of the same generator settings.")
        body.load_state_dict(weights, strict=False)
        log.info("Body initialised from %s (%d tensors; %d start from scratch).", path, len(weights), len(missing))

    def on_fit_start(self) -> None:
        super().on_fit_start()
        if int(self.prior_count) > 0:  # counted before this run (resume, or a fine-tuned checkpoint)
            return
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is None or not hasattr(datamodule, "prior_images"):
            raise RuntimeError(
                "The classification colorizer counts its colour prior on the training images and needs a colorgan "
                "DataModule (with prior_images); fit it with datamodule=... of colorgan.data."
            )
        images = datamodule.prior_images(self.hparams.prior_images)
        counts = self.count_bins(images)
        self.prior.copy_(smoothed_prior(counts, self.generator.bins).to(self.prior))
        self.class_weights.copy_(rebalancing_weights(self.prior, self.hparams.rebalance))
        self.prior_count.fill_(len(images))
        w = self.class_weights
        log.info("Colour prior from %d training images over %d ab bins: loss weights %.2f to %.2f.",
                 len(images), len(w), float(w.min()), float(w.max()))

    @torch.no_grad()
    def count_bins(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 RGB (N, 3, H, W) -> (Q,) how many half-resolution pixels fall nearest each bin."""
        bins = self.generator.bins
        counts = torch.zeros(len(bins), dtype=torch.float64, device=bins.device)
        for chunk in images.split(PRIOR_CHUNK):
            _, ab = self.color_space.split(chunk.to(bins.device).float() / 255.0)
            index = nearest_bin(F.avg_pool2d(ab, 2), bins).flatten()
            counts.index_add_(0, index, torch.ones_like(index, dtype=counts.dtype))
        return counts

    # -- training --------------------------------------------------------------------------------
    def classification_loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Rebalanced cross-entropy of logits (B, h, w, Q) against ab targets (B, 2, H, W): targets
        averaged to the logits' resolution, soft-encoded over their 5 nearest bins, each pixel
        weighted by its nearest bin's weight."""
        with torch.autocast(logits.device.type, enabled=False):
            ab = F.adaptive_avg_pool2d(targets.float(), logits.shape[1:3])
            index, z = soft_encode_sparse(ab, self.generator.bins)  # (B, h, w, 5) each, nearest first
            log_p = F.log_softmax(logits.float(), dim=-1).gather(-1, index)
            cross_entropy = -(z * log_p).sum(dim=-1)  # (B, h, w)
            return (self.class_weights[index[..., 0]] * cross_entropy).mean()

    def training_loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self.generator.logits(self.in_memory_format(inputs))
        loss = self.classification_loss(logits, targets)
        hp = self.hparams
        if not hp.decoded_l1 and self.semantic_loss is None and not hp.colourfulness:
            return loss
        # The decoded colour, as validation and colorize will see it, with gradients through the annealed mean.
        pred = self.generator.decode(logits, tuple(targets.shape[-2:]))
        self.loss_parts = {"classes": loss.detach()}
        if hp.decoded_l1:
            decoded = F.l1_loss(pred, targets)
            self.loss_parts["decoded_l1"] = decoded.detach()
            loss = loss + hp.decoded_l1 * decoded
        return self.with_photo_terms(loss, inputs, pred, targets)
