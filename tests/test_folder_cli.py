"""The commands docs/folder.md gives, run as a user runs them: train on a folder, evaluate on a folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO, TINY
from PIL import Image
from test_folder import write_tree


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, env=dict(os.environ), capture_output=True, text=True, timeout=300)


def test_train_on_a_folder_then_evaluate_on_a_folder(tmp_path):
    photos = tmp_path / "photos"
    write_tree(photos)
    run_dir = tmp_path / "run"
    out = run([sys.executable, "-m", "colorgan.train", "+experiment=places_unet", f"data.root={photos}", *TINY,
               "data.val_size=2", "data.test_size=2", "data.image_size=64", "data.num_workers=1",
               f"hydra.run.dir={run_dir}", f"paths.log_dir={tmp_path / 'logs'}"])
    assert out.returncode == 0, out.stderr[-3000:]
    logged = out.stdout + out.stderr
    assert logged.count("21 images found, skipped 3 grayscale") == 1  # the scan's report, once
    assert logged.count("Skipping unreadable image") == 1
    # 256 px experiments draw their image grid unscaled: 3 rows of 64 px images.
    assert Image.open(run_dir / "images" / "epoch_001.png").size[1] == 3 * (64 + 2) + 2
    assert list((tmp_path / "logs" / "folder_scans").glob("photos-*.json"))  # the scan is cached

    output = tmp_path / "eval.json"
    out = run([sys.executable, "-m", "colorgan.evaluate", str(run_dir / "checkpoints" / "last.ckpt"), str(photos),
               "--output", str(output)])
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(output.read_text())
    # --size defaults to the size the checkpoint was trained at (places_unet records it).
    assert result["image_size"] == 64
    assert result["images"] == 16 and result["skipped"] == {"gray": 3, "small": 1, "unreadable": 1}
    assert set(result["model"]) == set(result["baseline"]) >= {"mae", "psnr", "ssim", "acc", "auc", "colorfulness"}
    assert "grayscale baseline" in out.stdout and f"Results written to {output}" in out.stdout
