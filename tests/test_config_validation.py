"""Bad configs are refused in well under a second, before any data is read, with what is valid."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers.configs import REPO, TINY, compose_train
from hydra.errors import MissingConfigException

from colorgan.config_validation import ConfigError, validate_config
from colorgan.models.gan_colorizer import GANColorizer, check_d_steps
from colorgan.nets.discriminators import GlobalDiscriminator
from colorgan.train import train

# (override, what the message must say), for both models.
COMMON = [
    ("model.generator.activation=swish", "valid values are relu, lrelu, elu, gelu, silu, mish"),
    ("model.generator.decoder_activation=tanh", "valid values are relu, lrelu"),
    ("model.generator.norm=layer", "valid values are batch, instance, group, none"),
    ("data.color_space=hsv", "data.color_space='hsv': valid values are lab, rgb"),
    ("model.generator.channels=[8,16,32,64,128,256]", "multiples of 64, but images are 32x32"),
    ("model.generator.channels=[8,0]", "positive integer widths"),
    ("model.generator.dropout=1.0", "must be in [0, 1)"),
    ("data.batch_size=0", "data.batch_size=0: must be an integer >= 1"),
    ("data.eval_batch_size=-4", "data.eval_batch_size=-4: must be an integer >= 1"),
    ("trainer.max_epochs=0", "trainer.max_epochs=0"),
    ("callbacks.last_checkpoint.every_n_minutes=0", "must be a number > 0 or null"),
    ("model.betas=[0.5,1.5]", "Adam's betas are two numbers in [0, 1)"),
    ("resume=/no/such/run", "resume=/no/such/run: not found: no such run directory or checkpoint file"),
    ("model._target_=colorgan.models.nope.Model", "model._target_='colorgan.models.nope.Model': cannot be imported"),
]
UNET = [
    ("model.loss=huber", "model.loss='huber': valid values are l1, l2, smooth_l1"),
    ("model.lr=0", "model.lr=0: a learning rate must be a number > 0"),
    ("model.lr=-1e-4", "model.lr=-0.0001: a learning rate must be a number > 0"),
    ("model.weight_decay=-1", "model.weight_decay=-1: must be a number >= 0"),
]
GAN = [
    ("model.gan_loss=wasserstein", "valid values are vanilla, lsgan, hinge"),
    ("model.discriminator.name=pixel", "valid values are patch, global"),
    ("model.discriminator.norm=layer", "valid values are batch, instance, group, none"),
    ("model.lr_g=0", "model.lr_g=0: a learning rate must be a number > 0"),
    ("model.lr_d=-1", "model.lr_d=-1: a learning rate must be a number > 0"),
    ("model.lambda_l1=-1", "model.lambda_l1=-1: a loss weight must be a number >= 0"),
]
CLASSIFY = [
    ("data.color_space=rgb", "model.color_space='rgb': the classification colorizer predicts Lab ab bins: use data.color_space=lab"),
    ("model.temperature=-0.1", "model.temperature=-0.1: must be a number >= 0"),
    ("model.rebalance=1.5", "model.rebalance=1.5: must be in [0, 1]"),
    ("model.prior_images=0", "model.prior_images=0: must be an integer >= 1"),
    ("model.lr=0", "model.lr=0: a learning rate must be a number > 0"),
]
# The colour space has one source (data.color_space; model.color_space follows it): a mismatch is refused.
MISMATCH = ("model.color_space=rgb", "model.color_space='rgb': the data is split in 'lab' (data.color_space)")
CASES = (
    [("unet_lrelu", o, m) for o, m in [*COMMON, *UNET, MISMATCH]]
    + [("gan", o, m) for o, m in [*COMMON, *GAN, MISMATCH]]
    + [("classify", o, m) for o, m in CLASSIFY]
)


@pytest.mark.parametrize(("experiment", "override", "message"), CASES)
def test_invalid_value_is_refused_quickly_before_data(experiment, override, message, tmp_path):
    # The data folder does not exist: if anything read data, the error would be a DatasetError.
    cfg = compose_train([f"+experiment={experiment}", *TINY, override], tmp_path / "run", tmp_path / "no_data")
    started = time.perf_counter()
    with pytest.raises(ConfigError) as refused:
        train(cfg)
    assert time.perf_counter() - started < 5.0  # typically ~0.05 s; generous for loaded CI machines
    assert message in str(refused.value)
    assert not (tmp_path / "run" / "config.yaml").exists()  # nothing was run


def test_every_problem_is_listed_at_once(tiny_cfg):
    cfg = tiny_cfg("model.lr=0", "data.batch_size=0", "model.generator.norm=layer")
    with pytest.raises(ConfigError) as refused:
        validate_config(cfg)
    assert str(refused.value).count("\n  - ") == 3


def test_valid_configs_pass(tiny_cfg):
    validate_config(tiny_cfg())
    validate_config(tiny_cfg("logger=wandb", "logger.wandb.mode=offline", "data.eval_batch_size=null"))


def test_wandb_mode_is_checked(tiny_cfg):
    with pytest.raises(ConfigError, match="logger.wandb.mode='sometimes': valid values are null, online, offline"):
        validate_config(tiny_cfg("logger=wandb", "logger.wandb.mode=sometimes"))


def test_unknown_logger_is_refused_with_the_options(tmp_path):
    # A config group choice: Hydra itself refuses it, listing what exists.
    with pytest.raises(MissingConfigException) as refused:
        compose_train(["+experiment=unet_lrelu", *TINY, "logger=mlflow"], tmp_path / "run")
    assert "Available options in 'logger'" in str(refused.value)
    assert all(name in str(refused.value) for name in ("csv", "wandb", "tensorboard"))


def test_new_run_does_not_overwrite_a_resumable_one(tiny_cfg, tmp_path):
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    last.write_bytes(b"a checkpoint")
    with pytest.raises(ConfigError, match=f"resume={tmp_path / 'run'}"):
        validate_config(tiny_cfg())


def test_unwritable_run_dir_is_refused(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    cfg = compose_train(["+experiment=unet_lrelu", *TINY], blocker / "run")
    with pytest.raises(ConfigError, match="is not writable"):
        validate_config(cfg)


@pytest.mark.slow  # tests/test_cli.py runs a refused command line in the fast suite
def test_cli_refuses_bad_values_with_their_messages(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "colorgan.train", *TINY, "model.lr=-1", "model.generator.norm=layer",
         f"hydra.run.dir={tmp_path / 'run'}", f"paths.data_dir={tmp_path / 'no_data'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "model.lr=-1: a learning rate must be a number > 0" in output
    assert "model.generator.norm='layer': valid values are batch, instance, group, none" in output
    assert "DatasetError" not in output


@pytest.mark.parametrize(
    ("override", "build"),
    [
        ("model.d_steps_per_g_step=0", lambda: check_d_steps(0)),
        ("model.discriminator.n_layers=4", lambda: GlobalDiscriminator.check_size(4, 32, 32)),
    ],
)
def test_the_validator_reports_the_constructors_own_rule(override, build, tiny_cfg):
    with pytest.raises(ValueError) as constructor:
        build()
    with pytest.raises(ConfigError) as refused:
        validate_config(tiny_cfg("model.discriminator.name=global", override, experiment="gan"))
    assert str(constructor.value) in str(refused.value)  # one rule, said the same way in both places


class Pix2Pix(GANColorizer):
    """A GAN by another name."""


def test_the_model_type_comes_from_the_target_class_not_its_name(tiny_cfg):
    cfg = tiny_cfg(f"model._target_={__name__}.Pix2Pix", "model.discriminator.name=pixel", experiment="gan")
    with pytest.raises(ConfigError, match="model.discriminator.name='pixel': valid values are patch, global"):
        validate_config(cfg)


def refusal_after_truncating_last(tiny_cfg, run, *overrides: str) -> tuple[Path, str]:
    """Train a tiny run, cut its last.ckpt short, resume it: its best checkpoint and the refusal."""
    train(tiny_cfg("test=false", *overrides))
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:2000])
    (best,) = (run / "checkpoints").glob("best-*.ckpt")
    with pytest.raises(ConfigError) as refused:
        validate_config(tiny_cfg(f"resume={run}", "test=false"))
    return best, str(refused.value)


def test_a_truncated_last_checkpoint_offers_the_runs_best(tiny_cfg, tmp_path):
    best, message = refusal_after_truncating_last(tiny_cfg, tmp_path / "run")
    assert "is truncated or corrupt" in message
    assert f"best checkpoint {best} is readable: colorize, evaluate and export work with it" in message


def test_best_checkpoints_hold_the_weights_only_and_last_holds_what_resume_needs(tiny_cfg, tmp_path):
    train(tiny_cfg("test=false"))
    folder = tmp_path / "run" / "checkpoints"
    (best,) = folder.glob("best-*.ckpt")
    best_saved, last_saved = (torch.load(p, weights_only=True) for p in (best, folder / "last.ckpt"))
    assert "optimizer_states" not in best_saved and "callbacks" not in best_saved
    assert best_saved["state_dict"].keys() == last_saved["state_dict"].keys()
    assert last_saved["optimizer_states"] and last_saved["callbacks"]
    # Adam's two moments per weight: the best checkpoint is about a third of the last one
    assert best.stat().st_size < 0.4 * (folder / "last.ckpt").stat().st_size
    with pytest.raises(ConfigError) as refused:
        validate_config(tiny_cfg(f"resume={best}", "test=false"))
    assert f"{best} holds the weights only" in str(refused.value) and "(resume=<run dir>)" in str(refused.value)


def test_an_old_best_checkpoint_with_optimizer_states_is_still_offered(tiny_cfg, tmp_path):
    best, message = refusal_after_truncating_last(tiny_cfg, tmp_path / "run", "callbacks.model_checkpoint.save_weights_only=false")
    assert f"to continue from it (later epochs are trained again): python -m colorgan.train resume={best}" in message
