"""The shipped photo model's training folder: one folder of links to two public photo sets, so the
photos are never copied and `data=folder` sees one tree with train/ and test/ splits.

    python -m colorgan.data.photo_mix --scenes Intel-Image-Classifier --objects tiny-imagenet-200 -o photos/mix
    python -m colorgan.data.photo_mix ... --extra photos/extra/coco --unlike photos/unlike -o photos/mix2

- scenes (Intel Image Classification, 150 px): every photo of train/<class>/ and test/<class>/;
- objects and animals (Tiny ImageNet-200, 64 px): a seeded choice of `--objects-train` photos of
  train/<wnid>/images/ (40,000 of 100,000 by default: the CPU's budget per epoch) and every photo of
  val/images/ as the test split, under test/objects/<wnid>/ by val/val_annotations.txt, so that a
  measure needing ImageNet's class ids reads them from the folder names (its unlabelled test/ is not used);
- extra training photos (`--extra DIR`, repeatable: colorgan.data.photo_copies' 256 px colour copies),
  every photo under DIR as train/extra/<DIR's name>/. None may be one of the unlike set (`--unlike`):
  each is compared with the unlike photos by its 16x16 gray thumbnail, and the mix is refused, naming
  the photo, if one matches.

Links, not several `data.root`s: one tree keeps one split rule (train/ test/ sub-folders), lets
the seeded subset of the larger set be chosen once, and is what `evaluate` and `report` already
read. The choice depends only on the file names and the seed, so the same sets give the same folder.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

from colorgan.data.errors import DatasetError, folder_exists
from colorgan.data.photo_copies import IMAGENET_VAL, first_duplicate
from colorgan.errors import user_command
from colorgan.image_io import find_images

SEED = 0
OBJECTS_TRAIN = 40_000


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.glob(pattern) if p.is_file())


def mix_links(scenes: Path, objects: Path, objects_train: int = OBJECTS_TRAIN, seed: int = SEED) -> dict[Path, Path]:
    """{link path relative to the mix folder: the photo it points to}."""
    links: dict[Path, Path] = {}
    for split in ("train", "test"):
        found = _files(scenes, f"{split}/*/*.jpg")
        if not found:
            raise DatasetError(f"No scene photos in {scenes / split}/<class>/*.jpg: is --scenes the Intel Image "
                               "Classification folder (with train/ and test/)?")
        links.update({Path(split, "scenes", p.parent.name, p.name): p for p in found})
    train = _files(objects, "train/*/images/*.JPEG")
    test = _files(objects, "val/images/*.JPEG")
    if not train or not test:
        raise DatasetError(f"No Tiny ImageNet photos in {objects}/train/<wnid>/images/ and {objects}/val/images/: "
                           "is --objects the tiny-imagenet-200 folder?")
    random.Random(seed).shuffle(train)
    links.update({Path("train", "objects", p.parts[-3], p.name): p for p in train[:objects_train]})
    wnids = val_wnids(objects)
    unlabelled = [p.name for p in test if p.name not in wnids]
    if unlabelled:
        raise DatasetError(f"{objects}/val/images/{unlabelled[0]} has no line in {objects}/val/val_annotations.txt "
                           f"({len(unlabelled)} photos have none): use the annotations of the same tiny-imagenet-200.")
    links.update({Path("test", "objects", wnids[p.name], p.name): p for p in test})
    return links


def val_wnids(objects: Path) -> dict[str, str]:
    """{val photo name: its ImageNet class id (wnid)} from Tiny ImageNet's val/val_annotations.txt
    (one line a photo: name, wnid, box, tab-separated)."""
    annotations = objects / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise DatasetError(f"No {annotations}: is --objects the tiny-imagenet-200 folder (with val/images/ and "
                           "val/val_annotations.txt)?")
    wnids = {}
    for number, line in enumerate(annotations.read_text().splitlines(), 1):
        fields = line.split("\t")
        if len(fields) < 2 or not fields[1].startswith("n"):
            raise DatasetError(f"{annotations} line {number} is not 'name<TAB>wnid<TAB>box': {line[:80]!r}.")
        wnids[fields[0]] = fields[1]
    return wnids


def extra_links(extras: list[Path], unlike: Path) -> dict[Path, Path]:
    """{train/extra/<folder name>/<path under it>: photo} for every photo under the extra folders, none
    of them an ImageNet validation photo or one of the unlike set's photos."""
    names = [folder.resolve().name for folder in extras]
    if len(set(names)) < len(names):
        raise DatasetError(f"Two --extra folders are both named {max(names, key=names.count)!r}: each is linked "
                           "under train/extra/<its name>/, so give folders with different names.")
    if not folder_exists(unlike) or not find_images(unlike):
        raise DatasetError(f"No photos in --unlike {unlike}: give the unlike set's folder "
                           "(python -m colorgan.data.unlike_set), which no training photo may repeat.")
    links: dict[Path, Path] = {}
    for folder, name in zip(extras, names, strict=True):
        photos = find_images(folder) if folder_exists(folder) else []
        if not photos:
            raise DatasetError(f"No photos in --extra {folder}: give a folder of training photos "
                               "(python -m colorgan.data.photo_copies makes one).")
        named = [p for p in photos if p.name.startswith(IMAGENET_VAL)]
        if named:
            raise DatasetError(f"{named[0]} is an ImageNet validation photo: those never train here; "
                               f"remove it from {folder}.")
        links.update({Path("train", "extra", name, p.relative_to(folder)): p for p in photos})
    duplicate = first_duplicate(list(links.values()), find_images(unlike))
    if duplicate is not None:
        raise DatasetError(f"{duplicate[0]} is the unlike set's {duplicate[1].name} (the same 16x16 gray "
                           "thumbnail): the unlike photos never train; remove it from its --extra folder.")
    return links


def write_links(links: dict[Path, Path], out: Path) -> tuple[int, int]:
    """Create the links under `out` (existing ones that point elsewhere are replaced, and links that are
    not of this mix, an older layout's, removed): (links made, links removed)."""
    stale = [p for p in out.rglob("*") if p.is_symlink() and p.relative_to(out) not in links] if out.is_dir() else []
    for link in stale:
        link.unlink()
    made = 0
    for relative, target in links.items():
        link = out / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() and Path(os.readlink(link)) == target.resolve():
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target.resolve())
        made += 1
    return made, len(stale)


@user_command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.data.photo_mix", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=Path, required=True, help="Intel Image Classification: train/ and test/")
    parser.add_argument("--objects", type=Path, required=True, help="tiny-imagenet-200: train/ and val/")
    parser.add_argument("-o", "--out", type=Path, required=True, help="the folder of links to write")
    parser.add_argument("--objects-train", type=int, default=OBJECTS_TRAIN,
                        help=f"Tiny ImageNet training photos to use (default {OBJECTS_TRAIN:,})")
    parser.add_argument("--extra", type=Path, action="append", default=[],
                        help="a folder of extra training photos, linked under train/extra/<its name>/ (repeatable)")
    parser.add_argument("--unlike", type=Path,
                        help="the unlike set's folder: no --extra photo may be one of its photos (needed with --extra)")
    args = parser.parse_args(argv)
    if args.extra and args.unlike is None:
        parser.error("--extra needs --unlike <the unlike set's folder>, so that none of its photos trains")
    links = mix_links(args.scenes, args.objects, args.objects_train)
    if args.extra:
        links.update(extra_links(args.extra, args.unlike))
    made, removed = write_links(links, args.out)
    counts = {split: sum(1 for p in links if p.parts[0] == split) for split in ("train", "test")}
    print(f"{args.out}: {counts['train']:,} training and {counts['test']:,} test photos ({made:,} links made"
          + (f", {removed:,} stale ones removed)." if removed else ")."))
    return 0


if __name__ == "__main__":
    sys.exit(main())
