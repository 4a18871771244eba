"""The GAN colorizer under the real Lightning Trainer: who updates what, step counting,
resume, learning, warm start, gradient clipping under fp16, and the NaN guard."""

from __future__ import annotations

import copy
import math

import lightning as L
import pytest
import torch
from helpers.data import synthetic_images
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.precision import MixedPrecision
from torch.utils.data import DataLoader

from colorgan.color_space import ColorSpace
from colorgan.data.batches import TensorImages
from colorgan.data.datamodule import ColorizationDataModule
from colorgan.models.gan_colorizer import LOSS_NAMES, GANColorizer
from colorgan.models.unet_colorizer import UNetColorizer
from colorgan.runs.checkpoint_io import CheckpointError, load_generator_weights
from colorgan.train import train

TINY_D = "model.discriminator.channels=8"


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


def build(tiny_cfg, *overrides: str, experiment: str = "gan_lrelu") -> tuple[GANColorizer, ColorizationDataModule]:
    """Model and data from the real Hydra composition of an experiment, tiny."""
    cfg = tiny_cfg(TINY_D, *overrides, experiment=experiment)
    return instantiate(cfg.model, _convert_="all"), instantiate(cfg.data, _convert_="all")


def trainer(tmp_path, callbacks=(), **kwargs) -> L.Trainer:
    options = dict(accelerator="cpu", max_epochs=1, limit_val_batches=0, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    options.update(kwargs)
    if any(isinstance(c, ModelCheckpoint) for c in callbacks):
        options["enable_checkpointing"] = True
    return L.Trainer(callbacks=list(callbacks), **options)


def params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


class StepSnapshots(L.Callback):
    """G's and D's parameters at batch start, before each optimizer step, and at batch end."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict, dict, bool]] = []

    def _record(self, event: str, pl_module) -> None:
        no_grad_in_g = all(p.grad is None or not p.grad.any() for p in pl_module.generator.parameters())
        self.events.append((event, params(pl_module.generator), params(pl_module.discriminator), no_grad_in_g))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._record("start", pl_module)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self._record("before_g_step" if optimizer is trainer.optimizers[0] else "before_d_step", pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._record("end", pl_module)


def test_d_step_changes_only_d_and_g_step_changes_only_g(tiny_cfg, tmp_path):
    model, data = build(tiny_cfg)
    snaps = StepSnapshots()
    fit = trainer(tmp_path, [snaps], max_steps=1)
    fit.fit(model, datamodule=data)
    (start, g0, d0, _), (d_event, g1, d1, g_has_no_grad), (g_event, g2, d2, _), (end, g3, d3, _) = snaps.events
    assert (start, d_event, g_event, end) == ("start", "before_d_step", "before_g_step", "end")
    assert g_has_no_grad, "D's loss must not send gradients into G (the fake must be detached)"
    assert same(g0, g1) and same(g1, g2), "D's step changed G"
    assert not same(d1, d2), "D's step did not change D"
    assert same(d2, d3), "G's step changed D"
    assert not same(g2, g3), "G's step did not change G"
    # One batch with two optimizer steps is one step: global_step counts generator updates.
    assert fit.global_step == 1


FAST_DEV_RUNS = {  # the seed's two GANs in both colour spaces, each also trying other options
    ("gan", "lab"): [],
    ("gan", "rgb"): ["model.gan_loss=hinge", "model.discriminator.name=global", "model.discriminator.n_layers=5"],
    ("gan_lrelu", "lab"): ["model.gan_loss=lsgan", "model.real_label=0.9", "model.d_steps_per_g_step=2",
                           "model.grad_clip_norm=1.0"],
    ("gan_lrelu", "rgb"): ["trainer.precision=bf16-mixed"],
}


@pytest.mark.parametrize(("experiment", "space"), list(FAST_DEV_RUNS))
def test_fast_dev_run_through_hydra(tiny_cfg, experiment, space):
    extra = FAST_DEV_RUNS[experiment, space]
    cfg = tiny_cfg(TINY_D, "trainer.fast_dev_run=true", f"data.color_space={space}", *extra, experiment=experiment)
    metrics = train(cfg)
    for name in ("d_loss", "g_adv", "g_l1", "g_loss", "d_real", "d_fake"):
        assert math.isfinite(metrics[f"train/{name}_step"]) and math.isfinite(metrics[f"train/{name}_epoch"])
    assert metrics["test/mae"] >= 0 and "test_baseline/mae" in metrics
    if cfg.model.gan_loss == "vanilla":
        assert 0.0 <= metrics["train/d_real_step"] <= 1.0  # a probability


def test_max_steps_and_checkpoint_interval_count_batches(tiny_cfg, tmp_path):
    model, data = build(tiny_cfg, "model.d_steps_per_g_step=2")
    every = ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{step}", every_n_train_steps=2, save_top_k=-1)
    fit = trainer(tmp_path, [every], max_steps=4)
    fit.fit(model, datamodule=data)
    assert fit.global_step == 4 and fit.fit_loop.epoch_loop.batch_idx + 1 == 4
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["step=2.ckpt", "step=4.ckpt"]
    g_state, d_state = (opt.state_dict()["state"] for opt in fit.optimizers)
    assert next(iter(g_state.values()))["step"].item() == 4  # one G update per batch
    assert next(iter(d_state.values()))["step"].item() == 8  # two D updates per batch


class OptimizerStatesAtStart(L.Callback):
    def on_train_start(self, trainer, pl_module):
        self.global_step = trainer.global_step
        self.states = copy.deepcopy([opt.state_dict() for opt in trainer.optimizers])  # Adam updates in place


def test_resume_restores_both_optimizers(tiny_cfg, tmp_path):
    model, data = build(tiny_cfg, "model.d_steps_per_g_step=2")
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{step}", every_n_train_steps=2, save_top_k=-1)
    trainer(tmp_path, [ckpt], max_steps=3).fit(model, datamodule=data)
    saved = torch.load(tmp_path / "ckpt" / "step=2.ckpt", weights_only=True)
    assert saved["train_image_size"] == [32, 32]  # what colorize's default size reads
    assert set(saved["train_epoch_sums"]) == {f"train/{name}" for name in LOSS_NAMES}

    resumed, data = build(tiny_cfg, "model.d_steps_per_g_step=2")
    probe = OptimizerStatesAtStart()
    again = ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{step}", every_n_train_steps=2, save_top_k=-1)
    fit = trainer(tmp_path, [probe, again], max_steps=4)  # the callbacks that wrote the checkpoint, as Lightning asks
    fit.fit(resumed, datamodule=data, ckpt_path=tmp_path / "ckpt" / "step=2.ckpt")
    assert probe.global_step == 2
    assert len(probe.states) == len(saved["optimizer_states"]) == 2
    for restored, expected, updates in zip(probe.states, saved["optimizer_states"], (2, 4), strict=True):
        assert restored["param_groups"] == expected["param_groups"]
        for key, state in expected["state"].items():
            assert state["step"].item() == updates
            for name in ("exp_avg", "exp_avg_sq"):
                assert torch.equal(restored["state"][key][name], state[name])
    assert fit.global_step == 4
    # The hyperparameters alone rebuild the model.
    rebuilt = GANColorizer.load_from_checkpoint(tmp_path / "ckpt" / "step=2.ckpt", weights_only=True)
    assert same(params(rebuilt.generator), {k.removeprefix("generator."): v for k, v in saved["state_dict"].items()
                                            if k.startswith("generator.") and v.is_floating_point()})


class FixedBatch(ColorizationDataModule):
    """The same 4 images (16x16 crops) as every training batch, no flips."""

    def __init__(self, steps: int) -> None:
        super().__init__(color_space="lab", batch_size=4, flip=False)
        self.images, self.steps = torch.from_numpy(synthetic_images(4, seed=3))[..., :16, :16], steps

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorImages(self.images), sampler=[torch.arange(4)] * self.steps, batch_size=None)


def test_training_on_a_fixed_batch_drives_l1_down(tmp_path):
    torch.manual_seed(0)
    model = GANColorizer(generator={"channels": [8, 16], "activation": "relu", "norm": "none"},
                         discriminator={"channels": 8, "n_layers": 2, "norm": "none"}, lr_g=2e-3, lr_d=2e-4)
    data = FixedBatch(steps=150)
    inputs, targets = model.color_space.split(data.images.float() / 255.0)
    before = torch.nn.functional.l1_loss(model(inputs), targets).item()
    trainer(tmp_path, max_steps=150).fit(model, datamodule=data)
    with torch.no_grad():
        after = torch.nn.functional.l1_loss(model(inputs), targets).item()
    assert after < 0.3 * before, (before, after)


@pytest.fixture(scope="module")
def unet_checkpoint(tmp_path_factory):
    """A real UNetColorizer Lightning checkpoint (Lab, channels [8, 16, 32], 1 step)."""
    folder = tmp_path_factory.mktemp("unet")
    data = FixedBatch(steps=1)
    model = UNetColorizer(color_space="lab", generator={"channels": [8, 16, 32], "activation": "relu", "norm": "none",
                                                        "output_layer": "upconv"})  # as conf/model/*.yaml
    fit = trainer(folder, max_steps=1)
    fit.fit(model, datamodule=data)
    fit.save_checkpoint(folder / "unet.ckpt")
    return folder / "unet.ckpt", params(model.generator)


class GeneratorAtStart(L.Callback):
    def on_train_start(self, trainer, pl_module):
        self.weights = params(pl_module.generator)


def test_generator_init_warm_starts_from_a_unet(tiny_cfg, tmp_path, unet_checkpoint):
    path, unet_weights = unet_checkpoint
    model, data = build(tiny_cfg, f"model.generator_init={path}", experiment="gan")
    assert not same(params(model.generator), unet_weights)
    probe = GeneratorAtStart()
    trainer(tmp_path, [probe], max_steps=1).fit(model, datamodule=data)
    assert same(probe.weights, unet_weights)


def test_generator_init_of_the_wrong_shape_is_explained(unet_checkpoint, tmp_path):
    path, _ = unet_checkpoint
    rgb = GANColorizer(color_space="rgb", generator={"channels": [8, 16, 32]})
    with pytest.raises(CheckpointError, match=r"does not fit(.|\n)*color_space='lab'(.|\n)*this model: color_space='rgb'"):
        load_generator_weights(rgb.generator, path, ColorSpace("rgb"))
    # Through fitting, as `model.generator_init=...` runs it: fails before the first step.
    deeper = GANColorizer(color_space="lab", generator={"channels": [8, 16, 32, 64]},
                          discriminator={"n_layers": 1}, generator_init=str(path))
    with pytest.raises(CheckpointError, match=r"checkpoint: color_space='lab', generator=\{'channels': \[8, 16, 32\]"
                                         r"(.|\n)*this model: color_space='lab', generator=\{'channels': \[8, 16, 32, 64\]"):
        trainer(tmp_path, max_steps=1).fit(deeper, datamodule=FixedBatch(steps=1))
    with pytest.raises(CheckpointError, match="Checkpoint not found"):
        load_generator_weights(rgb.generator, tmp_path / "missing.ckpt", ColorSpace("rgb"))


class GradNorms(L.Callback):
    """Gradient norms of G and D as their optimizers stepped (grads stay until the next zero_grad)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.norms = grad_norm(pl_module.generator), grad_norm(pl_module.discriminator)


def grad_norm(module: torch.nn.Module) -> float:
    return torch.cat([p.grad.float().flatten() for p in module.parameters()]).norm().item()


@pytest.mark.parametrize("clip", [None, 0.01])
def test_grad_clipping_is_applied_to_unscaled_fp16_gradients(tiny_cfg, tmp_path, clip):
    model, data = build(tiny_cfg, f"model.grad_clip_norm={'null' if clip is None else clip}")
    # fp16 autocast with a real GradScaler on the CPU, as 16-mixed does on a GPU (a lower initial
    # scale than 65536 so that the very first step does not overflow and get skipped).
    fp16 = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu", init_scale=256.0))
    probe = GradNorms()
    trainer(tmp_path, [probe], max_steps=1, plugins=[fp16]).fit(model, datamodule=data)
    for norm in probe.norms:
        if clip is None:
            assert norm > 0.1  # the gradients are larger than the clip, so clipping is visible
        else:  # clipped after unscaling: exactly the clip value, not clip / 256
            assert norm == pytest.approx(clip, rel=1e-3)


class PoisonGenerator(L.Callback):
    """Makes the generator's weights NaN before the batch `at`."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.at:
            with torch.no_grad():
                next(pl_module.generator.parameters()).fill_(float("nan"))


def test_non_finite_losses_stop_training_before_any_checkpoint(tiny_cfg, tmp_path):
    model, data = build(tiny_cfg)
    every = ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{step}", every_n_train_steps=1, save_top_k=-1)
    fit = trainer(tmp_path, [PoisonGenerator(at=2), every], max_steps=5)
    with pytest.raises(FloatingPointError, match=r"non-finite at step 2 \(epoch 1, batch 3\)(.|\n)*Last finite losses at step 1: d_loss="):
        fit.fit(model, datamodule=data)
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["step=1.ckpt", "step=2.ckpt"]
    for name in ("step=1.ckpt", "step=2.ckpt"):
        state = torch.load(tmp_path / "ckpt" / name, weights_only=True)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    # The last line of defence: no checkpoint of non-finite weights, even when asked directly.
    with pytest.raises(FloatingPointError, match="Refusing to save"):
        fit.save_checkpoint(tmp_path / "nan.ckpt")
    assert not (tmp_path / "nan.ckpt").exists()
