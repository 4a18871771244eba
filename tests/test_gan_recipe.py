"""The GAN recipe options under the real Lightning Trainer: spectral norm in D, the critic-only
phase ("NoGAN"), the moving average of G's weights (what evaluation, checkpoints and colorize use,
and what a resume restores), and the defaults that leave the seed's GANs as they were."""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import pytest
import torch
from helpers.cli import failure_text, train_cli
from helpers.configs import REPO, TINY, compose_train
from lightning.pytorch.callbacks import ModelCheckpoint
from test_gan import (
    TINY_D,
    build,
    trainer,
    unet_checkpoint,  # noqa: F401 - registers the fixture here (used through request)
)
from torch.nn.utils import parametrize

from colorgan.config_validation import ConfigError, validate_config
from colorgan.runs.checkpoint_io import load_generator
from colorgan.train import train

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


def state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers (batch-norm statistics too), copied."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def convolutions(module: torch.nn.Module) -> list[torch.nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]


def test_the_defaults_leave_the_seed_gans_as_they_were(tiny_cfg):
    model, _ = build(tiny_cfg)  # gan_lrelu as configured
    assert model.generator_ema is None and model.hparams.critic_steps == 0
    assert not any(parametrize.is_parametrized(c) for c in convolutions(model.discriminator))
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.discriminator.modules())


@pytest.mark.parametrize("name", ["patch", "global"])
def test_spectral_norm_normalizes_every_convolution_of_d_and_drops_its_norm_layers(tiny_cfg, name):
    extra = ["model.discriminator.name=global", "model.discriminator.n_layers=5"] if name == "global" else []
    model, _ = build(tiny_cfg, "model.discriminator.spectral_norm=true", *extra)
    convs = convolutions(model.discriminator)
    assert convs and all(parametrize.is_parametrized(c, "weight") for c in convs)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.discriminator.modules())
    assert all(c.bias is not None for c in convs)  # no norm layer follows: the biases are back
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.generator.modules())  # G keeps its norm
    for conv in convs:  # the largest singular value of each weight, as a matrix, is 1
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.05), (conv, sigma)
    raw = build(tiny_cfg)[0].discriminator
    sigmas = [torch.linalg.matrix_norm(c.weight.detach().flatten(1), ord=2).item() for c in convolutions(raw)]
    assert not all(s == pytest.approx(1.0, abs=0.05) for s in sigmas)  # without it, they are not


class Snapshots(L.Callback):
    """G's and D's parameters and buffers at every batch start, and at the end."""

    def __init__(self) -> None:
        self.g: list[dict] = []
        self.d: list[dict] = []
        self.ema: list[dict] = []

    def _record(self, pl_module) -> None:
        self.g.append(state(pl_module.generator))
        self.d.append(state(pl_module.discriminator))
        if pl_module.generator_ema is not None:
            self.ema.append(state(pl_module.generator_ema))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._record(pl_module)

    def on_train_end(self, trainer, pl_module):
        self._record(pl_module)


def test_the_critic_phase_trains_d_alone_on_the_frozen_g_then_both_train(tiny_cfg, tmp_path):
    model, data = build(tiny_cfg, "model.critic_steps=2", "model.d_steps_per_g_step=2", "model.ema_decay=0.9")
    snaps = Snapshots()
    fit = trainer(tmp_path, [snaps], max_steps=3)
    fit.fit(model, datamodule=data)
    g, d = snaps.g, snaps.d  # at the start of batches 1, 2, 3, and at the end
    assert same(g[0], g[1]) and same(g[1], g[2]), "the critic phase changed G (weights or batch-norm statistics)"
    assert not same(d[0], d[1]) and not same(d[1], d[2]), "the critic phase did not train D"
    assert same(snaps.ema[0], snaps.ema[2]) and same(snaps.ema[2], g[0]), "the average moved without G"
    assert not same(g[2], g[3]) and not same(d[2], d[3]), "after the critic phase both must train"
    # One batch is one step in both phases; G made one update, D two per batch.
    assert fit.global_step == 3
    g_state, d_state = (opt.state_dict()["state"] for opt in fit.optimizers)
    assert next(iter(g_state.values()))["step"].item() == 1
    assert next(iter(d_state.values()))["step"].item() == 6


def test_the_critic_phase_keeps_a_warm_started_generator(tiny_cfg, tmp_path, request):
    path, unet_weights = request.getfixturevalue("unet_checkpoint")
    model, data = build(tiny_cfg, f"model.generator_init={path}", "model.critic_steps=2", "model.ema_decay=0.999",
                        experiment="gan")
    snaps = Snapshots()
    trainer(tmp_path, [snaps], max_steps=2).fit(model, datamodule=data)
    for weights in (snaps.g[-1], snaps.ema[0], snaps.ema[-1]):  # G after the phase, and its average from the start
        assert all(torch.equal(weights[k], v) for k, v in unet_weights.items())


class GeneratorAfterEachStep(L.Callback):
    def __init__(self) -> None:
        self.weights: list[dict] = []

    def on_train_start(self, trainer, pl_module):
        self.weights.append(state(pl_module.generator))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.weights.append(state(pl_module.generator))


def test_the_average_follows_g_and_is_what_validation_and_checkpoints_use(tiny_cfg, tmp_path):
    decay = 0.5
    model, data = build(tiny_cfg, f"model.ema_decay={decay}")
    after = GeneratorAfterEachStep()
    every = ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{step}", every_n_train_steps=3)
    fit = trainer(tmp_path, [after, every], max_steps=3)
    fit.fit(model, datamodule=data)

    # average = G at the start, then decay * average + (1 - decay) * G after each step (batch norm's
    # running statistics too); the integer batch counts are G's own.
    expected = after.weights[0]
    for weights in after.weights[1:]:
        expected = {k: v * decay + weights[k] * (1 - decay) if v.is_floating_point() else weights[k]
                    for k, v in expected.items()}
    ema = state(model.generator_ema)
    for name, value in expected.items():
        torch.testing.assert_close(ema[name], value, rtol=1e-5, atol=1e-6)
    assert not same(ema, state(model.generator))

    # Evaluation (eval mode) runs the average; training runs G.
    inputs = torch.rand(2, 1, 32, 32) * 2 - 1
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(inputs), model.generator_ema(inputs))
        assert not torch.allclose(model(inputs), model.generator(inputs))
    # Validation's MAE is the average's: the same weights copied into G and the average dropped give it too.
    with_ema = trainer(tmp_path, limit_val_batches=1).validate(model, datamodule=data, verbose=False)[0]["val/mae"]
    raw = trainer(tmp_path, limit_val_batches=1).validate(_without_ema(model, use="generator"), datamodule=data,
                                                          verbose=False)[0]["val/mae"]
    averaged = trainer(tmp_path, limit_val_batches=1).validate(_without_ema(model, use="generator_ema"), datamodule=data,
                                                               verbose=False)[0]["val/mae"]
    assert with_ema == pytest.approx(averaged, rel=1e-6) and with_ema != pytest.approx(raw, rel=1e-4)
    # colorize, export, evaluate and figures read the generator through load_generator: the average.
    loaded = load_generator(tmp_path / "ckpt" / "step=3.ckpt").generator
    assert same(state(loaded), ema)


def _without_ema(model, use: str):
    """A copy of the GAN without an average, whose G holds `use`'s weights."""
    from colorgan.models.gan_colorizer import GANColorizer

    plain = GANColorizer(**{**model.hparams, "ema_decay": None})
    plain.generator.load_state_dict(getattr(model, use).state_dict())
    return plain


class AverageAtStart(L.Callback):
    def on_train_start(self, trainer, pl_module):
        self.weights = state(pl_module.generator_ema)


def test_resume_restores_the_average(tiny_cfg, tmp_path):
    model, data = build(tiny_cfg, "model.ema_decay=0.9")
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{step}", every_n_train_steps=2, save_top_k=-1)
    trainer(tmp_path, [ckpt], max_steps=3).fit(model, datamodule=data)
    saved = torch.load(tmp_path / "ckpt" / "step=2.ckpt", weights_only=True)["state_dict"]
    saved_ema = {k.removeprefix("generator_ema."): v for k, v in saved.items() if k.startswith("generator_ema.")}
    assert saved_ema and not same(saved_ema, {k.removeprefix("generator."): v for k, v in saved.items()
                                              if k.startswith("generator.")})

    resumed, data = build(tiny_cfg, "model.ema_decay=0.9")
    probe = AverageAtStart()
    fit = trainer(tmp_path, [probe], max_steps=4)
    fit.fit(resumed, datamodule=data, ckpt_path=tmp_path / "ckpt" / "step=2.ckpt")
    assert same(probe.weights, saved_ema), "the resumed run must continue the saved average, not restart it from G"
    assert fit.global_step == 4


def test_every_option_together_trains_and_tests_through_hydra_with_a_best_checkpoint_per_validation(tiny_cfg):
    # docs/gan.md's frequent checkpoints: validation twice an epoch, a best checkpoint looked for at each.
    cfg = tiny_cfg(TINY_D, "model.discriminator.spectral_norm=true", "model.critic_steps=1", "model.ema_decay=0.99",
                   "model.d_steps_per_g_step=2", "model.lambda_l1=10", "model.lr_d=4e-4", "trainer.limit_train_batches=4",
                   "+trainer.val_check_interval=0.5", "callbacks.model_checkpoint.filename='best-epoch{epoch:03d}-step{step}'",
                   "callbacks.model_checkpoint.save_top_k=-1", experiment="gan_lrelu")  # -1: keep every one, to count them
    metrics = train(cfg)
    assert all(math.isfinite(metrics[f"train/{k}_epoch"]) for k in ("d_loss", "g_adv", "g_l1", "g_loss"))
    assert metrics["test/mae"] >= 0 and math.isfinite(metrics["test/false_color"])
    folder = Path(cfg.paths.output_dir) / "checkpoints"
    assert sorted(p.name for p in folder.glob("best-*.ckpt")) == ["best-epoch001-step2.ckpt", "best-epoch001-step4.ckpt"]
    checkpoint = torch.load(folder / "best-epoch001-step4.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 4 and any(k.startswith("generator_ema.") for k in checkpoint["state_dict"])


@pytest.mark.parametrize(("override", "message"), [
    ("model.ema_decay=1.5", "model.ema_decay: ema_decay must be null or 0 (no average) or a number in (0, 1)"),
    ("model.critic_steps=-1", "model.critic_steps: critic_steps must be an integer >= 0"),
    ("model.discriminator.spectral_norm=maybe", "model.discriminator.spectral_norm='maybe': valid values are False, True"),
])
def test_bad_recipe_values_are_refused_before_anything_runs(override, message, tmp_path):
    cfg = compose_train(["+experiment=gan", *TINY, override], tmp_path / "run", tmp_path / "no_data")
    with pytest.raises(ConfigError) as refused:
        validate_config(cfg)
    assert message in str(refused.value)


@pytest.mark.slow
def test_the_recipe_keeps_both_gloo_ranks_identical(tiny_cifar, tmp_path):
    """2 CPU ranks over gloo with every option: the critic phase, spectral norm (power-iteration
    vectors are buffers) and the average end equal on both ranks."""
    run_dir = tmp_path / "run"
    result = train_cli("+experiment=gan_lrelu", "trainer=ddp", "trainer.devices=2", "data.eval_batch_size=8", TINY_D,
                       "model.discriminator.spectral_norm=true", "model.critic_steps=1", "model.ema_decay=0.9",
                       "test=false", "+callbacks.weights._target_=helpers.ddp_probes.WeightsPerRank", f"hydra.run.dir={run_dir}",
                       data_dir=tiny_cifar, log_dir=tmp_path, env={"PYTHONPATH": f"{REPO}:{REPO / 'tests'}"})
    assert result.returncode == 0, failure_text(result)
    ranks = [torch.load(run_dir / f"weights_rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert any(k.startswith("generator_ema.") for k in ranks[0])
    for name in ranks[0]:
        assert torch.equal(ranks[0][name], ranks[1][name]), name
