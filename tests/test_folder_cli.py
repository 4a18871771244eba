"""The commands docs/folder.md gives, run as a user runs them: train on a folder, evaluate on a folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers.configs import REPO, TINY
from PIL import Image
from test_folder import write_tree


def run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=300)


def test_train_on_a_folder_then_evaluate_on_a_folder(tmp_path):
    photos = tmp_path / "photos"
    write_tree(photos)
    run_dir = tmp_path / "run"
    out = run([sys.executable, "-m", "colorgan.train", "+experiment=places_unet", f"data.root={photos}", *TINY,
               "data.val_size=2", "data.test_size=2", "data.image_size=64", "data.num_workers=1",
               f"hydra.run.dir={run_dir}"], env={"COLORGAN_CACHE_DIR": str(tmp_path / "cache")})
    assert out.returncode == 0, out.stderr[-3000:]
    logged = out.stdout + out.stderr
    assert logged.count("21 images found, skipped 3 grayscale") == 1  # the scan's report, once
    assert logged.count("Skipping unreadable image") == 1
    # 256 px experiments draw their image grid unscaled: 3 rows of 64 px images.
    assert Image.open(run_dir / "images" / "epoch_001.png").size[1] == 3 * (64 + 2) + 2
    # the scan is cached in the user's cache folder, not in ./logs: the run is elsewhere
    assert list((tmp_path / "cache" / "folder_scans").glob("photos-*.json"))

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


def test_scan_cache_defaults_to_the_users_cache_folder(tmp_path, monkeypatch):
    """Shared, rebuildable data goes to $COLORGAN_CACHE_DIR, else $XDG_CACHE_HOME/colorgan, else ~/.cache/colorgan."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    def scan_cache() -> str:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            cfg = compose("train", overrides=["data=folder", "data.root=/photos"])
        return OmegaConf.to_container(cfg.data, resolve=True)["scan_cache"]

    for name in ("COLORGAN_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert scan_cache() == f"{tmp_path}/home/.cache/colorgan/folder_scans"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert scan_cache() == f"{tmp_path}/xdg/colorgan/folder_scans"
    monkeypatch.setenv("COLORGAN_CACHE_DIR", str(tmp_path / "mine"))
    assert scan_cache() == f"{tmp_path}/mine/folder_scans"
