"""The commands README.md gives, run as a user runs them (subprocesses, real files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers.configs import REPO, TINY


def run(cmd: list[str], **env) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def test_python_m_colorgan_train(tiny_cifar, tmp_path):
    out = run([sys.executable, "-m", "colorgan.train", "+experiment=unet", *TINY, f"hydra.run.dir={tmp_path}/run"],
              COLORGAN_DATA=str(tiny_cifar))
    assert out.returncode == 0, out.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "test_metrics.json").read_text())
    assert {"test/mae", "test_baseline/mae"} <= set(metrics)
    assert "grayscale baseline" in out.stdout  # the printed comparison table


@pytest.mark.skipif(not (REPO / ".venv" / "bin" / "python").exists(), reason="make targets use .venv")
def test_make_train(tiny_cifar, tmp_path):
    args = " ".join([*TINY, f"hydra.run.dir={tmp_path}/run"])
    out = run(["make", "train", "EXPERIMENT=unet_lrelu", f"ARGS={args}"], COLORGAN_DATA=str(tiny_cifar))
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


def test_fast_path_command(tiny_cifar, tmp_path):
    """README's GPU fast-path command (here on the CPU: bf16 autocast works there too)."""
    fast = ["trainer.precision=bf16-mixed", "data.on_device=true", "model.channels_last=true"]
    out = run([sys.executable, "-m", "colorgan.train", "+experiment=gan_lrelu", *fast, *TINY,
               "model.discriminator.channels=8", f"hydra.run.dir={tmp_path}/run"], COLORGAN_DATA=str(tiny_cifar))
    assert out.returncode == 0, out.stderr[-3000:]
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert "precision: bf16-mixed" in config and "on_device: true" in config and "channels_last: true" in config
    assert json.loads((tmp_path / "run" / "test_metrics.json").read_text())["test/mae"] > 0


def test_bad_experiment_and_bad_names_fail_clearly(tiny_cifar, tmp_path):
    out = run([sys.executable, "-m", "colorgan.train", "+experiment=unet", *TINY, f"hydra.run.dir={tmp_path}/run",
               "model.generator.activation=swish2"], COLORGAN_DATA=str(tiny_cifar))
    assert out.returncode != 0
    assert "model.generator.activation='swish2': valid values are relu, lrelu" in out.stderr


def test_missing_data_fails_with_instructions(tmp_path):
    out = run([sys.executable, "-m", "colorgan.train", "+experiment=unet", *TINY, f"hydra.run.dir={tmp_path}/run"],
              COLORGAN_DATA=str(tmp_path / "nowhere"))
    assert out.returncode != 0
    assert "CIFAR-10 folder not found" in out.stderr and "data.download=true" in out.stderr


def test_tensorboard_logger_command(tiny_cifar, tmp_path):
    """README's `logger=tensorboard`: CSV and TensorBoard event files, no W&B run."""
    tiny = [o for o in TINY if not o.startswith("logger=")]
    out = run([sys.executable, "-m", "colorgan.train", "+experiment=unet_lrelu", *tiny, "logger=tensorboard",
               f"hydra.run.dir={tmp_path}/run"], COLORGAN_DATA=str(tiny_cifar))
    assert out.returncode == 0, out.stderr[-3000:]
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert (tmp_path / "run" / "csv" / "metrics.csv").is_file() and not (tmp_path / "run" / "wandb").exists()
