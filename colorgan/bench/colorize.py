"""Peak memory of colorizing one large photo: `python -m colorgan.bench.colorize CHECKPOINT
--megapixels 10 40 88`.

For each size a synthetic JPEG (4:3) is written to a temporary folder and colorized by
`python -m colorgan.colorize` in a child process of its own; the child's peak resident memory
(from wait4) is reported, with a line through the two largest sizes: peak = constant + bytes per
pixel. (A small photo's peak is that of loading the checkpoint, which is freed before the photo
is read.) Photos are written by other children, so that none inherits a large parent (Linux counts
a forked child's peak from its parent's memory). Timings mean something only on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from colorgan.errors import user_command


def write_photo(path: Path, pixels: int) -> tuple[int, int]:
    """A smooth colour JPEG of about `pixels` pixels, 4:3, written in strips of rows."""
    width = max(4, round((pixels * 4 / 3) ** 0.5))
    height = max(3, round(width * 3 / 4))
    image = Image.new("RGB", (width, height))
    xx = np.arange(width, dtype=np.float32)
    for top in range(0, height, 512):
        yy = np.arange(top, min(top + 512, height), dtype=np.float32)[:, None]
        strip = np.stack([np.sin(xx / 300 + yy / 500 + c) * 127 + 128 for c in (0, 2, 4)], -1)
        image.paste(Image.fromarray(strip.astype(np.uint8), "RGB"), (0, top))
    image.save(path, quality=90)
    return width, height


def write_photo_elsewhere(path: Path, pixels: int) -> tuple[int, int]:
    """write_photo in a child process: this one stays small."""
    code = f"from colorgan.bench.colorize import write_photo; print(*write_photo(__import__('pathlib').Path({str(path)!r}), {pixels}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    width, height = map(int, done.stdout.split())
    return width, height


def colorize_peak(checkpoint: Path, photo: Path, output: Path, extra: list[str]) -> tuple[int, float, int]:
    """(peak RSS in bytes, seconds, exit code) of one `python -m colorgan.colorize` child."""
    command = [sys.executable, "-m", "colorgan.colorize", str(checkpoint), str(photo), "-o", str(output),
               "--max-pixels", "400000000", "--overwrite", *extra]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        sys.stderr.write(child.stderr.read().decode(errors="replace"))
    return usage.ru_maxrss * 1024, seconds, child.returncode


@user_command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.bench.colorize", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--megapixels", type=float, nargs="+", default=[10, 40, 88])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    extra = ["--device", args.device]
    with tempfile.TemporaryDirectory(prefix="colorize-memory-") as folder:
        folder = Path(folder)
        write_photo_elsewhere(folder / "small.jpg", 64 * 48)
        base, base_seconds, code = colorize_peak(args.checkpoint, folder / "small.jpg", folder / "out", extra)
        if code:
            return code
        print(f"command: python -m colorgan.bench.colorize CHECKPOINT --megapixels "
              f"{' '.join(f'{m:g}' for m in args.megapixels)} --device {args.device}")
        print("| photo | megapixels | peak RSS | seconds |")
        print("|---|---|---|---|")
        print(f"| 64x48 | 0.003 | {base / 2**20:.0f} MiB | {base_seconds:.1f} |")
        points = []
        for megapixels in args.megapixels:
            photo = folder / f"{megapixels:g}mp.jpg"
            width, height = write_photo_elsewhere(photo, int(megapixels * 1e6))
            peak, seconds, code = colorize_peak(args.checkpoint, photo, folder / "out", extra)
            photo.unlink()
            if code:
                return code
            points.append((width * height, peak))
            print(f"| {width}x{height} | {width * height / 1e6:.1f} | {peak / 2**20:.0f} MiB | {seconds:.1f} |",
                  flush=True)
        if len(points) >= 2:
            (small_pixels, small_peak), (large_pixels, large_peak) = sorted(points)[-2:]
            per_pixel = (large_peak - small_peak) / (large_pixels - small_pixels)
            constant = large_peak - per_pixel * large_pixels
            print(f"\npeak = {constant / 2**20:.0f} MiB + {per_pixel:.2f} bytes per pixel (through the two largest)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
