"""Shared fixtures: tiny synthetic CIFAR-format data, tiny configs and models, a browser; what they
are made with is in tests/helpers/."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from helpers.configs import TINY, compose_train, tiny_overrides
from helpers.data import write_cifar
from omegaconf import DictConfig

from colorgan.bench.hint_page import find_chromium

# Folder scans and decoded caches of every test (and of the commands they start) stay out of the
# user's ~/.cache/colorgan; tests that check a cache's place pass their own paths.cache_dir.
TEST_CACHE = os.environ["COLORGAN_CACHE_DIR"] = tempfile.mkdtemp(prefix="colorgan-test-cache-")


def pytest_sessionfinish(session, exitstatus) -> None:
    """The suite leaves no folder of its own in the temporary folder (pytest's tmp_path is pytest's)."""
    shutil.rmtree(TEST_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_cifar(tmp_path_factory) -> Path:
    """Data dir holding a synthetic cifar-10-batches-py/ (80 train, 16 test images)."""
    return write_cifar(tmp_path_factory.mktemp("cifar"))


@pytest.fixture
def tiny_cfg(tiny_cifar, tmp_path):
    """compose(overrides) -> a tiny config on the synthetic data, writing under tmp_path/run."""

    def make(*overrides: str, experiment: str = "unet_lrelu") -> DictConfig:
        return compose_train([f"+experiment={experiment}", *tiny_overrides(experiment), *overrides], tmp_path / "run",
                             tiny_cifar)

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
# Playwright's own browser builds are never downloaded: `executable_path` points at the system one
# (Debian's /usr/lib/chromium/chromium first: /usr/bin/chromium is a wrapper script).
CHROMIUM = find_chromium()


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


@pytest.fixture(scope="session")
def tiny_hint_checkpoint(tmp_path_factory) -> Path:
    """last.ckpt of a tiny hint model (tests/helpers/hints.py) the real trainer fits for 40 batches of
    flat-colour patchworks, once per session."""
    from helpers.hints import train_tiny_hint_model

    folder = tmp_path_factory.mktemp("hint_model")
    return train_tiny_hint_model(folder / "photos", folder / "run")
