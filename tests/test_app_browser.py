"""The page in a real browser (conftest's `browser`: Debian's headless Chromium driven by Playwright)
against `python -m colorgan.app` started as a user starts it. COLORGAN_WRITE_DOCS=1 also writes the page's
screenshot to docs/images/app.png (README and docs/app.md show it)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.cli import running_app
from helpers.configs import REPO
from PIL import Image
from test_colorize import photo

from colorgan.metrics import colorfulness

pytest.importorskip("gradio", reason="the page needs the app extra: pip install -e '.[app]'")

DOCS_SCREENSHOT = REPO / "docs" / "images" / "app.png"
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def server(tiny_checkpoint, tmp_path_factory):
    """`python -m colorgan.app CHECKPOINT --port P` running; yields its URL and process.
    COLORGAN_APP_CHECKPOINT swaps the tiny test model for a real one (for the docs screenshot)."""
    checkpoint = os.environ.get("COLORGAN_APP_CHECKPOINT") or str(tiny_checkpoint("lab"))
    log = tmp_path_factory.mktemp("app") / "app.log"
    with running_app(checkpoint, log) as (url, process):
        yield url, process
    work_dir = Path(re.search(r"outputs in (\S+)", log.read_text()).group(1))
    assert not work_dir.exists(), f"the page left {work_dir} behind"  # removed at shutdown, requests and all


@pytest.fixture
def page(browser, server):  # the browser first: without one, skip before starting anything
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(server[0])
    page.locator("#colorize").wait_for()
    yield page
    context.close()


def upload_and_colorize(page, *files: Path) -> str:
    page.locator("#photos input[type=file]").set_input_files([str(f) for f in files])
    page.locator(f'#photos td.filename[aria-label="{files[-1].name}"]').wait_for()  # the upload is listed
    messages = page.locator("#messages textarea")
    before = messages.input_value()
    page.locator("#colorize").click()
    page.wait_for_function("([el, before]) => el.value !== before && /colorized at working size/.test(el.value)",
                           arg=[messages.element_handle(), before], timeout=120_000)
    return messages.input_value()


def test_photos_are_colorized_compared_and_downloaded_at_full_size(page, server, tmp_path):
    cat = REPO / "docs" / "images" / "chelsea_bw.jpg"
    photo(97, 61).save(tmp_path / "colour.png")
    text = upload_and_colorize(page, cat, tmp_path / "colour.png")
    assert re.fullmatch(r"2 colorized at working size \d+ px, 0 failed", text.strip())
    slider = page.locator("#before-after img")
    slider.first.wait_for()
    assert slider.count() == 2  # gray input and colour output, one over the other
    links = page.locator("#downloads a[download]")
    assert links.count() == 2
    found = {}
    for i in range(2):
        with page.expect_download() as info:
            links.nth(i).click()
        target = tmp_path / "downloads" / info.value.suggested_filename
        info.value.save_as(target)
        found[target.name] = Image.open(target)
    assert set(found) == {"chelsea_bw_colorized.jpg", "colour_colorized.png"}
    assert found["chelsea_bw_colorized.jpg"].size == Image.open(cat).size == (451, 300)
    assert found["colour_colorized.png"].size == (97, 61)
    rgb = torch.from_numpy(np.asarray(found["colour_colorized.png"].convert("RGB"), dtype=np.float32) / 255)
    assert colorfulness(rgb.permute(2, 0, 1)[None]).item() > 5.0  # coloured, not gray
    page.locator("#shown").scroll_into_view_if_needed()
    if os.environ.get("COLORGAN_WRITE_DOCS") == "1":
        page.screenshot(path=str(DOCS_SCREENSHOT), full_page=True)
    assert server[1].poll() is None


def test_a_text_file_named_png_gets_the_colorize_message_and_the_server_keeps_running(page, server, tmp_path):
    fake = tmp_path / "holiday.png"
    fake.write_text("this is a text file, not a photo\n")
    text = upload_and_colorize(page, fake)
    assert "error: holiday.png: not an image Pillow can read (unknown format or not an image file)" in text
    assert re.search(r"\n0 colorized at working size \d+ px, 1 failed$", text.strip())
    assert server[1].poll() is None
    photo(50, 40).save(tmp_path / "after.png")  # the same page still works
    page.locator('#photos button[aria-label="Clear"]').click()
    assert re.fullmatch(r"1 colorized at working size \d+ px, 0 failed", upload_and_colorize(page, tmp_path / "after.png").strip())
