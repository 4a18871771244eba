"""How long the page takes to answer a colour hint, as a user sees it: `python -m colorgan.bench.hint_page
CHECKPOINT PHOTO --side 512 --clicks 6`.

Starts `python -m colorgan.app CHECKPOINT` on a free local port, opens it in a headless Chromium
(the system's, driven by Playwright: the test extra), uploads PHOTO scaled to --side pixels on its
longer side, then clicks on the colour photo --clicks times, each with a hint, timing from the click
to the page's message that the photo was colorized with one hint more. Prints each answer's seconds
and the median. Meaningful only on an idle machine. The tests start the page and find Chromium
with the same helpers (running_page, find_chromium).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from colorgan.errors import UserError, user_command

CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")  # Debian's binary, then the wrappers
START_S = 180  # the most a page may take to start serving


class PageDidNotStart(UserError):
    """`python -m colorgan.app` exited or did not serve in time; the message ends with its output."""


def find_chromium() -> str | None:
    """The system's Chromium (Playwright's own browser builds are never downloaded), or None."""
    for name in CHROMIUM_PATHS:
        found = name if Path(name).is_file() else shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_page(checkpoint: str | Path | None, log: Path, *options: str, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None, start_s: float = START_S) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python -m colorgan.app [CHECKPOINT] [OPTIONS]` on a free local port, its output in `log` (a file,
    not a pipe: a full pipe would stall the server); yields (URL, process) once it serves, then stops
    it. PageDidNotStart, with the log's end, when it does not start."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "colorgan.app", *([str(checkpoint)] if checkpoint else []), "--port", str(port), *options]
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=cwd, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})},
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + start_s
        while url not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise PageDidNotStart(f"the page did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for_hint_message(page, pattern: str) -> str:
    """The hint section's message once it matches `pattern` (a JavaScript RegExp)."""
    messages = page.locator("#hint-messages textarea")
    page.wait_for_function("([el, pattern]) => new RegExp(pattern).test(el.value)",
                           arg=[messages.element_handle(), pattern], timeout=120_000)
    return messages.input_value()


@user_command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.bench.hint_page", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a hint model's checkpoint")
    parser.add_argument("photo", type=Path)
    parser.add_argument("--side", type=int, default=512, help="the photo's longer side as uploaded (default 512)")
    parser.add_argument("--clicks", type=int, default=6)
    args = parser.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise UserError("the page benchmark drives a browser with Playwright: pip install -e '.[test]'") from err
    work = Path(tempfile.mkdtemp(prefix="colorgan-hint-bench-"))
    photo = work / "photo.png"
    with Image.open(args.photo) as image:
        image = image.convert("RGB")
        scale = args.side / max(image.size)  # the longer side made --side (larger or smaller)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BICUBIC)
        image.save(photo)
        width, height = image.size
    chromium = find_chromium()
    if chromium is None:
        raise UserError("no Chromium found: apt-get install chromium (Debian)")
    try:
        with running_page(args.checkpoint, work / "app.log") as (url, _), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(url)
            page.locator("#hint-photo input[type=file]").set_input_files(str(photo))
            wait_for_hint_message(page, "colorized with 0 hint")
            shown = page.locator("#hint-result img")
            seconds = []
            for i in range(1, args.clicks + 1):
                box = shown.bounding_box()
                x, y = (0.15 + 0.7 * (i % 3) / 2) * box["width"], (0.2 + 0.6 * (i % 2)) * box["height"]
                start = time.perf_counter()
                shown.click(position={"x": x, "y": y})
                wait_for_hint_message(page, f"colorized with {i} hint")
                seconds.append(time.perf_counter() - start)
                print(f"hint {i}: {seconds[-1]:.2f} s")
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{width}x{height} photo: median answer {statistics.median(seconds):.2f} s over {len(seconds)} hints "
          f"(load {os.getloadavg()[0]:.2f} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
