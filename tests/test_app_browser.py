"""The page in a real browser: Debian's headless Chromium, driven by Playwright's Python package
(its own browser builds are never downloaded; `executable_path` points at the system one), against
`python -m colorgan.app` started as a user starts it. COLORGAN_WRITE_DOCS=1 also writes the page's
screenshot to docs/images/app.png (README and docs/app.md show it)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO
from PIL import Image
from test_colorize import photo

from colorgan.metrics import colorfulness

pytest.importorskip("gradio", reason="the page needs the app extra: pip install -e '.[app]'")
playwright = pytest.importorskip("playwright.sync_api", reason="the browser test needs the app extra")

# Debian's package puts the browser in /usr/lib/chromium; /usr/bin/chromium is a wrapper script.
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and Path(p).is_file()), None)
if CHROMIUM is None:
    if os.environ.get("CI"):  # .ci/run installs it: a CI without it is broken, not skipped
        pytest.fail("Chromium not found; .ci/run installs Debian's `chromium` package", pytrace=False)
    pytest.skip("no Chromium: `apt-get install chromium` (Debian) runs the browser tests", allow_module_level=True)

DOCS_SCREENSHOT = REPO / "docs" / "images" / "app.png"
pytestmark = pytest.mark.timeout(300)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_checkpoint):
    """`python -m colorgan.app CHECKPOINT --port P` running; yields its URL. COLORGAN_APP_CHECKPOINT
    swaps the tiny test model for a real one (for the docs screenshot)."""
    checkpoint = os.environ.get("COLORGAN_APP_CHECKPOINT") or str(tiny_checkpoint("lab"))
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen([sys.executable, "-m", "colorgan.app", checkpoint, "--port", str(port), "--device", "cpu"],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            pytest.fail("the app exited:\n" + "".join(lines))
        lines.append(line)
        if url in line:
            break
    else:
        process.kill()
        pytest.fail("the app did not start in 120 s:\n" + "".join(lines))
    yield url, process
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(server, browser):
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
    assert text.strip() == "2 colorized at working size 32 px, 0 failed"
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
    assert text.strip().endswith("0 colorized at working size 32 px, 1 failed")
    assert server[1].poll() is None
    photo(50, 40).save(tmp_path / "after.png")  # the same page still works
    page.locator('#photos button[aria-label="Clear"]').click()
    assert upload_and_colorize(page, tmp_path / "after.png").strip() == "1 colorized at working size 32 px, 0 failed"
