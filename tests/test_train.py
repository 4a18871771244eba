"""End to end through the real Hydra composition and the real Lightning trainer."""

from __future__ import annotations

import csv
import json

import pytest
from helpers.configs import EXPERIMENT_NAMES, TINY, compose_train, experiment_spaces, on_a_photo_folder
from PIL import Image

from colorgan.train import train

# Experiments on CIFAR-10; those on a photo folder are swept in test_folder.py.
EXPERIMENTS = [name for name in EXPERIMENT_NAMES if not on_a_photo_folder(name)]


@pytest.mark.parametrize(("experiment", "space"), experiment_spaces(EXPERIMENTS))
def test_every_experiment_trains_and_writes_outputs(experiment, space, tiny_cifar, tmp_path):
    cfg = compose_train([f"+experiment={experiment}", *TINY, f"data.color_space={space}"], tmp_path / "run", tiny_cifar)
    metrics = train(cfg)
    run = tmp_path / "run"
    # Model and baseline metrics side by side, finite.
    for name in ("mae", "psnr", "ssim", "acc", "auc", "colorfulness", "colorfulness_true", "false_color"):
        assert f"test/{name}" in metrics and f"test_baseline/{name}" in metrics
    assert 0 <= metrics["test/mae"] <= 255
    assert json.loads((run / "test_metrics.json").read_text())["test/mae"] == pytest.approx(metrics["test/mae"])
    # The CSV holds validation metrics, the grid has 3 rows (original | gray | prediction) of 8 images.
    with open(run / "csv" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert any(row.get("val/mae") for row in rows)
    grid = Image.open(run / "images" / "epoch_001.png")
    assert grid.size == (8 * (32 * 4 + 2) + 2, 3 * (32 * 4 + 2) + 2)
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "config.yaml").is_file()
    info = json.loads((run / "run_info.json").read_text())  # what the run's speed was measured on
    assert info["machine"].startswith("CPU ") and "vector instructions" in info["cpu"]
