import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorgan.data.images import inspect_image, load_eval_image
from colorgan.image_io import ImageReadError, find_images, read_photo, readable_formats


def test_readable_formats_are_lower_case_suffixes_pillow_opens():
    formats = readable_formats()
    assert formats[".jpg"] == "JPEG" and formats[".png"] == "PNG"
    assert all(suffix == suffix.lower() and suffix.startswith(".") for suffix in formats)


def test_find_images_any_depth_sorted_without_hidden_or_other_files(tmp_path):
    for name in ("b.PNG", "a/z.jpg", "a/deep/er/x.webp", "notes.txt", ".DS_Store", "._b.png", ".cache/c.png", "d.jpg/"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir() if name.endswith("/") else path.write_bytes(b"")
    found = [path.relative_to(tmp_path) for path in find_images(tmp_path)]
    assert found == [Path("a/deep/er/x.webp"), Path("a/z.jpg"), Path("b.PNG")]


def sixteen_bit_png(path: Path) -> Path:
    """A 16-bit gray ramp over the whole range (Pillow's 8-bit RGB conversion would clip it to white)."""
    ramp = np.linspace(0, 65535, 24 * 24).round().astype(np.uint16).reshape(24, 24)
    Image.fromarray(ramp).save(path)
    return path


def rgba_png(path: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (24, 24, 4), dtype=np.uint8), "RGBA").save(path)
    return path


@pytest.mark.parametrize("make", [sixteen_bit_png, rgba_png])
def test_training_evaluate_and_colorize_decode_a_file_alike(make, tmp_path):
    """One decoder: the data pipeline (training, evaluate) sees what colorize sees, in 8 bits."""
    path = make(tmp_path / "photo.png")
    colorize = (read_photo(path).rgb * 255).round().byte().numpy()  # (3, H, W)
    pipeline = load_eval_image(path, 24).numpy()  # a square photo at its own size: neither resized nor cropped
    assert np.array_equal(pipeline, colorize)
    assert 0 < pipeline.mean() < 255 and pipeline.std() > 10  # neither clipped to white nor lost


def bomb_png(path: Path, side: int = 20_000) -> Path:
    """A PNG whose header says side x side pixels (400 megapixels), with no pixel data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_refused_alike_before_decoding(tmp_path):
    path = bomb_png(tmp_path / "bomb.png")
    with pytest.raises(ImageReadError, match="over the limit"):
        read_photo(path)
    assert "over the limit" in inspect_image(path).error
