"""What every colorizer shares: its generator (built by colorgan.nets.generators), its colour space,
evaluation of the merged RGB prediction with the full metric suite next to the grayscale baseline,
and the speed options (channels_last memory format, torch.compile) that apply to each of its networks."""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable
from typing import Any

import lightning as L
import torch

from colorgan.color_space import ColorSpace
from colorgan.data.batches import ColorBatch
from colorgan.framework_internals import reset_step_results, should_update_logs
from colorgan.metrics import AgainstGray, per_image_against_gray, semantic_means
from colorgan.nets.colourfulness_loss import PALENESS_CHARGES
from colorgan.nets.generators import build_generator, encoder_unet
from colorgan.nets.layers import init_weights
from colorgan.runs.checkpoint_io import MODEL_CLASS_KEY, load_generator_weights

log = logging.getLogger(__name__)

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
# val/right_colour = val/agree (points) - this x val/mae (0-255): one MAE unit, about what separates a
# good photo model from the gray input, weighs as much as 2 points of agreement.
RIGHT_COLOUR_MAE_WEIGHT = 2.0


class ColorizerModule(L.LightningModule):
    """Base LightningModule: subclasses add a training step.

    Args:
        color_space: "lab" or "rgb"; sets the generator's output channels.
        generator: keyword arguments of UNetGenerator (channels, activation, norm, ...).
        channels_last: store convolution weights and network inputs as NHWC (channels_last), the
            layout tensor cores want; results equal NCHW's up to rounding.
        compile: False, True or a torch.compile mode (see COMPILE_MODES): compile every network
            in place (`nn.Module.compile`, so checkpoint keys do not change) when a Trainer stage
            starts. The first steps then take longer while it compiles.
        init: weight initialisation of every network, "default" (PyTorch's) or "normal"
            (N(0, 0.02), as pix2pix and the seed's paper); see colorgan.nets.layers.init_weights.
        select_classifier: an ImageNet classifier (efficientnet_lite0 or efficientnet_lite1, never the
            semantic test's judge) that validation runs on each prediction and original: it logs
            val/agree (% of photos whose top-1 class is the original's) and val/right_colour =
            val/agree - RIGHT_COLOUR_MAE_WEIGHT x val/mae, a score that rewards colour that is both
            recognisable and close (callbacks.model_checkpoint.monitor=val/right_colour, mode=max).
    """

    def __init__(
        self,
        color_space: str = "lab",
        generator: dict[str, Any] | None = None,
        channels_last: bool = False,
        compile: bool | str = False,  # the config key is named after torch.compile
        init: str = "normal",
        select_classifier: str | None = None,
    ) -> None:
        super().__init__()
        if not (isinstance(compile, bool) or compile in COMPILE_MODES):
            raise ValueError(f"model.compile must be true, false or one of {', '.join(COMPILE_MODES)}; got {compile!r}.")
        self.color_space = ColorSpace(color_space)
        space = self.color_space
        self.generator = self.build_generator(space, dict(generator or {}))
        init_weights(self.generator, init)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.compile_mode = compile
        self._compiled = False  # configure_model runs at every Trainer stage; compile once
        self._epoch_sums: dict[str, list] = {}  # name -> [sum of value * batch size, images], see log_train
        # (H, W) of the training images, saved in checkpoints: inference's default working resolution.
        self.train_image_size: list[int] | None = None
        # The semantic test's judge (colorgan.nets.judge.SemanticJudge), set by whoever tests with it (retest):
        # a plain attribute, so its weights stay out of checkpoints.
        self.judge = None
        # Per-image test metrics (model and baseline) of the last test, in test-set order; see on_test_epoch_end.
        self.test_per_image: dict[str, torch.Tensor] | None = None
        self._per_image_parts: list[dict[str, torch.Tensor]] = []
        # Validation's semantic check (a frozen ImageNet classifier, never the judge): val/agree and
        # val/right_colour, the score a checkpoint can be chosen by. Not a module: out of checkpoints.
        self.select_classifier = select_classifier
        self._val_classifier = None
        self._val_agree: list[torch.Tensor] = []
        # Logged as "val/mae", "val_baseline/mae", ...
        self.metrics = torch.nn.ModuleDict(
            {stage: AgainstGray(prefix=f"{stage}/", baseline_prefix=f"{stage}_baseline/") for stage in ("val", "test")}
        )

    def build_generator(self, color_space: ColorSpace, settings: dict[str, Any]) -> torch.nn.Module:
        """The generator: a U-Net regressing the colour channels (subclasses may predict otherwise)."""
        if settings.get("output_layer") == "none":
            raise ValueError("output_layer 'none' leaves the U-Net without an output; use 'upconv' or 'head'.")
        return build_generator(color_space.in_channels, color_space.out_channels, settings)

    def warm_start(self, path: str) -> None:
        """Copy a colorizer checkpoint's generator into this one (`generator_init`); a mismatch is said."""
        load_generator_weights(self.generator, path, self.color_space, self.hparams.get("generator"))
        log.info("Generator initialised from %s", path)

    # -- a pretrained encoder: its own learning rate, frozen for the first steps ----------------
    def param_groups(self, params: Iterable[torch.nn.Parameter], lr: float) -> list[dict[str, Any]]:
        """Adam's parameter groups: an ImageNet encoder's weights at `encoder_lr_scale` x lr (fastai's
        discriminative learning rates), everything else at lr."""
        params, net = list(params), encoder_unet(self.generator)
        if net is None or net.encoder_lr_scale == 1.0:
            return [{"params": params, "lr": lr}]
        encoder = {id(p) for p in net.encoder.parameters()}
        return [{"params": [p for p in params if id(p) not in encoder], "lr": lr},
                {"params": [p for p in params if id(p) in encoder], "lr": lr * net.encoder_lr_scale}]

    def follow_encoder_schedule(self) -> None:
        """Freeze an ImageNet encoder for its first `freeze_steps` optimizer steps, then train it."""
        net = encoder_unet(self.generator)
        if net is not None and net.freeze_steps:
            frozen = self.global_step < net.freeze_steps
            if frozen != net.encoder_frozen:
                net.set_encoder_frozen(frozen)

    # -- speed options ---------------------------------------------------------------------------
    def networks(self) -> list[torch.nn.Module]:
        """The trained networks; subclasses with more (the GAN's discriminator) add theirs."""
        return [self.generator]

    def use_memory_format(self) -> None:
        """Put every network in `self.memory_format`; subclasses call it once their networks exist."""
        for network in self.networks():
            network.to(memory_format=self.memory_format)

    def in_memory_format(self, x: torch.Tensor) -> torch.Tensor:
        """A network input in the networks' memory format (a no-op for the default NCHW)."""
        return x.contiguous(memory_format=self.memory_format)

    def configure_model(self) -> None:
        """Lightning calls this when a stage starts: compile the networks once, in place."""
        if self.compile_mode and not self._compiled:
            mode = None if self.compile_mode is True else self.compile_mode
            for network in self.networks():
                # Static shapes: one graph per input shape, no dynamic-shape recompile when training's
                # batch size follows validation's. The shapes are few: the training batch, the
                # evaluation batch (and a last, smaller one where the split is not a multiple of
                # it); the image grid runs eager (colorgan.callbacks.image_grid). See docs/bench.md.
                network.compile(mode=mode, dynamic=False)
            self._compiled = True

    # -- cheap training logs ---------------------------------------------------------------------
    def log_train(
        self,
        values: dict[str, torch.Tensor | float],
        batch_size: int,
        prog_bar: Collection[str] = (),
        epoch_mean: bool = False,
    ) -> None:
        """Log training values as `self.log(name, value, on_step=True, on_epoch=epoch_mean)` does,
        with the same keys (`name`, or `name_step` and `name_epoch`) and the same values written to
        the loggers, but calling `self.log` only on the steps whose values Lightning writes (every
        `trainer.log_every_n_steps`, every step of fast_dev_run). Each `self.log` call costs 1-2 ms
        of host time (Lightning moves its result store to the value's device): six per GAN step
        were a third of a small model's step on a CPU, and would be most of a step on a GPU.

        With `epoch_mean`, the batch-size-weighted mean of the epoch is kept here (floats on the
        host, tensors on the device: no synchronisation) and logged at the epoch's end. The
        progress bar shows the step values as of the last logging step (colorgan.callbacks.host_reads).
        """
        if epoch_mean:
            for name, value in values.items():
                value = value.detach() if isinstance(value, torch.Tensor) else value
                total = self._epoch_sums.setdefault(name, [0.0, 0])
                total[0] = total[0] + value * batch_size
                total[1] += batch_size
        if self.trainer.fast_dev_run or should_update_logs(self.trainer):
            suffix = "_step" if epoch_mean else ""
            for name, value in values.items():
                self.log(name + suffix, value, on_step=True, on_epoch=False, prog_bar=name in prog_bar,
                         batch_size=batch_size)
        else:
            # Lightning reads every progress-bar value of its result store back (`.item()`) at every
            # batch end, also values logged steps ago: take this hook's out of the store until the next
            # logging step. trainer.progress_bar_metrics and callback_metrics keep the last ones.
            reset_step_results(self.trainer, self._current_fx_name)

    def on_train_epoch_end(self) -> None:
        for name, (total, count) in self._epoch_sums.items():
            self.log(f"{name}_epoch", total / count, on_step=False, on_epoch=True, batch_size=count)
        self._epoch_sums = {}

    def forward(self, inputs: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        """Network inputs (B, 1, H, W) in [-1, 1] -> targets (B, C, H, W) in [-1, 1]; `hints` (B, 3, H, W),
        a hint model's hint map (colorgan.nets.hint_unet), None for none."""
        if hints is None:
            return self.generator(self.in_memory_format(inputs))
        return self.generator(self.in_memory_format(inputs), self.in_memory_format(hints))

    @torch.no_grad()
    def colorize(self, inputs: torch.Tensor) -> torch.Tensor:
        """Network inputs -> RGB (B, 3, H, W) in [0, 1]."""
        return self.color_space.merge(inputs, self(inputs))

    def on_train_batch_start(self, batch: ColorBatch, batch_idx: int) -> None:
        self.train_image_size = list(batch.rgb.shape[-2:])
        self.follow_encoder_schedule()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[MODEL_CLASS_KEY] = type(self).__name__  # what colorgan.runs.checkpoint_io rebuilds
        if self.train_image_size is not None:
            checkpoint["train_image_size"] = self.train_image_size
        # A mid-epoch checkpoint carries the epoch's running sums, so a resumed run logs the mean
        # of the whole epoch, not of the part after the resume.
        checkpoint["train_epoch_sums"] = {
            name: [float(total), count] for name, (total, count) in self._epoch_sums.items()
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Checkpoints written while validation's classifier was a registered submodule carry its frozen
        # ImageNet weights, which are not the model's: they are dropped, not loaded.
        state = checkpoint.get("state_dict") or {}
        for key in [k for k in state if k.startswith("_val_classifier.")]:
            del state[key]
        self.train_image_size = checkpoint.get("train_image_size", self.train_image_size)
        self._epoch_sums = {name: list(sums) for name, sums in checkpoint.get("train_epoch_sums", {}).items()}

    def _evaluate(self, batch: ColorBatch, stage: str) -> None:
        pred_rgb = self.color_space.merge(batch.inputs, self(batch.inputs))
        gray_rgb = self.color_space.gray_rgb(batch.inputs)
        against_gray = self.metrics[stage]
        # Metrics in float32 even under bf16/fp16 autocast: in bf16, SSIM's variances (E[x^2] - E[x]^2)
        # cancel and Lab's conversion rounds (SSIM 0.875 -> 0.833 for the same fp32 predictions).
        with torch.autocast(pred_rgb.device.type, enabled=False):
            against_gray.update(pred_rgb, gray_rgb, batch.rgb)
            if stage == "val" and self.select_classifier:
                self._val_semantic(pred_rgb, batch.rgb)
            if stage == "test":  # per image too, for the report's bootstrap intervals
                self._per_image_parts.append(per_image_against_gray(pred_rgb, gray_rgb, batch.rgb, self.judge))
        # Logging the collections lets Lightning compute, sync and reset them at epoch end.
        self.log_dict(against_gray.model, on_step=False, on_epoch=True, prog_bar=stage == "val", batch_size=len(batch.rgb))
        self.log_dict(against_gray.baseline, on_step=False, on_epoch=True, batch_size=len(batch.rgb))

    # -- validation's semantic check -----------------------------------------------------------
    def _val_semantic(self, pred_rgb: torch.Tensor, target: torch.Tensor) -> None:
        if self._val_classifier is None:
            from colorgan.nets.imagenet_classifier import JUDGE, FrozenClassifier

            if self.select_classifier == JUDGE:
                raise ValueError(f"select_classifier {JUDGE} is the semantic test's judge: choosing checkpoints by it "
                                 "would fit the model to its grader. Use efficientnet_lite0 or efficientnet_lite1.")
            # object.__setattr__: not a registered submodule, so its weights stay out of checkpoints.
            object.__setattr__(self, "_val_classifier", FrozenClassifier(self.select_classifier).to(pred_rgb.device))
        net = self._val_classifier
        self._val_agree.append((net(pred_rgb).argmax(1) == net(target).argmax(1)).float())

    def on_validation_epoch_start(self) -> None:
        self._val_agree = []

    def on_validation_epoch_end(self) -> None:
        if not self._val_agree or self.trainer.sanity_checking:
            self._val_agree = []
            return
        agree = 100.0 * torch.cat(self._val_agree).mean()
        self._val_agree = []
        mae = self.trainer.callback_metrics.get("val/mae")
        self.log("val/agree", agree)
        if mae is not None:
            self.log("val/right_colour", agree - RIGHT_COLOUR_MAE_WEIGHT * mae.to(agree))

    def on_test_epoch_start(self) -> None:
        self._per_image_parts, self.test_per_image = [], None

    def on_test_epoch_end(self) -> None:
        """Keep the per-image metrics for colorgan.train to write (test_per_image.csv): the report's
        bootstrap intervals and paired differences resample them. Single-process tests only: DDP
        shards the test set by batches and the image order would have to be rebuilt."""
        parts, self._per_image_parts = self._per_image_parts, []
        if parts and self.trainer.world_size == 1:
            self.test_per_image = {k: torch.cat([p[k] for p in parts]).cpu() for k in parts[0]}
            model, baseline = semantic_means(self.test_per_image)  # the semantic test, when a judge looked
            for prefix, values in (("test/", model), ("test_baseline/", baseline)):
                for name, value in values.items():
                    self.log(prefix + name, value, batch_size=len(self.test_per_image["mae"]))

    def validation_step(self, batch: ColorBatch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: ColorBatch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: ColorBatch, batch_idx: int) -> torch.Tensor:
        return self.colorize(batch.inputs)


class SingleLossColorizer(ColorizerModule):
    """A colorizer trained by one loss and one Adam (hyper-parameters lr, betas, weight_decay):
    UNetColorizer (regression) and ClassifyColorizer (classification) differ only in
    `training_loss`, which the bench's bare loop calls too."""

    loss_parts: dict[str, torch.Tensor] | None = None  # training_loss's terms, when it has several
    semantic_loss: torch.nn.Module | None = None  # colorgan.nets.semantic_loss.SemanticLoss, when set

    def training_loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def check_photo_terms(colourfulness: float, colourfulness_sure: bool, semantic: dict[str, Any] | None,
                          colourfulness_where: str = "photo") -> None:
        """The settings of `with_photo_terms`, refused before any weight is built when they cannot work."""
        if colourfulness < 0:
            raise ValueError(f"colourfulness is a loss weight and must be >= 0, got {colourfulness}.")
        if colourfulness_where not in PALENESS_CHARGES:
            raise ValueError(f"Unknown colourfulness_where {colourfulness_where!r}; valid: "
                             f"{', '.join(PALENESS_CHARGES)} (per photo, or per pixel where the original has colour).")
        if colourfulness_sure and not (colourfulness and semantic):
            raise ValueError("colourfulness_sure scales the charge for paleness (model.colourfulness > 0) by the "
                             "semantic loss's classifier (model.semantic): set both, or leave colourfulness_sure false.")

    def with_photo_terms(self, loss: torch.Tensor, inputs: torch.Tensor, pred: torch.Tensor,
                         targets: torch.Tensor) -> torch.Tensor:
        """`loss` plus the terms that judge the predicted photo as a whole, in RGB: the semantic loss
        (`semantic_loss`) and the charge for paleness (`hparams.colourfulness` x the charge that
        `hparams.colourfulness_where` names: per photo or per pixel; each photo's charge scaled by the
        semantic classifier's sureness from the gray photo when `hparams.colourfulness_sure`); each
        term's value kept in loss_parts."""
        weight = self.hparams.get("colourfulness", 0.0)
        if self.semantic_loss is None and not weight:
            return loss
        space = self.color_space
        pred_rgb, true_rgb = space.merge(inputs, pred), space.merge(inputs, targets)
        parts = self.loss_parts if self.loss_parts is not None else {}
        sure = None
        if self.semantic_loss is not None:
            gray_rgb = space.gray_rgb(inputs) if weight and self.hparams.get("colourfulness_sure") else None
            semantic = self.semantic_loss(pred_rgb, true_rgb, gray_rgb)
            parts.update(feature=semantic["feature"].detach(), kl=semantic["kl"].detach())
            loss = loss + semantic["total"]
            sure = semantic.get("sure")
            if sure is not None:
                parts["sure"] = sure.mean()
        if weight:
            deficit = PALENESS_CHARGES[self.hparams.get("colourfulness_where", "photo")](pred_rgb, true_rgb, sure)
            parts["colourfulness"] = deficit.detach()
            loss = loss + weight * deficit
        self.loss_parts = parts
        return loss

    def training_step(self, batch: ColorBatch, batch_idx: int) -> torch.Tensor:
        self.loss_parts = None
        loss = self.training_loss(batch.inputs, batch.targets)
        parts = {f"train/{k}": v.detach() for k, v in (self.loss_parts or {}).items()}
        self.log_train({"train/loss": loss, **parts}, len(batch.rgb), prog_bar=("train/loss",))
        return loss

    def on_fit_start(self) -> None:
        """Warm start (`generator_init`, a colorizer checkpoint): not on resume, whose checkpoint holds the weights."""
        init = getattr(self.hparams, "generator_init", None)
        if init and not self.trainer.ckpt_path:
            self.warm_start(init)

    def adam(self) -> torch.optim.Adam:
        """The model's optimizer alone, without its schedule (which needs the Trainer): the bench's bare loop's."""
        hp = self.hparams
        return torch.optim.Adam(self.param_groups(self.parameters(), hp.lr), betas=tuple(hp.betas),
                                weight_decay=hp.weight_decay)

    def configure_optimizers(self):
        hp = self.hparams
        optimizer = self.adam()
        schedule = hp.get("lr_schedule")
        if not schedule:
            return optimizer
        if schedule != "cosine":
            raise ValueError(f"Unknown lr_schedule {schedule!r}; valid: cosine, or null (a constant rate).")
        # Cosine decay from lr to 1% of it over the whole fit (max_epochs x batches per epoch), step by step.
        total = max(1, int(self.trainer.estimated_stepping_batches))
        decay = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total)))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": decay, "interval": "step"}}
