"""Full-resolution colorizing in bands of rows: the same image as the whole-photo float path, the
photo's own 8-bit pixels reused, and a photo that would not fit in memory refused before decoding."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_colorize import photo

from colorgan import Colorizer
from colorgan.image_io import photo_from_pil, to_pil
from colorgan.inference import colorizer as colorizer_module
from colorgan.inference import shrink_photo, working_shape


@pytest.fixture(scope="module")
def lab_colorizer(tiny_checkpoint):
    return Colorizer.from_checkpoint(tiny_checkpoint("lab"), device="cpu")


@pytest.mark.parametrize("size", [(301, 97), (97, 301), (64, 64)])
def test_bands_give_the_whole_photo_result(lab_colorizer, monkeypatch, size):
    monkeypatch.setattr(colorizer_module, "BAND_PIXELS", 1000)  # many bands, some of one row
    assert len(colorizer_module.row_bands(*size)) > 1
    image = photo(*size)
    whole = photo_from_pil(image).rgb
    # shrinking band by band equals F.interpolate on the whole float photo
    shape = working_shape(whole.shape[1], whole.shape[2], lab_colorizer.size)
    expected = F.interpolate(whole[None], size=shape, mode="bilinear", align_corners=False, antialias=True)[0]
    torch.testing.assert_close(shrink_photo(photo_from_pil(image), shape), expected.clamp(0, 1), atol=1e-5, rtol=0)
    # the streamed merge equals the float one, to the 8-bit level
    ab = lab_colorizer.predict_ab([expected])[0]
    reference = torch.from_numpy(np.array(to_pil(lab_colorizer.apply_ab(whole, ab)))).int()
    photo_ = photo_from_pil(image)
    streamed = lab_colorizer.colorize_photo(photo_, ab, in_place=True)
    assert streamed is photo_.image  # written into the photo's own pixels: no second full-size image
    difference = (torch.from_numpy(np.array(streamed)).int() - reference).abs()
    assert difference.max() <= 1 and (difference > 0).float().mean() < 0.01


def test_a_photo_larger_than_free_memory_is_refused_before_decoding(tmp_path, tiny_checkpoint):
    """A 12000 x 12000 PNG under a 300 MB address-space limit: refused with the size that fits, and
    nothing written (the header says the size; decoding it would need 576 MB)."""
    big = tmp_path / "in" / "big.png"
    big.parent.mkdir()
    from PIL import Image

    Image.new("L", (12000, 12000), 128).save(big)
    script = (
        "import sys; from colorgan import colorize; from colorgan.inference import engine; "
        "engine.available_memory = lambda: 300 * 2**20; "
        "sys.exit(colorize.main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tiny_checkpoint("lab")), str(big), "-o", str(tmp_path / "out"),
         "--max-pixels", "200000000"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert "12000x12000 needs about" in done.stderr and "megapixels fit" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "big.png").exists()


@pytest.mark.slow
def test_the_memory_bench_reports_each_size(tiny_checkpoint):
    from helpers.cli import run_module

    result = run_module("colorgan.bench.colorize", str(tiny_checkpoint("lab")), "--megapixels", "1", "4", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "MiB" in line]
    assert [row.split("|")[2].strip() for row in rows] == ["0.003", "1.0", "4.0"]
    per_pixel = float(result.stdout.split(" MiB + ")[1].split(" bytes per pixel")[0])
    assert per_pixel < 12  # a float copy of the photo alone would be 12
