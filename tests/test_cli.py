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


def test_a_wrong_colorgan_data_names_the_copy_beside_the_repository(tmp_path):
    """COLORGAN_DATA pointing nowhere, while ../shared/data holds the copy the commands would have found."""
    if not (REPO.parent / "shared" / "data" / "cifar-10-batches-py").is_dir():
        pytest.skip("needs ../shared/data beside the repository")
    out = run([sys.executable, "-m", "colorgan.train", *TINY, f"hydra.run.dir={tmp_path}/run"],
              COLORGAN_DATA=str(tmp_path / "nowhere"))
    assert out.returncode == 2, out.stderr[-2000:]
    assert "A copy is at ../shared/data, which is used when COLORGAN_DATA is not set" in out.stderr


def test_help_says_what_to_type_in_a_screenful():
    out = run([sys.executable, "-m", "colorgan.train", "--help"])
    assert out.returncode == 0 and len(out.stdout.splitlines()) <= 25, out.stdout
    assert "python -m colorgan.train resume=<run dir or sweep dir>" in out.stdout
    assert "experiment: classify, classify_lrelu" in out.stdout and "--cfg job" in out.stdout
    assert "lambda_l1" not in out.stdout  # not the whole config


def test_the_composed_config_is_printed_when_asked_not_before_every_run():
    """README: `--cfg job` prints the config without training (a run prints it only with print_config=true)."""
    out = run([sys.executable, "-m", "colorgan.train", "--cfg", "job"])
    assert out.returncode == 0 and "_target_: colorgan.data.cifar10.CIFAR10DataModule" in out.stdout, out.stderr[-2000:]
    assert "print_config: false" in out.stdout


def test_the_progress_bar_shows_three_validation_metrics_not_a_column_of_them(tiny_cifar, tmp_path):
    tiny = [o for o in TINY if o != "callbacks.progress_bar=null"]
    out = run([sys.executable, "-m", "colorgan.train", "+experiment=unet_lrelu", *tiny, f"hydra.run.dir={tmp_path}/run"],
              COLORGAN_DATA=str(tiny_cifar), COLUMNS="160")
    assert out.returncode == 0, out.stderr[-3000:]
    bar = [line for line in out.stdout.splitlines() if "Epoch 1/1" in line]
    assert bar and "val/mae" in bar[-1] and "val/psnr" in bar[-1], out.stdout[-2000:]
    assert not any("val/ssim" in line or "val/auc" in line for line in bar)  # not beside the bar: in the CSV
    assert "val/ssim" in (tmp_path / "run" / "csv" / "metrics.csv").read_text()
