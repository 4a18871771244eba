"""What a user reads: colorgan's messages without library noise, and epochs counted one way
(from 1) in the progress bar, the logs, the checkpoint names and the stop message."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers.configs import REPO, TINY

NOISE = (
    "litlogger",  # Lightning's advertisement
    "The anonymous setting has no effect",  # W&B about a setting Lightning always passes
    "LeafSpec",  # torch's deprecation of a check Lightning makes
    "FLOPs",  # Lightning counts none without an example input
    "`weights_only` was not set",  # Lightning, at every save that does not say
    "torchvision is not installed",  # the ONNX exporter
    "Test metric",  # Lightning's test table, beside colorgan's
)


def run(cmd: list[str], **env: str) -> str:
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, **env})
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout + out.stderr


def test_a_run_says_what_matters_once(tiny_cifar, tmp_path):
    shown = [o for o in TINY if not o.startswith(("logger=", "callbacks.progress_bar", "trainer.enable_model_summary",
                                                    "callbacks.model_summary", "print_config"))]
    output = run([sys.executable, "-m", "colorgan.train", "+experiment=gan", *shown, "model.discriminator.channels=8",
                  "logger=wandb", f"hydra.run.dir={tmp_path}/run"],
                 COLORGAN_DATA=str(tiny_cifar), WANDB_MODE="offline")
    for noise in NOISE:
        assert noise not in output, noise
    assert output.count("test metrics (RGB output vs truth)") == 1
    assert "_target_" not in output  # no config tree by default (print_config=true shows it)
    assert "Epoch 1/1" in output and "Epoch 0" not in output  # the progress bar counts from 1
    assert "Params:" in output and "generator" in output  # the model summary is still there
    assert (tmp_path / "run" / "checkpoints" / "best-epoch001.ckpt").is_file()  # the first epoch's best
    export = run([sys.executable, "-m", "colorgan.export", str(tmp_path / "run" / "checkpoints" / "last.ckpt"),
                  "-o", str(tmp_path / "model.onnx"), "--fixed-shape"])
    for noise in NOISE:
        assert noise not in export, noise
    assert "wrote" in export
