"""The conditional GAN colorizer (the seed's models 3 and 4, Nazeri et al. 2018, pix2pix):
`python -m colorgan.train +experiment=gan_lrelu`.

One training step takes one batch: `d_steps_per_g_step` discriminator updates on (gray, real
colour) against (gray, detached generated colour), then one generator update on
adversarial + lambda_l1 * L1. Optimization is manual (two Adam optimizers).

Step counting: Lightning adds every optimizer step to `global_step` (two per batch here). This
module steps D through the strategy without that counter, so `global_step`, `trainer.max_steps`,
`ModelCheckpoint(every_n_train_steps=...)` and `{step}` in checkpoint names all count generator
updates, which is one per batch. Logging intervals (`log_every_n_steps`) count batches anyway.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.core.optimizer import LightningOptimizer, do_nothing_closure

from colorgan.checkpoint_io import load_generator_weights
from colorgan.data.batches import ColorBatch
from colorgan.discriminators import build_discriminator
from colorgan.gan_losses import GANLoss
from colorgan.layers import init_weights
from colorgan.models.base import ColorizerModule

log = logging.getLogger(__name__)

LOSS_NAMES = ("d_loss", "g_adv", "g_l1", "g_loss", "d_real", "d_fake")


def check_d_steps(d_steps_per_g_step: int) -> None:
    """Raise ValueError unless it is a whole number of discriminator updates >= 1 (also run by
    colorgan.config_validation)."""
    if isinstance(d_steps_per_g_step, bool) or not isinstance(d_steps_per_g_step, int) or d_steps_per_g_step < 1:
        raise ValueError(f"d_steps_per_g_step must be an integer >= 1, got {d_steps_per_g_step!r}.")


class GANColorizer(ColorizerModule):
    """U-Net generator trained against a conditional discriminator.

    Args:
        color_space: "lab" or "rgb".
        generator: UNetGenerator keyword arguments (the same U-Net as UNetColorizer).
        discriminator: `name` ("patch" or "global") and that discriminator's keyword arguments
            (channels, n_layers, norm, activation); see colorgan.discriminators. `channels` None
            (the config's default): the generator's first width, so narrowing G narrows D.
        gan_loss: "vanilla" (the paper's log loss, non-saturating for G), "lsgan" or "hinge".
        lambda_l1: weight of the L1 term in G's loss (100 in the paper and pix2pix).
        real_label: D's target for real images; 0.9 is one-sided label smoothing.
        lr_g, lr_d: Adam learning rates of G and D.
        betas: Adam betas of both optimizers.
        d_steps_per_g_step: discriminator updates per generator update (each on the same batch).
        grad_clip_norm: clip each network's gradient norm to this before its step (None: no
            clipping). Done in `on_before_optimizer_step`, after mixed precision unscales, so it
            is correct under 16-mixed too. Trainer-level clipping is refused by Lightning here.
        generator_init: path to a U-Net (or GAN) colorizer checkpoint whose generator starts the
            adversarial training ("NoGAN" warm start). Loaded when fitting starts, not on resume.
        channels_last, compile, init: for G and D, see ColorizerModule.
    """

    def __init__(
        self,
        color_space: str = "lab",
        generator: dict[str, Any] | None = None,
        discriminator: dict[str, Any] | None = None,
        gan_loss: str = "vanilla",
        lambda_l1: float = 100.0,
        real_label: float = 1.0,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas: Sequence[float] = (0.5, 0.999),
        d_steps_per_g_step: int = 1,
        grad_clip_norm: float | None = None,
        generator_init: str | None = None,
        channels_last: bool = False,
        compile: bool | str = False,
        init: str = "default",
    ) -> None:
        super().__init__(color_space, generator, channels_last, compile, init)
        self.save_hyperparameters()
        self.automatic_optimization = False
        check_d_steps(d_steps_per_g_step)
        if grad_clip_norm is not None and grad_clip_norm <= 0:
            raise ValueError(f"grad_clip_norm must be positive or null (no clipping), got {grad_clip_norm}.")
        self.loss = GANLoss(gan_loss, real_label)
        d_kwargs = dict(discriminator or {})
        if d_kwargs.get("channels") is None:
            d_kwargs["channels"] = self.generator.encoder[0][0].out_channels
        space = self.color_space
        self.discriminator = build_discriminator(space.in_channels + space.out_channels, **d_kwargs)
        init_weights(self.discriminator, init)
        self.use_memory_format()
        self._last_finite: tuple[int, dict[str, float]] | None = None

    def networks(self) -> list[torch.nn.Module]:
        return [self.generator, self.discriminator]

    # -- training ------------------------------------------------------------------------------
    def discriminate(self, inputs: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
        """D's logits for colour (B, C, H, W) conditioned on the gray inputs (B, 1, H, W)."""
        return self.discriminator(self.in_memory_format(torch.cat([inputs, colour], dim=1)))

    def training_step(self, batch: ColorBatch, batch_idx: int) -> None:
        g_opt, d_opt = self.optimizers()
        step = self.global_step  # generator updates so far (D's steps are not counted)
        inputs, targets = batch.inputs, batch.targets
        fake = self(inputs)  # (B, C, H, W), keeps its graph for G's step

        # D: real vs the detached fake, so no gradient reaches G.
        with self.toggled_optimizer(d_opt):
            for _ in range(self.hparams.d_steps_per_g_step):
                real_logits = self.discriminate(inputs, targets)
                fake_logits = self.discriminate(inputs, fake.detach())
                d_loss = self.loss.discriminator(real_logits, fake_logits)
                d_opt.zero_grad()
                self.manual_backward(d_loss)
                self._step_uncounted(d_opt)

        # G: fool the updated D and stay close to the truth.
        with self.toggled_optimizer(g_opt):
            g_adv = self.loss.generator(self.discriminate(inputs, fake))
            g_l1 = F.l1_loss(fake.float(), targets.float())
            g_loss = g_adv + self.hparams.lambda_l1 * g_l1
            g_opt.zero_grad()
            self.manual_backward(g_loss)
            g_opt.step()

        # One host sync per step: the values are both logged and checked.
        stacked = torch.stack([d_loss, g_adv, g_l1, g_loss, self.loss.score(real_logits), self.loss.score(fake_logits)])
        values = dict(zip(LOSS_NAMES, stacked.detach().float().cpu().tolist(), strict=True))
        self._check_finite(values, step, batch_idx)
        self.log_train({f"train/{k}": v for k, v in values.items()}, len(inputs),
                       prog_bar=("train/d_loss", "train/g_l1"), epoch_mean=True)

    def _step_uncounted(self, optimizer: LightningOptimizer) -> None:
        """Step as LightningOptimizer.step does (precision plugin, on_before_optimizer_step hooks),
        minus the progress counter behind global_step, which is kept for the generator's steps."""
        self.trainer.strategy.optimizer_step(optimizer.optimizer, closure=do_nothing_closure)

    def _check_finite(self, values: dict[str, float], step: int, batch_idx: int) -> None:
        """Stop on the first non-finite loss, before any validation or checkpoint sees its weights."""
        if all(math.isfinite(v) for v in values.values()):
            self._last_finite = (step, values)
            return
        last = "none (the first step was already non-finite)"
        if self._last_finite is not None:
            last_step, last_values = self._last_finite
            last = f"at step {last_step}: " + ", ".join(f"{k}={v:.4g}" for k, v in last_values.items())
        raise FloatingPointError(
            f"GAN losses became non-finite at step {step} (epoch {self.current_epoch}, batch {batch_idx}): "
            + ", ".join(f"{k}={v:.4g}" for k, v in values.items())
            + f". Last finite losses {last}. Training stopped; no checkpoint was written from these weights. "
            "Try lower model.lr_g/model.lr_d, model.grad_clip_norm=1.0, model.gan_loss=lsgan, "
            "or trainer.precision=32-true / bf16-mixed instead of 16-mixed."
        )

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Mixed precision has unscaled the gradients by now, so the norm is the true one.
        if self.hparams.grad_clip_norm is not None:
            self.clip_gradients(optimizer, gradient_clip_val=self.hparams.grad_clip_norm, gradient_clip_algorithm="norm")

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        hp, betas = self.hparams, tuple(self.hparams.betas)
        return [
            torch.optim.Adam(self.generator.parameters(), lr=hp.lr_g, betas=betas),
            torch.optim.Adam(self.discriminator.parameters(), lr=hp.lr_d, betas=betas),
        ]

    # -- warm start and checkpoints ------------------------------------------------------------
    def on_fit_start(self) -> None:
        # Not on resume: the checkpoint being resumed (restored by now) holds the generator already.
        if self.hparams.generator_init and not self.trainer.ckpt_path:
            load_generator_weights(self.generator, self.hparams.generator_init, self.color_space, self.hparams.generator)
            log.info("Generator initialised from %s", self.hparams.generator_init)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse to write weights that are NaN or infinite (a last line behind the loss check)."""
        super().on_save_checkpoint(checkpoint)
        bad = [k for k, v in checkpoint["state_dict"].items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise FloatingPointError(
                f"Refusing to save a checkpoint at step {self.trainer.global_step}: non-finite values in "
                f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}. Training diverged; see the losses logged before."
            )
