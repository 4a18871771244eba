"""Which photos train, validate and test, from one photo root or several (`data.root` a list).

Each root is split on its own, then the splits are joined: a root is a folder (split by its own
sub-folders, `train/` + `val/` and/or `test/`, Places365's names too, else a seeded split of
every image under it) or a mapping of split names to folders, for sets whose folder names mean
something else (Tiny ImageNet's labelled `val/` is its test set: `{train: .../train, test: .../val}`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from colorgan.data.errors import DatasetError, folder_exists
from colorgan.image_io import find_images

SPLITS = ("train", "val", "test")
# Folder names that mark a split, Places365's included (standard: train/ val/; challenge:
# data_256/ val_256/ test_256/ and their _large variants).
SPLIT_FOLDERS = {
    "train": ("train", "training", "data_256", "data_large", "train_256", "train_large"),
    "val": ("val", "valid", "validation", "val_256", "val_large"),
    "test": ("test", "testing", "test_256", "test_large"),
}
ROOT_HELP = (
    "data.root is a folder, a list of folders, or list entries such as {train: DIR, test: DIR} "
    "(val: DIR optional) naming each split's folder"
)


@dataclass(frozen=True)
class PhotoRoot:
    """One source of photos: a folder split by its own sub-folders (`folder`), or the folders of
    its splits named in the config (`splits`, train and test at least)."""

    folder: Path | None = None
    splits: dict[str, Path] = field(default_factory=dict)

    @property
    def where(self) -> Path:
        return self.folder if self.folder is not None else self.splits["train"].parent

    def describe(self) -> str:
        if self.folder is not None:
            return str(self.folder)
        return "{" + ", ".join(f"{split}: {path}" for split, path in self.splits.items()) + "}"


def parse_roots(root: str | Path | Sequence | Mapping) -> list[PhotoRoot]:
    """`data.root` (a path, a mapping of splits, or a list of either) as PhotoRoots."""
    entries = list(root) if isinstance(root, Sequence) and not isinstance(root, str) else [root]
    if not entries:
        raise DatasetError(f"data.root is an empty list. {ROOT_HELP}.")
    roots = []
    for entry in entries:
        if isinstance(entry, Mapping):
            unknown = sorted(set(map(str, entry)) - set(SPLITS))
            if unknown or "train" not in entry or "test" not in entry:
                raise DatasetError(
                    f"data.root entry {dict(entry)} must name a train and a test folder (val optional), "
                    f"{'not ' + ', '.join(unknown) if unknown else 'both'}. {ROOT_HELP}."
                )
            splits = {split: Path(str(entry[split])).expanduser() for split in SPLITS if entry.get(split)}
            roots.append(PhotoRoot(splits=splits))
        elif isinstance(entry, (str, Path)):
            roots.append(PhotoRoot(folder=Path(entry).expanduser()))
        else:
            raise DatasetError(f"data.root entry {entry!r} is a {type(entry).__name__}. {ROOT_HELP}.")
    return roots


def roots_digest(roots: list[PhotoRoot]) -> str:
    """12 hex digits naming this set of roots (cache files)."""
    text = "\n".join(root.describe() if root.folder is None else str(root.folder.resolve()) for root in roots)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def roots_label(roots: list[PhotoRoot]) -> str:
    return roots[0].where.name if len(roots) == 1 else f"{len(roots)}roots"


def check_root(root: Path) -> None:
    """Raise a DatasetError unless `root` is a folder this user can read."""
    if not folder_exists(root):
        raise DatasetError(
            f"Image folder not found: {root}. Point data.root at a folder of photos "
            "(any depth; train/ val/ test/ sub-folders are used as splits when present)."
        )


def check_roots(root: str | Path | Sequence | Mapping) -> None:
    """Every folder `data.root` names exists and is readable (DatasetError otherwise)."""
    for photo_root in parse_roots(root):
        for folder in [photo_root.folder] if photo_root.folder is not None else photo_root.splits.values():
            check_root(folder)


class SplitSizeError(DatasetError, ValueError):
    """The photos under data.root cannot make the splits (or one training batch) the config asks for."""


def split_counts(total: int, size: int | float, name: str) -> int:
    """`size` as a count: ints are counts, floats in (0, 1) fractions of `total` (at least 1)."""
    if isinstance(size, float) and 0 < size < 1:
        return max(1, round(total * size))
    if isinstance(size, int) and not isinstance(size, bool) and size >= 1:
        return size
    raise SplitSizeError(f"data.{name} must be a count >= 1 or a fraction in (0, 1), got {size!r}.")


def seeded_slice(
    paths: list[Path], size: int | float, name: str, seed: int, where: Path
) -> tuple[list[Path], list[Path]]:
    """(slice of `size`, rest), the slice seeded by `seed`."""
    if not paths:
        raise SplitSizeError(f"No image files under {where} (extensions Pillow opens: .jpg, .png, ...).")
    count = split_counts(len(paths), size, name)
    if count >= len(paths):
        raise SplitSizeError(
            f"data.{name}={size} takes {count} of the {len(paths)} images in {where}, leaving none "
            f"for training. Use a smaller data.{name} or add images."
        )
    order = torch.randperm(len(paths), generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(paths[i] for i in order[:count]), sorted(paths[i] for i in order[count:])


def find_split_folders(root: Path) -> dict[str, Path]:
    """{"train": root/train, ...} for the split folders present directly under `root`."""
    found = {}
    for split, names in SPLIT_FOLDERS.items():
        for name in names:
            if (root / name).is_dir():
                found[split] = root / name
                break
    return found


def split_root(root: PhotoRoot, val_size: int | float, test_size: int | float, seed: int) -> dict[str, list[Path]]:
    """One root's {"train", "val", "test"} files: its split folders (test/, else val/, tests; val/
    validates when test/ is there too, else a seeded val_size slice of train), or a seeded split."""
    folders = dict(root.splits) or find_split_folders(root.folder)
    if "train" not in folders:
        everything = find_images(root.folder)
        test, rest = seeded_slice(everything, test_size, "test_size", seed, root.folder)
        val, train = seeded_slice(rest, val_size, "val_size", seed, root.folder)
        return {"train": train, "val": val, "test": test}
    train = find_images(folders["train"])
    if "val" in folders and "test" in folders:
        return {"train": train, "val": find_images(folders["val"]), "test": find_images(folders["test"])}
    held_out = folders.get("test", folders.get("val"))
    if held_out is None:
        raise DatasetError(
            f"{root.where} has a {folders['train'].name}/ folder but no test/ or val/ folder beside it. "
            "Add one, or point data.root at a folder without split folders to get a seeded split."
        )
    val, train = seeded_slice(train, val_size, "val_size", seed, folders["train"])
    return {"train": train, "val": val, "test": find_images(held_out)}


def check_split_sizes(root: str | Path | Sequence | Mapping, val_size: int | float, test_size: int | float,
                      seed: int, batch_size: int) -> None:
    """Raise a DatasetError unless the image files under `root` make every split and at least one
    full training batch (training drops an incomplete last batch, so fewer photos than data.batch_size
    would train nothing). Files are counted, not decoded: the data module's scan may still skip some."""
    counts = dict.fromkeys(SPLITS, 0)
    roots = parse_roots(root)
    for photo_root in roots:
        for split, paths in split_root(photo_root, val_size, test_size, seed).items():
            counts[split] += len(paths)
    where = roots[0].describe() if len(roots) == 1 else f"the {len(roots)} photo roots"
    for split in SPLITS:
        if not counts[split]:
            raise SplitSizeError(f"No {split} images under {where} (extensions Pillow opens: .jpg, .png, ...).")
    if counts["train"] < batch_size:
        raise SplitSizeError(
            f"{where} has {counts['train']} training photos, fewer than one batch of data.batch_size={batch_size}: "
            "the run would train on zero batches. Use a smaller data.batch_size or add photos."
        )
