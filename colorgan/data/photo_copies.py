"""Resized colour copies of public photos: the one rule the unlike set (colorgan.data.unlike_set) and
the extra training photos share, and the thumbnails that keep the two apart.

    python -m colorgan.data.photo_copies DIV2K_train_HR -o photos/extra/div2k

- the shorter side resized to 256 px (Pillow, LANCZOS, decoded upright by colorize's reader);
- kept only if in colour: the 99th percentile of max(R,G,B) - min(R,G,B) at least 15 (a gray photo
  stored as RGB has 0, a sepia print a few);
- training copies (this command) are JPEG at quality 95 without chroma subsampling, and only from
  photos whose shorter side is 256 px or more (nothing is blown up to teach colour); the unlike set
  is PNG. Both are byte-for-byte the same on every run with the same Pillow.

A training photo is the same photo as an unlike one when their 16x16 gray thumbnails differ by less
than DUPLICATE_MAD grey levels on average: resizing and re-encoding move a thumbnail by one or two
levels, two different photos by tens (docs/photos.md, "The photos").
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from colorgan.data.errors import DatasetError, folder_exists
from colorgan.data.images import open_rgb
from colorgan.errors import user_command
from colorgan.image_io import ImageReadError, find_images
from colorgan.system.atomic_io import atomic_path

SIDE = 256  # the shorter side of every copy, px
MIN_SPREAD = 15  # the 99th percentile of max(R,G,B) - min(R,G,B) a colour photo reaches
THUMB = 16  # thumbnails are THUMB x THUMB gray
DUPLICATE_MAD = 6.0  # mean absolute difference of two thumbnails (0-255) under which they are one photo
IMAGENET_VAL = "ILSVRC2012_val_"  # the anchors' test photos: never a training photo


def resized(image: Image.Image, side: int = SIDE) -> Image.Image:
    """`image` with its shorter side `side` px (LANCZOS), the aspect kept."""
    width, height = image.size
    scale = side / min(width, height)
    size = (max(side, round(width * scale)), max(side, round(height * scale)))
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def colour_spread(image: Image.Image) -> float:
    """The 99th percentile over pixels of max(R,G,B) - min(R,G,B): 0 for a gray photo."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    return float(np.percentile(rgb.max(axis=2) - rgb.min(axis=2), 99))


def is_colour(image: Image.Image) -> bool:
    return colour_spread(image) >= MIN_SPREAD


def save_copy(image: Image.Image, path: Path) -> None:
    """Write `image` atomically: PNG for a .png path, else JPEG at quality 95 with full-resolution colour."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".png":
            image.save(tmp, format="PNG")
        else:
            image.save(tmp, format="JPEG", quality=95, subsampling=0)


def thumbnail(image: Image.Image) -> np.ndarray:
    """(THUMB * THUMB,) float32 gray levels: the photo squeezed to THUMB x THUMB (box average)."""
    gray = image.convert("L").resize((THUMB, THUMB), Image.Resampling.BOX)
    return np.asarray(gray, dtype=np.float32).reshape(-1)


def thumbnails(paths: list[Path]) -> np.ndarray:
    """(len(paths), THUMB * THUMB) thumbnails of photo files; an unreadable one is a DatasetError."""
    rows = []
    for path in paths:
        try:
            rows.append(thumbnail(open_rgb(path, THUMB)))
        except ImageReadError as err:
            raise DatasetError(f"Cannot read {path}: {err}.") from None
    return np.stack(rows) if rows else np.zeros((0, THUMB * THUMB), np.float32)


def first_duplicate(photos: list[Path], against: list[Path]) -> tuple[Path, Path] | None:
    """The first photo of `photos` that is one of `against` by its thumbnail, with the one it matches."""
    theirs = thumbnails(against)
    if not len(theirs):
        return None
    for path, thumb in zip(photos, thumbnails(photos), strict=True):
        distance = np.abs(theirs - thumb).mean(axis=1)
        if distance.min() < DUPLICATE_MAD:
            return path, against[int(distance.argmin())]
    return None


def make_copies(source: Path, out: Path) -> tuple[int, int, int]:
    """Training copies of every photo under `source` in `out` (the same relative paths, .jpg):
    (written, left out as gray, left out as smaller than SIDE)."""
    if not folder_exists(source):
        raise DatasetError(f"No folder {source}: give the folder of photos to copy.")
    photos = find_images(source)
    if not photos:
        raise DatasetError(f"No photos under {source} (extensions Pillow opens: .jpg, .png, ...).")
    named = [p for p in photos if p.name.startswith(IMAGENET_VAL)]
    if named:
        raise DatasetError(f"{named[0]} is an ImageNet validation photo ({len(named)} under {source}): those "
                           "are the anchors' test photos and never train here; remove them from the source.")
    targets = [out / p.relative_to(source).with_suffix(".jpg") for p in photos]
    clashes = [t for t, n in Counter(targets).items() if n > 1]
    if clashes:
        raise DatasetError(f"Two photos under {source} would both be copied to {sorted(clashes)[0]} "
                           "(the same name with different extensions); rename one.")
    written = gray = small = 0
    for photo, target in zip(photos, targets, strict=True):
        try:
            image = open_rgb(photo)
        except ImageReadError as err:
            raise DatasetError(f"Cannot read {photo}: {err}.") from None
        if min(image.size) < SIDE:
            small += 1
            continue
        image = resized(image)
        if not is_colour(image):
            gray += 1
            continue
        save_copy(image, target)
        written += 1
    return written, gray, small


@user_command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.data.photo_copies", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a folder of photos (any depth)")
    parser.add_argument("-o", "--out", type=Path, required=True,
                        help="where the copies go, e.g. photos/extra/<source>: give it to photo_mix --extra")
    args = parser.parse_args(argv)
    written, gray, small = make_copies(args.source, args.out)
    print(f"{args.out}: {written:,} colour photos at {SIDE} px ({gray:,} gray and {small:,} smaller than "
          f"{SIDE} px left out).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
