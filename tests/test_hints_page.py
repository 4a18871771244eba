"""The page's hint section in a real browser (conftest's `browser`: Debian's headless Chromium driven by
Playwright) against `python -m colorgan.app` started on the tiny hint model: a colour picked and a
click on the colour photo bring the pixels near the click towards that colour; undo takes it back."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.cli import running_app
from helpers.hints import patchwork
from PIL import Image

from colorgan.bench.hint_page import wait_for_hint_message
from colorgan.color_space import LAB
from colorgan.inference import Hint

pytest.importorskip("gradio", reason="the page needs the app extra: pip install -e '.[app]'")
pytestmark = pytest.mark.timeout(300)

PICKED = "#2838c8"  # a blue, far from what the tiny model paints on its own


@pytest.fixture(scope="module")
def server(tiny_hint_checkpoint, tmp_path_factory):
    with running_app(tiny_hint_checkpoint, tmp_path_factory.mktemp("hint_app") / "app.log") as (url, _):
        yield url


def download(page, folder: Path, name: str) -> Image.Image:
    with page.expect_download() as info:
        page.locator("#hint-download a[download]").first.click()
    target = folder / name
    info.value.save_as(target)
    return Image.open(target).convert("RGB")


def ab_near(image: Image.Image, x: int, y: int, radius: int = 2) -> torch.Tensor:
    rgb = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255
    return LAB.split(rgb)[1][0, :, y - radius:y + radius + 1, x - radius:x + radius + 1].mean(dim=(-2, -1))


def test_a_click_with_a_colour_brings_the_pixels_near_it_towards_that_colour(browser, server, tmp_path):
    photo = tmp_path / "patchwork.png"
    Image.fromarray(patchwork(1002)).save(photo)
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    page.goto(server)
    page.locator("#hint-photo input[type=file]").set_input_files(str(photo))
    wait_for_hint_message(page, "colorized with 0 hint")
    automatic = download(page, tmp_path, "automatic.png")

    page.locator("#hint-colour button").click()  # the picker's dialog: its hex field
    page.locator("#hint-colour input[type=text]").fill(PICKED)
    page.locator("#hint-colour input[type=text]").press("Enter")
    page.keyboard.press("Escape")
    shown = page.locator("#hint-result img")
    box = shown.bounding_box()
    width, height = automatic.size
    x, y = 16, 16  # the photo's pixels: the middle of its top-left patch
    shown.click(position={"x": (x + 0.5) * box["width"] / width, "y": (y + 0.5) * box["height"] / height})
    wait_for_hint_message(page, "colorized with 1 hint")
    listed = page.locator("#hint-list textarea").input_value()
    assert listed.startswith("1. x=") and PICKED in listed, listed
    hinted = download(page, tmp_path, "hinted.png")

    target = Hint(x, y, (0x28, 0x38, 0xC8)).ab()
    before, after = (ab_near(automatic, x, y) - target).norm(), (ab_near(hinted, x, y) - target).norm()
    assert after < before - 0.15, (before, after)
    far = (ab_near(hinted, 48, 48) - ab_near(automatic, 48, 48)).norm()
    assert far < (ab_near(hinted, x, y) - ab_near(automatic, x, y)).norm()  # the change is near the click

    page.locator("#hint-undo").click()
    wait_for_hint_message(page, "colorized with 0 hint")
    assert np.array_equal(np.asarray(download(page, tmp_path, "undone.png")), np.asarray(automatic))
    context.close()


def test_the_page_benchmark_times_each_hints_answer(browser, tiny_hint_checkpoint, tmp_path):
    """Run as a user runs it (its own Playwright: the `browser` fixture's holds this thread)."""
    import subprocess
    import sys

    photo = tmp_path / "patchwork.png"
    Image.fromarray(patchwork(1003)).save(photo)
    done = subprocess.run([sys.executable, "-m", "colorgan.bench.hint_page", str(tiny_hint_checkpoint), str(photo),
                           "--side", "64", "--clicks", "2"], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "hint 1: " in done.stdout and "hint 2: " in done.stdout and "64x64 photo: median answer " in done.stdout
