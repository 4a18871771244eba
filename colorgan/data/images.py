"""Photos on disk: decode them (with colorgan.image_io's one decoder: upright 8-bit RGB, fast JPEG
draft decoding, resized and cropped to uint8 tensors) and scan a folder of them once (size, Lab chroma, or why a file cannot be read;
in DataLoader workers, cached by path, size and mtime), then keep the usable ones."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from colorgan.color_space import rgb_to_lab
from colorgan.image_io import ImageReadError, read_photo, regular_stat
from colorgan.system.atomic_io import write_text

log = logging.getLogger(__name__)

PROBE_SIZE = 64  # images are judged gray on a thumbnail whose longer side is at most this
SCAN_VERSION = 2  # bump when what the scan measures changes, so old caches are ignored


# -- decoding ------------------------------------------------------------------------------------
def open_rgb(path: Path, min_side: int | None = None) -> Image.Image:
    """Decode `path` as an upright 8-bit RGB image by colorize's rules (image_io.read_photo: 16-bit
    scaled, alpha dropped, files over DEFAULT_MAX_PIXELS refused; ImageReadError says why). With
    `min_side`, JPEGs are decoded at the smallest scale whose shorter side stays >= min_side."""
    return read_photo(path, min_side=min_side).rgb8()


def resize_shorter_side(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    if min(width, height) == side:
        return image
    scale = side / min(width, height)
    size = (max(side, round(width * scale)), max(side, round(height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> (3, H, W) uint8."""
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def load_eval_image(path: Path, image_size: int) -> torch.Tensor:
    """Shorter side resized to `image_size`, centre crop: (3, image_size, image_size) uint8."""
    image = resize_shorter_side(open_rgb(path, image_size), image_size)
    width, height = image.size
    left, top = (width - image_size) // 2, (height - image_size) // 2
    return to_tensor(image.crop((left, top, left + image_size, top + image_size)))


def load_train_image(
    path: Path, image_size: int, train_scale: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Shorter side resized to `train_scale * image_size`, random crop of `image_size` (drawn from
    `generator`, else from torch's global generator)."""
    side = max(image_size, round(image_size * train_scale))
    image = resize_shorter_side(open_rgb(path, side), side)
    width, height = image.size
    left = int(torch.randint(width - image_size + 1, (), generator=generator))
    top = int(torch.randint(height - image_size + 1, (), generator=generator))
    return to_tensor(image.crop((left, top, left + image_size, top + image_size)))


# -- scanning ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageInfo:
    """What the scan learnt about one file: its size and chroma, or why it could not be decoded."""

    width: int = 0
    height: int = 0
    chroma: float = 0.0  # 99th percentile of per-pixel Lab chroma sqrt(a^2 + b^2) on a thumbnail
    error: str | None = None


def inspect_image(path: Path) -> ImageInfo:
    """Decode a thumbnail of `path` (which also proves the file decodes) and measure its chroma.

    The 99th percentile, not the mean, so that a gray scene with one small red car still counts
    as colour; a grayscale photo saved as RGB (or JPEG's chroma noise on one) stays under ~2.
    """
    try:
        header: list[int] = []  # (width, height) as the file says, before the draft decoding shrinks it
        image = read_photo(path, check_size=lambda width, height: header.extend((width, height)),
                           min_side=PROBE_SIZE).rgb8()
        width, height = header
        image.thumbnail((PROBE_SIZE, PROBE_SIZE))
        rgb = to_tensor(image).unsqueeze(0).float() / 255.0
        ab = rgb_to_lab(rgb)[0, 1:]  # (2, h, w)
        chroma = ab.pow(2).sum(0).sqrt().flatten().quantile(0.99)
        return ImageInfo(width, height, round(float(chroma), 3))
    except ImageReadError as err:  # not a regular file
        return ImageInfo(error=str(err))
    except Exception as err:  # any decoder error means the same: this file cannot be used
        return ImageInfo(error=f"{type(err).__name__}: {err}")


def _as_is(item):
    return item


class _ScanFiles(Dataset):
    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> ImageInfo:
        return inspect_image(self.paths[index])


def scan_images(paths: list[Path], num_workers: int = 0, cache_file: Path | None = None) -> list[ImageInfo]:
    """inspect_image for every path, in `num_workers` processes; with `cache_file`, files whose
    size and mtime are unchanged since the last scan are not decoded again. What is not a regular
    file (broken or looping links, pipes, sockets, devices) is judged from its stat alone: never
    opened, never waited on, never cached."""
    known: dict[int, ImageInfo] = {}
    keys: dict[int, str] = {}
    for i, path in enumerate(paths):
        try:
            found = regular_stat(path)
        except ImageReadError as err:
            known[i] = ImageInfo(error=str(err))
            continue
        keys[i] = f"{path}|{found.st_size}|{found.st_mtime_ns}"
    cached: dict[str, list] = {}
    if cache_file is not None and cache_file.is_file():
        try:
            data = json.loads(cache_file.read_text())
            cached = data["files"] if data.get("version") == SCAN_VERSION else {}
        except (OSError, ValueError, KeyError):
            cached = {}  # a damaged cache is only a slower start
    todo = [i for i, key in keys.items() if key not in cached]
    if todo:
        loader = DataLoader(
            _ScanFiles([paths[i] for i in todo]),
            batch_size=None,
            num_workers=num_workers,
            collate_fn=_as_is,
        )
        for i, info in zip(todo, loader, strict=True):
            cached[keys[i]] = [info.width, info.height, info.chroma, info.error]
    if cache_file is not None and todo:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        live = {key: cached[key] for key in keys.values()}
        write_text(cache_file, json.dumps({"version": SCAN_VERSION, "files": live}))  # processes may race; the last wins
    return [known[i] if i in known else ImageInfo(*cached[keys[i]]) for i in range(len(paths))]


class ScanResult(NamedTuple):
    """Usable paths and how many were skipped, and why ("gray", "small", "unreadable"), with their paths."""

    paths: list[Path]
    skipped: Counter
    errors: dict[Path, str]
    skipped_paths: dict[str, list[Path]]


def filter_images(
    paths: list[Path], infos: list[ImageInfo], min_size: int, gray_chroma: float | None
) -> ScanResult:
    """Keep the colour images whose shorter side is at least `min_size`. `gray_chroma` None keeps gray ones."""
    kept, errors, skipped_paths = [], {}, {"gray": [], "small": [], "unreadable": []}
    for path, info in zip(paths, infos, strict=True):
        if info.error is not None:
            skipped_paths["unreadable"].append(path)
            errors[path] = info.error
        elif min(info.width, info.height) < min_size:
            skipped_paths["small"].append(path)
        elif gray_chroma is not None and info.chroma < gray_chroma:
            skipped_paths["gray"].append(path)
        else:
            kept.append(path)
    skipped = Counter({reason: len(found) for reason, found in skipped_paths.items() if found})
    return ScanResult(kept, skipped, errors, skipped_paths)


def describe_skipped(skipped: Counter, min_size: int, gray_chroma: float | None) -> str:
    parts = []
    if skipped["gray"]:
        parts.append(f"{skipped['gray']} grayscale (Lab chroma p99 < {gray_chroma:g})")
    if skipped["small"]:
        parts.append(f"{skipped['small']} smaller than {min_size} px")
    if skipped["unreadable"]:
        parts.append(f"{skipped['unreadable']} unreadable")
    return "skipped " + ", ".join(parts) if parts else "skipped none"


@rank_zero_only
def warn_unreadable(errors: dict[Path, str]) -> None:
    for path, error in errors.items():
        log.warning("Skipping unreadable image %s (%s)", path, error)
