"""The shipped photo model's training folder: one folder of links to two public photo sets, so the
photos are never copied and `data=folder` sees one tree with train/ and test/ splits.

    python -m colorgan.data.photo_mix --scenes Intel-Image-Classifier --objects tiny-imagenet-200 -o photos/mix

- scenes (Intel Image Classification, 150 px): every photo of train/<class>/ and test/<class>/;
- objects and animals (Tiny ImageNet-200, 64 px): a seeded choice of `--objects-train` photos of
  train/<wnid>/images/ (40,000 of 100,000 by default: the CPU's budget per epoch) and every photo of
  val/images/ as the test split, under test/objects/<wnid>/ by val/val_annotations.txt, so that a
  measure needing ImageNet's class ids reads them from the folder names (its unlabelled test/ is not used).

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

from colorgan.data.errors import DatasetError
from colorgan.errors import user_command

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
    args = parser.parse_args(argv)
    links = mix_links(args.scenes, args.objects, args.objects_train)
    made, removed = write_links(links, args.out)
    counts = {split: sum(1 for p in links if p.parts[0] == split) for split in ("train", "test")}
    print(f"{args.out}: {counts['train']:,} training and {counts['test']:,} test photos ({made:,} links made"
          + (f", {removed:,} stale ones removed)." if removed else ")."))
    return 0


if __name__ == "__main__":
    sys.exit(main())
