"""Photos in and out with Pillow: any mode and bit depth to float RGB in [0, 1], EXIF orientation
applied, alpha set aside to be put back on the output, decompression bombs refused before decoding."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow's own decompression-bomb threshold (about 89 megapixels, 0.25 GiB at 24 bits a pixel).
DEFAULT_MAX_PIXELS = 89_478_485

# Output formats written like the input's; anything else Pillow reads (GIF, PPM, ICO...) becomes PNG.
SAVE_OPTIONS: dict[str, dict] = {
    "JPEG": {"quality": 95},
    "PNG": {},
    "WEBP": {"quality": 95},
    "TIFF": {"compression": "tiff_lzw"},
    "BMP": {},
}
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")


def readable_formats() -> dict[str, str]:
    """Lower-case suffix (".jpg", ".png", ".webp", ...) -> Pillow format, for every format an
    installed Pillow plugin can open."""
    Image.init()
    return {ext.lower(): fmt for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def find_images(root: str | Path) -> list[Path]:
    """Image files under `root`, any depth, sorted; hidden files and folders (".DS_Store",
    macOS "._x.jpg" companions) are not photos and are left out."""
    extensions = readable_formats()
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(folder, f) for f in files if not f.startswith(".") and Path(f).suffix.lower() in extensions]
    return sorted(found)


class ImageReadError(ValueError):
    """A file could not be read as a photo; the message says why (and the CLI adds the file name)."""


@dataclass
class Photo:
    """A decoded photo: RGB (3, H, W) float32 in [0, 1] (gray inputs repeated on 3 channels),
    its alpha band when it had one, whether it was stored as grayscale (so has no colour truth),
    and the format it came in."""

    rgb: torch.Tensor
    alpha: Image.Image | None = None
    is_gray: bool = False
    format: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as Pillow says it."""
        return self.rgb.shape[2], self.rgb.shape[1]


@contextmanager
def _own_pixel_limit():
    """Pillow's global bomb check off for the duration: we check against our own limit instead."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def read_photo(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Photo:
    """Decode an image file into a Photo; ImageReadError says why a file cannot be used."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageReadError("empty file (0 bytes)")
        with _own_pixel_limit(), Image.open(path) as image:
            width, height = image.size  # from the header: nothing decoded yet
            if max_pixels is not None and width * height > max_pixels:
                raise ImageReadError(
                    f"{width}x{height} is {width * height:,} pixels, over the limit of {max_pixels:,} "
                    "(a possible decompression bomb); raise the limit with --max-pixels if you trust the file"
                )
            image.load()
            return photo_from_pil(image)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError("not an image Pillow can read (unknown format or not an image file)") from None
    except OSError as err:  # truncated data, broken headers, unreadable file
        raise ImageReadError(f"cannot decode: {err}") from None
    except Exception as err:  # a plugin's own error on a malformed file
        raise ImageReadError(f"cannot decode: {type(err).__name__}: {err}") from None


def photo_from_pil(image: Image.Image) -> Photo:
    """A Pillow image in any mode -> Photo, EXIF orientation applied."""
    fmt = image.format
    image = ImageOps.exif_transpose(image)
    alpha = None
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ALPHA_MODES:
        if image.mode in ("RGBa", "La"):  # premultiplied: undo it first
            image = image.convert("RGBA" if image.mode == "RGBa" else "LA")
        alpha = image.getchannel("A")
        image = image.convert("L" if image.mode in ("LA", "La") else "RGB")
    is_gray = image.mode in GRAY_MODES
    if is_gray:
        gray = _gray_array(image)  # (H, W) float in [0, 1]
        rgb = torch.from_numpy(gray).unsqueeze(0).expand(3, -1, -1).contiguous()
    else:
        array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        rgb = torch.from_numpy(array).permute(2, 0, 1).contiguous()
    return Photo(rgb=rgb.float(), alpha=alpha, is_gray=is_gray, format=fmt)


def _gray_array(image: Image.Image) -> np.ndarray:
    """Single-band image of any depth -> (H, W) float32 in [0, 1]."""
    array = np.asarray(image)
    if image.mode == "1":
        return array.astype(np.float32)
    if image.mode == "F":  # float TIFFs are taken to be in [0, 1]
        return np.clip(array, 0.0, 1.0).astype(np.float32)
    if image.mode.startswith("I"):  # 16-bit (I;16*), or 32-bit I holding 16-bit values
        return np.clip(array.astype(np.float32) / 65535.0, 0.0, 1.0)
    return array.astype(np.float32) / 255.0


def to_pil(rgb: torch.Tensor, alpha: Image.Image | None = None) -> Image.Image:
    """RGB (3, H, W) in [0, 1] -> 8-bit RGB Pillow image, with `alpha` put back (RGBA) when given."""
    array = (rgb.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    image = Image.fromarray(np.ascontiguousarray(array), "RGB")
    if alpha is not None:
        image.putalpha(alpha)
    return image


def output_format(input_format: str | None) -> str:
    """The format an output is written in: the input's when we can write it well, else PNG."""
    return input_format if input_format in SAVE_OPTIONS else "PNG"


def output_suffix(path: Path, fmt: str) -> str:
    """Keep the input's suffix when it already names `fmt`; else the format's usual suffix."""
    if fmt == "PNG" and path.suffix.lower() != ".png":
        return ".png"
    return path.suffix


def save_image(image: Image.Image, path: str | Path, fmt: str) -> None:
    """Write atomically (temp file, then rename): an interrupted run never leaves half an image."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        image.save(tmp, format=fmt, **SAVE_OPTIONS.get(fmt, {}))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
