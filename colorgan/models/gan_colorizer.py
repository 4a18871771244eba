"""The conditional GAN colorizer (the seed's models 3 and 4, Nazeri et al. 2018, pix2pix):
`python -m colorgan.train +experiment=gan_lrelu`.

One training step takes one batch: `d_steps_per_g_step` discriminator updates on (gray, real
colour) against (gray, detached generated colour), then one generator update on
adversarial + lambda_l1 * L1. Optimization is manual (two Adam optimizers).

Recipe options (docs/gan.md, "Recipe options"), all off by default: a spectrally normalized D, a
critic-only phase of `critic_steps` batches before the adversarial one (DeOldify's "NoGAN" with
`generator_init`), and an exponential moving average of G's weights (`ema_decay`) that validation,
test, colorize and export use.

Step counting: Lightning adds every optimizer step to `global_step` (two per batch here). This
module steps D through the strategy without that counter, so `global_step`, `trainer.max_steps`,
`ModelCheckpoint(every_n_train_steps=...)` and `{step}` in checkpoint names all count batches: the
generator's update of each (in the critic phase, which has none, D's last update of the batch).
Logging intervals (`log_every_n_steps`) count batches anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from colorgan.callbacks.host_reads import is_logging_step
from colorgan.data.batches import ColorBatch
from colorgan.models.base import ColorizerModule
from colorgan.models.gan_training import (
    LOSS_NAMES,
    FiniteLossWatch,
    backward,
    broadcast_from_rank_zero,
    step_uncounted,
)
from colorgan.nets.discriminators import build_discriminator
from colorgan.nets.ema import check_ema_decay, ema_copy, reset_ema, update_ema
from colorgan.nets.gan_losses import GANLoss
from colorgan.nets.semantic_loss import SemanticLoss

log = logging.getLogger(__name__)

def check_d_steps(d_steps_per_g_step: int) -> None:
    """Raise ValueError unless it is a whole number of discriminator updates >= 1 (also run by
    colorgan.config_validation)."""
    if isinstance(d_steps_per_g_step, bool) or not isinstance(d_steps_per_g_step, int) or d_steps_per_g_step < 1:
        raise ValueError(f"d_steps_per_g_step must be an integer >= 1, got {d_steps_per_g_step!r}.")


def check_critic_steps(critic_steps: int) -> None:
    """Raise ValueError unless it is a whole number of batches >= 0 (also run by colorgan.config_validation)."""
    if isinstance(critic_steps, bool) or not isinstance(critic_steps, int) or critic_steps < 0:
        raise ValueError(f"critic_steps must be an integer >= 0 (batches of D-only training), got {critic_steps!r}.")


class GANColorizer(ColorizerModule):
    """U-Net generator trained against a conditional discriminator.

    Args:
        color_space: "lab" or "rgb".
        generator: UNetGenerator keyword arguments (the same U-Net as UNetColorizer).
        discriminator: `name` ("patch" or "global"), `spectral_norm` (spectrally normalized
            convolutions, no normalization layers) and that discriminator's keyword arguments
            (channels, n_layers, norm, activation); see colorgan.nets.discriminators. `channels` None
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
        critic_steps: the first this many batches (steps) train D alone on the frozen G's outputs
            (G in eval mode, untouched), as DeOldify's critic pretraining; then both train.
        ema_decay: None (or 0), or keep an exponential moving average of G's weights with this decay
            (e.g. 0.999, about the last 1000 steps); evaluation (`forward` in eval mode) uses it,
            and checkpoints hold it as `generator_ema.*`, which colorize and export load.
        semantic: colorgan.nets.semantic_loss.SemanticLoss settings: a frozen ImageNet classifier's
            feature and class losses on G's RGB output join L1 in G's content loss (x lambda_semantic,
            on the same scale as lambda_l1 x L1); None: L1 alone.
        channels_last, compile, init, select_classifier: for G and D, see ColorizerModule.
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
        critic_steps: int = 0,
        ema_decay: float | None = None,
        channels_last: bool = False,
        compile: bool | str = False,
        init: str = "normal",
        semantic: dict[str, Any] | None = None,
        lambda_semantic: float = 10.0,
        select_classifier: str | None = None,
    ) -> None:
        super().__init__(color_space, generator, channels_last, compile, init, select_classifier)
        self.save_hyperparameters()
        self.automatic_optimization = False
        check_d_steps(d_steps_per_g_step)
        check_critic_steps(critic_steps)
        check_ema_decay(ema_decay)
        if grad_clip_norm is not None and grad_clip_norm <= 0:
            raise ValueError(f"grad_clip_norm must be positive or null (no clipping), got {grad_clip_norm}.")
        self.loss = GANLoss(gan_loss, real_label)
        d_kwargs = dict(discriminator or {})
        if d_kwargs.get("channels") is None:
            d_kwargs["channels"] = self.generator.base_width
        if d_kwargs.get("spectral_norm") and d_kwargs.get("norm", "batch") != "none":
            log.info("Spectral norm in D: its %s normalization layers are left out", d_kwargs.get("norm", "batch"))
        space = self.color_space
        self.discriminator = build_discriminator(space.in_channels + space.out_channels, init=init, **d_kwargs)
        # A frozen copy; it starts again from G (warm-started or not) when fitting starts.
        self.generator_ema = ema_copy(self.generator) if ema_decay else None  # None or 0: no average
        self.use_memory_format()
        self.watch = FiniteLossWatch()
        self.semantic_loss = SemanticLoss(**semantic) if semantic else None

    def networks(self) -> list[torch.nn.Module]:
        return [self.generator, self.discriminator, *([self.generator_ema] if self.generator_ema is not None else [])]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """G's colour for the inputs; in eval mode (validation, test, predict, image grids) the
        moving average of G's weights when `ema_decay` is set."""
        if self.generator_ema is not None and not self.training:
            return self.generator_ema(self.in_memory_format(inputs))
        return super().forward(inputs)

    def in_critic_phase(self) -> bool:
        """Whether this step trains D alone (the first `critic_steps` batches)."""
        return self.global_step < self.hparams.critic_steps

    def reduced_by_hand(self) -> dict[str, torch.nn.Module]:
        """Networks whose gradients this module averages across DDP ranks itself (colorgan.runs.devices.fit_ddp_to)."""
        return {"discriminator": self.discriminator}

    # -- training ------------------------------------------------------------------------------
    def discriminate(self, inputs: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
        """D's logits for colour (B, C, H, W) conditioned on the gray inputs (B, 1, H, W)."""
        return self.discriminator(self.in_memory_format(torch.cat([inputs, colour], dim=1)))

    def training_step(self, batch: ColorBatch, batch_idx: int) -> None:
        """pix2pix's optimize_parameters: generate, update D, update G; then watch and log the losses."""
        g_opt, d_opt = self.optimizers()
        step = self.global_step  # batches so far, before this one's updates (see the module's docstring)
        inputs, targets = batch.inputs, batch.targets
        critic_only = self.in_critic_phase()
        fake = self.generate(inputs, frozen=critic_only)  # (B, C, H, W)
        d_loss, real_logits, fake_logits = self.optimize_discriminator(d_opt, inputs, targets, fake, counted=critic_only)
        g_adv, g_l1, g_loss = self.optimize_generator(g_opt, inputs, targets, fake, measure_only=critic_only)
        losses = torch.stack([d_loss, g_adv, g_l1, g_loss, self.loss.score(real_logits), self.loss.score(fake_logits)])
        self.watch_and_log(losses.detach().float(), step, batch_idx, len(inputs))

    def generate(self, inputs: torch.Tensor, frozen: bool) -> torch.Tensor:
        """G's colour, keeping its graph for G's step; `frozen` (the critic phase): in eval mode and
        without a graph, so nothing of G changes (batch-norm statistics too)."""
        if not frozen:
            return self(inputs)
        self.generator.eval()
        with torch.no_grad():
            fake = self.generator(self.in_memory_format(inputs))
        self.generator.train()
        return fake

    def optimize_discriminator(self, d_opt, inputs: torch.Tensor, targets: torch.Tensor, fake: torch.Tensor,
                               counted: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`d_steps_per_g_step` updates of D, real vs the detached fake (no gradient reaches G).
        `counted`: no G update in this batch, so D's last update is the step global_step counts."""
        with self.toggled_optimizer(d_opt):
            for i in range(self.hparams.d_steps_per_g_step):
                real_logits = self.discriminate(inputs, targets)
                fake_logits = self.discriminate(inputs, fake.detach())
                d_loss = self.loss.discriminator(real_logits, fake_logits)
                d_opt.zero_grad()
                backward(self, d_loss, self.discriminator)  # under DDP: D's gradients averaged by hand
                if counted and i == self.hparams.d_steps_per_g_step - 1:
                    d_opt.step()
                else:
                    step_uncounted(self.trainer, d_opt)
        return d_loss, real_logits, fake_logits

    def optimize_generator(self, g_opt, inputs: torch.Tensor, targets: torch.Tensor, fake: torch.Tensor,
                           measure_only: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One update of G: fool the updated D and stay close to the truth (`measure_only`: the critic
        phase, losses computed without a graph, nothing updated)."""
        with self.toggled_optimizer(g_opt), torch.set_grad_enabled(not measure_only):
            g_adv = self.loss.generator(self.discriminate(inputs, fake))
            g_l1 = F.l1_loss(fake.float(), targets.float())
            g_loss = g_adv + self.hparams.lambda_l1 * g_l1
            if self.semantic_loss is not None:  # the content loss: L1 and the classifier's view (DeOldify's NoGAN)
                space = self.color_space
                g_loss = g_loss + self.hparams.lambda_semantic * self.semantic_loss(
                    space.merge(inputs, fake), space.merge(inputs, targets))["total"]
            if not measure_only:
                g_opt.zero_grad()
                self.manual_backward(g_loss)
                g_opt.step()
                if self.generator_ema is not None:  # G is the same on every DDP rank, so is its average
                    update_ema(self.generator_ema, self.generator, self.hparams.ema_decay)
        return g_adv, g_l1, g_loss

    def watch_and_log(self, losses: torch.Tensor, step: int, batch_idx: int, batch_size: int) -> None:
        """losses (len(LOSS_NAMES),), checked and logged on the device; read back only at logging steps
        (and by the watch's other checks: before validation, at epoch and fit ends, before a checkpoint)."""
        self.watch.update(losses, step, self.current_epoch, batch_idx)
        if is_logging_step(self.trainer):
            self.watch.check(self.trainer)
        self.log_train({f"train/{k}": v for k, v in zip(LOSS_NAMES, losses.unbind(), strict=True)}, batch_size,
                       prog_bar=("train/d_loss", "train/g_l1"), epoch_mean=True)

    # Stop on non-finite losses before any validation or checkpoint sees their weights.
    def on_validation_start(self) -> None:
        self.watch.check(self.trainer)

    def on_train_epoch_end(self) -> None:
        self.watch.check(self.trainer)
        super().on_train_epoch_end()

    def on_train_end(self) -> None:
        self.watch.check(self.trainer)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Mixed precision has unscaled the gradients by now, so the norm is the true one.
        if self.hparams.grad_clip_norm is not None:
            self.clip_gradients(optimizer, gradient_clip_val=self.hparams.grad_clip_norm, gradient_clip_algorithm="norm")

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        hp, betas = self.hparams, tuple(self.hparams.betas)
        return [
            torch.optim.Adam(self.param_groups(self.generator.parameters(), hp.lr_g), betas=betas),
            torch.optim.Adam(self.discriminator.parameters(), lr=hp.lr_d, betas=betas),
        ]

    # -- warm start and checkpoints ------------------------------------------------------------
    def on_fit_start(self) -> None:
        # Not on resume: the checkpoint being resumed (restored by now) holds the generator already.
        if self.hparams.generator_init and not self.trainer.ckpt_path:
            self.warm_start(self.hparams.generator_init)
        if self.generator_ema is not None and not self.trainer.ckpt_path:  # resumed: the checkpoint's average
            reset_ema(self.generator_ema, self.generator)
        broadcast_from_rank_zero(self, self.discriminator)  # under DDP: D starts as rank 0's, as G does

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse to write weights that are NaN or infinite (a last line behind the loss check)."""
        self.watch.check(self.trainer)
        super().on_save_checkpoint(checkpoint)
        floats = {k: v for k, v in checkpoint["state_dict"].items() if v.is_floating_point()}
        finite = torch.stack([torch.isfinite(v).all() for v in floats.values()]).tolist() if floats else []  # one read
        bad = [k for k, ok in zip(floats, finite, strict=True) if not ok]
        if bad:
            raise FloatingPointError(
                f"Refusing to save a checkpoint at step {self.trainer.global_step}: non-finite values in "
                f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}. Training diverged; see the losses logged before."
            )
