"""Photos in and out with Pillow: any mode and bit depth to float RGB in [0, 1], EXIF orientation
applied, alpha set aside to be put back on the output, decompression bombs refused before decoding.

`read_photo` is colorgan's one photo decoder: training and evaluate (colorgan.data.images, through
`Photo.rgb8`) and colorize read every file with the same rules for 16-bit, alpha and pixel limits.
`make_grid` lays images side by side (training's image grids, the report's figures, colorize
--compare's NAME.compare.png); `comparison_rows` gives the rows original | gray | prediction of the
first two."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from colorgan.color_space import ColorSpace
from colorgan.system.atomic_io import atomic_path

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


class DamagedAnimation(ImageReadError):
    """An animated image whose frames cannot all be read."""


FILE_KINDS = {stat.S_IFIFO: "a named pipe", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
              stat.S_IFBLK: "a block device", stat.S_IFDIR: "a folder"}


def regular_stat(path: str | Path) -> os.stat_result:
    """os.stat of a regular file (links followed); ImageReadError says what else `path` is (a broken
    link, a link loop, a pipe, a device...) without ever opening it."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        raise ImageReadError("a broken symbolic link (its target does not exist)" if os.path.islink(path)
                             else "no longer exists") from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ImageReadError("a symbolic link loop") from None
        raise ImageReadError(f"cannot be read: {err.strerror}") from None
    if not stat.S_ISREG(found.st_mode):
        raise ImageReadError(f"not a regular file ({FILE_KINDS.get(stat.S_IFMT(found.st_mode), 'a special file')})")
    return found


def open_regular(path: str | Path):
    """Open a regular file for binary reading, never waiting: O_NONBLOCK so that a named pipe put in
    place after regular_stat cannot block, and anything but a regular file is refused."""
    regular_stat(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise ImageReadError(f"cannot be read: {err.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ImageReadError("not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@dataclass
class Photo:
    """A decoded photo kept as Pillow decoded it, 8-bit RGB or one gray band of any depth (a few
    bytes a pixel, so large photos fit), with its alpha band when it had one, whether it was stored
    as grayscale (so has no colour truth), and the format it came in. `rows` and `rgb` give floats."""

    image: Image.Image  # mode "RGB", or one of GRAY_MODES
    alpha: Image.Image | None = None
    is_gray: bool = False
    format: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as Pillow says it."""
        return self.image.size

    def rows(self, top: int, bottom: int) -> torch.Tensor:
        """Rows top:bottom as RGB (3, bottom - top, W) float32 in [0, 1], gray repeated on 3 channels."""
        width, height = self.image.size
        band = self.image if (top, bottom) == (0, height) else self.image.crop((0, top, width, bottom))
        if self.is_gray:
            return torch.from_numpy(_gray_array(band)).unsqueeze(0).expand(3, -1, -1).contiguous()
        return torch.from_numpy(np.asarray(band, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()

    def rgb8(self) -> Image.Image:
        """The photo as an 8-bit RGB Pillow image (what the data pipeline crops and resizes): gray of
        any depth scaled to 8 bits and repeated on 3 channels, alpha left aside."""
        if not self.is_gray:
            return self.image
        if self.image.mode == "L":
            return self.image.convert("RGB")
        gray = np.round(_gray_array(self.image) * 255.0).astype(np.uint8)  # 16-bit 65535 -> 255, not clipped
        return Image.fromarray(gray, "L").convert("RGB")

    @property
    def rgb(self) -> torch.Tensor:
        """The whole photo as RGB (3, H, W) float32 in [0, 1]: 12 bytes a pixel, for small photos."""
        return self.rows(0, self.image.height)


@contextmanager
def _own_pixel_limit():
    """Pillow's global bomb check off for the duration: we check against our own limit instead."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def animation_frames(path: str | Path) -> int:
    """How many frames an image file holds (an animated GIF, PNG or WebP: more than 1); 1 when it
    cannot be opened (reading it then says why). ImageReadError when it opens but its frames cannot
    be counted (an animation cut short): read as a still, it would lose them silently."""
    try:
        with _own_pixel_limit(), open_regular(Path(path)) as file, Image.open(file) as image:
            try:
                return int(getattr(image, "n_frames", 1)) if getattr(image, "is_animated", False) else 1
            except Exception as err:
                raise DamagedAnimation(f"cannot read its frames: a damaged or cut-short animation ({type(err).__name__}: {err})") from err
    except DamagedAnimation:
        raise
    except Exception:
        return 1


def header_size(path: str | Path) -> tuple[int, int]:
    """An image file's (width, height) from its header, nothing decoded; ImageReadError when it cannot be opened."""
    try:
        with _own_pixel_limit(), open_regular(Path(path)) as file, Image.open(file) as image:
            return image.size
    except ImageReadError:
        raise
    except (OSError, ValueError) as err:
        raise ImageReadError(f"cannot open it as an image ({type(err).__name__}: {err})") from err


def read_photo(
    path: str | Path,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    check_size: Callable[[int, int], None] | None = None,
    min_side: int | None = None,
) -> Photo:
    """Decode an image file into a Photo; ImageReadError says why a file cannot be used.
    `check_size(width, height)` is called with the header's size before anything is decoded and
    may raise ImageReadError to refuse the photo (colorize refuses photos that would not fit in memory).
    With `min_side`, JPEGs are decoded at the smallest scale (1/2, 1/4, 1/8) whose shorter side stays
    >= min_side, which is much faster for photos the data pipeline shrinks anyway."""
    path = Path(path)
    try:
        if regular_stat(path).st_size == 0:
            raise ImageReadError("empty file (0 bytes)")
        with _own_pixel_limit(), open_regular(path) as file:
            image = Image.open(file)
            width, height = image.size  # from the header: nothing decoded yet
            if max_pixels is not None and width * height > max_pixels:
                raise ImageReadError(
                    f"{width}x{height} is {width * height:,} pixels, over the limit of {max_pixels:,} "
                    "(a possible decompression bomb); raise the limit with --max-pixels if you trust the file"
                )
            if check_size is not None:
                check_size(width, height)
            if min_side is not None:
                image.draft("RGB", (min_side, min_side))
            image.load()
        return photo_from_pil(image, owned=True)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError("not an image Pillow can read (unknown format or not an image file)") from None
    except OSError as err:  # truncated data, broken headers, unreadable file
        raise ImageReadError(f"cannot decode: {err}") from None
    except Exception as err:  # a plugin's own error on a malformed file
        raise ImageReadError(f"cannot decode: {type(err).__name__}: {err}") from None


def photo_from_pil(image: Image.Image, owned: bool = False) -> Photo:
    """A Pillow image in any mode -> Photo, EXIF orientation applied. `owned`: the image is ours
    to change (no copy is made when it already is upright 8-bit RGB)."""
    fmt = image.format
    if owned:
        ImageOps.exif_transpose(image, in_place=True)
    else:
        image = ImageOps.exif_transpose(image)  # a copy: the caller's image is left alone
    alpha = None
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ALPHA_MODES:
        if image.mode in ("RGBa", "La"):  # premultiplied: undo it first
            image = image.convert("RGBA" if image.mode == "RGBa" else "LA")
        alpha = image.getchannel("A")
        image = image.convert("L" if image.mode in ("LA", "La") else "RGB")
    is_gray = image.mode in GRAY_MODES
    if not is_gray and image.mode != "RGB":
        image = image.convert("RGB")
    return Photo(image=image, alpha=alpha, is_gray=is_gray, format=fmt)


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
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt, **SAVE_OPTIONS.get(fmt, {}))


def make_grid(rows: list[torch.Tensor], scale: int = 1, pad: int = 2) -> np.ndarray:
    """Rows of (N, 3, H, W) images in [0, 1] -> one (rows*(H+pad)+pad, N*(W+pad)+pad, 3) uint8 array."""
    n, _, h, w = rows[0].shape
    h, w = h * scale, w * scale
    grid = torch.ones(3, len(rows) * (h + pad) + pad, n * (w + pad) + pad)
    for r, images in enumerate(rows):
        images = F.interpolate(images.float().cpu(), scale_factor=scale, mode="nearest") if scale > 1 else images
        for c, image in enumerate(images.float().cpu()):
            top, left = pad + r * (h + pad), pad + c * (w + pad)
            grid[:, top : top + h, left : left + w] = image
    return (grid.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def comparison_rows(rgb: torch.Tensor, color_space: ColorSpace, predict) -> list[torch.Tensor]:
    """[original, grayscale, prediction] for RGB images (N, 3, H, W) in [0, 1]."""
    inputs, _ = color_space.split(rgb)
    gray = color_space.gray_rgb(inputs)
    return [rgb, gray, color_space.merge(inputs, predict(inputs))]
