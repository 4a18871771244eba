"""The commands README.md gives, run as a user runs them (subprocesses, real files)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest
from helpers.configs import REAL_CIFAR, REPO, TINY


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


def test_without_colorgan_data_a_bare_command_names_the_makefiles_copy(tmp_path):
    """`python -m colorgan.train` right after `make train`: no Makefile sets COLORGAN_DATA, ./data is
    empty, and the message says where the copy the Makefile used is and how to point at it."""
    if not (REPO.parent / "shared" / "data" / "cifar-10-batches-py").is_dir() or (REPO / "data").exists():
        pytest.skip("needs ../shared/data beside the repository and no ./data")
    env = {k: v for k, v in os.environ.items() if k != "COLORGAN_DATA"}
    out = subprocess.run([sys.executable, "-m", "colorgan.train", *TINY, f"hydra.run.dir={tmp_path}/run"], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "export COLORGAN_DATA=../shared/data" in out.stderr, out.stderr[-2000:]


@pytest.mark.skipif(not REAL_CIFAR.is_dir(), reason="needs the offline CIFAR-10 copy (COLORGAN_DATA)")
def test_readme_quick_try(tmp_path):
    """README's quick-try line, word for word, on the real CIFAR-10 copy: a few batches of each stage."""
    (line,) = [line for line in (REPO / "README.md").read_text().splitlines()
               if line.startswith("python -m colorgan.train ") and "limit_train_batches" in line]
    words = shlex.split(line)
    out = run([sys.executable, *words[1:], f"hydra.run.dir={tmp_path}/run"], COLORGAN_DATA=str(REAL_CIFAR.parent),
              WANDB_MODE="offline", WANDB_SILENT="true")
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "test_metrics.json").read_text())["test/mae"] > 0
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


def test_help_says_what_to_type_in_a_screenful():
    out = run([sys.executable, "-m", "colorgan.train", "--help"])
    assert out.returncode == 0 and len(out.stdout.splitlines()) <= 25, out.stdout
    assert "python -m colorgan.train resume=<run dir or sweep dir>" in out.stdout
    assert "experiment: classify, classify_lrelu" in out.stdout and "--cfg job" in out.stdout
    assert "lambda_l1" not in out.stdout  # not the whole config


def test_the_progress_bar_shows_three_validation_metrics_not_a_column_of_them(tiny_cifar, tmp_path):
    tiny = [o for o in TINY if o != "callbacks.progress_bar=null"]
    out = run([sys.executable, "-m", "colorgan.train", "+experiment=unet_lrelu", *tiny, f"hydra.run.dir={tmp_path}/run"],
              COLORGAN_DATA=str(tiny_cifar), COLUMNS="160")
    assert out.returncode == 0, out.stderr[-3000:]
    bar = [line for line in out.stdout.splitlines() if "Epoch 1/1" in line]
    assert bar and "val/mae" in bar[-1] and "val/psnr" in bar[-1], out.stdout[-2000:]
    assert not any("val/ssim" in line or "val/auc" in line for line in bar)  # not beside the bar: in the CSV
    assert "val/ssim" in (tmp_path / "run" / "csv" / "metrics.csv").read_text()
