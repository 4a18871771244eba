"""Shared fixtures: tiny synthetic CIFAR-format data, real Hydra composition, tiny models."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from colorgan.data import cifar10

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "conf"
SHARED_DATA = Path(os.environ.get("COLORGAN_DATA", REPO.parent / "shared" / "data"))
REAL_CIFAR = SHARED_DATA / cifar10.FOLDER
# The tiny runs train on the CPU; COLORGAN_TEST_ACCELERATOR=gpu runs them on CUDA (.ci/gpu_checks.sh).
ACCELERATOR = os.environ.get("COLORGAN_TEST_ACCELERATOR", "cpu")
# Folder scans and decoded caches of every test (and of the commands they start) stay out of the
# user's ~/.cache/colorgan; tests that check a cache's place pass their own paths.cache_dir.
os.environ["COLORGAN_CACHE_DIR"] = tempfile.mkdtemp(prefix="colorgan-test-cache-")
DEVICE_TYPE = "cuda" if ACCELERATOR in ("gpu", "cuda") else ACCELERATOR

# A small, fast configuration: tiny U-Net, tiny batches, a couple of batches per stage.
TINY = [
    "model.generator.channels=[8,16,32]",
    "data.batch_size=8",
    "data.eval_batch_size=16",
    "data.val_size=16",
    f"trainer.accelerator={ACCELERATOR}",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_model_summary=false",
    "callbacks.model_summary=null",
    "logger=csv",
    "callbacks.progress_bar=null",
    "print_config=false",
]


def experiment_spaces(experiments: list[str]) -> list[tuple[str, str]]:
    """(experiment, colour space) pairs to test: both spaces, but Lab only for Lab-only models (the
    classification colorizer predicts ab bins)."""
    def lab_only(name: str) -> bool:
        return "override /model: classify" in (CONF_DIR / "experiment" / f"{name}.yaml").read_text()

    return [(e, space) for e in experiments for space in ("lab", "rgb") if space == "lab" or not lab_only(e)]


def synthetic_images(count: int, seed: int = 0) -> np.ndarray:
    """(count, 3, 32, 32) uint8 images with smooth colour structure (gradients + blobs)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    images = np.empty((count, 3, 32, 32), dtype=np.float64)
    for i in range(count):
        for c in range(3):
            a, b, d = rng.uniform(-1, 1, 3)
            images[i, c] = 0.5 + 0.4 * np.tanh(a * xx + b * yy + d)
    images += rng.normal(0, 0.02, images.shape)
    return (images.clip(0, 1) * 255).round().astype(np.uint8)


def write_cifar(root: Path, per_batch: int = 16, seed: int = 0) -> Path:
    """A CIFAR-10 python-version folder under `root` with `per_batch` images per file."""
    folder = root / cifar10.FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(cifar10.TRAIN_FILES + cifar10.TEST_FILES):
        cifar10.write_batch(folder / name, synthetic_images(per_batch, seed + i), labels=[i % 10] * per_batch)
    return root


@pytest.fixture(scope="session")
def tiny_cifar(tmp_path_factory) -> Path:
    """Data dir holding a synthetic cifar-10-batches-py/ (80 train, 16 test images)."""
    return write_cifar(tmp_path_factory.mktemp("cifar"))


def compose_train(overrides: list[str], run_dir: Path, data_dir: Path | None = None) -> DictConfig:
    """Compose conf/train.yaml as `python -m colorgan.train` would, with the run dir set."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
        cfg.hydra.job.num = 0
        if data_dir is not None:
            cfg.paths.data_dir = str(data_dir)
        cfg.paths.log_dir = str(run_dir.parent)
        cfg.paths.cache_dir = str(run_dir.parent / "cache")
    HydraConfig().set_config(cfg)
    return cfg


@pytest.fixture
def tiny_cfg(tiny_cifar, tmp_path):
    """compose(overrides) -> a tiny config on the synthetic data, writing under tmp_path/run."""

    def make(*overrides: str, experiment: str = "unet_lrelu") -> DictConfig:
        return compose_train([f"+experiment={experiment}", *TINY, *overrides], tmp_path / "run", tiny_cifar)

    return make


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_cifar, tmp_path_factory):
    """color_space -> last.ckpt of a tiny U-Net that the real trainer fits for 2 batches; each
    colour space is trained once per session, on first use."""
    from colorgan.train import train

    made: dict[str, Path] = {}

    def make(color_space: str = "lab") -> Path:
        if color_space not in made:
            run = tmp_path_factory.mktemp(f"checkpoint_{color_space}") / "run"
            # PyTorch's initialisation: after 2 batches a model started from N(0, 0.02) still predicts
            # almost gray, and the colorize tests must see colour being added.
            overrides = ["+experiment=unet_lrelu", *TINY, f"data.color_space={color_space}", "test=false",
                         "model.init=default"]
            train(compose_train(overrides, run, tiny_cifar))
            made[color_space] = run / "checkpoints" / "last.ckpt"
        return made[color_space]

    return make


@pytest.fixture
def one_thread():
    """Tiny tensors: one intra-op thread is fastest, and does not spin against other processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- a real browser: Debian's headless Chromium, driven by Playwright's Python package --------------
# Playwright's own browser builds are never downloaded: `executable_path` points at the system one.
# Debian's package puts the browser in /usr/lib/chromium; /usr/bin/chromium is a wrapper script.
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
                 if p and Path(p).is_file()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium for the session. Without one the test is skipped, saying how to get it;
    under CI (which installs it, .ci/run) it fails instead."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need the test extra (playwright)")
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium not found; .ci/run installs Debian's `chromium` package", pytrace=False)
        pytest.skip("no Chromium: `apt-get install chromium` (Debian) runs the browser tests")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()
