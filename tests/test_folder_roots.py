"""data.root as several photo roots, each split by its own folders (a mapping names them where the
names mean something else: Tiny ImageNet's labelled val/ is its test set); per-root counts reported."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from helpers.configs import compose_train
from PIL import Image
from test_folder import FOLDER_TINY, colour_image

from colorgan.config_validation import ConfigError, validate_config
from colorgan.data.errors import DatasetError
from colorgan.data.folder import FolderDataModule
from colorgan.train import train


def save(path: Path, seed: int, size: tuple[int, int] = (72, 80)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(colour_image(*size, seed)).save(path, quality=90)
    return path


@pytest.fixture
def two_sets(tmp_path) -> tuple[Path, Path]:
    """An Intel-like scene set (train/<class>, test/<class>) and a Tiny-ImageNet-like one
    (train/<wnid>/images, labelled val/images, unlabelled test/images, and .txt files)."""
    scenes, tiny = tmp_path / "intel", tmp_path / "tiny-imagenet-200"
    for i in range(10):
        save(scenes / "train" / ["sea", "forest"][i % 2] / f"{i}.jpg", i)
    for i in range(3):
        save(scenes / "test" / "sea" / f"t{i}.jpg", 100 + i)
    for i in range(12):
        save(tiny / "train" / f"n0{i % 3}" / "images" / f"n0{i % 3}_{i}.JPEG", 200 + i, (64, 64))
        (tiny / "train" / f"n0{i % 3}" / f"n0{i % 3}_boxes.txt").write_text("boxes")
    for i in range(4):
        save(tiny / "val" / "images" / f"val_{i}.JPEG", 300 + i, (64, 64))
        save(tiny / "test" / "images" / f"test_{i}.JPEG", 400 + i, (64, 64))
    (tiny / "val" / "val_annotations.txt").write_text("labels")
    (tiny / "wnids.txt").write_text("n00\nn01\nn02\n")
    return scenes, tiny


def test_each_root_is_split_by_its_own_folders(two_sets, caplog):
    scenes, tiny = two_sets
    data = FolderDataModule([str(scenes), {"train": str(tiny / "train"), "test": str(tiny / "val")}],
                            image_size=64, val_size=0.2, num_workers=0, gray_chroma=None)
    with caplog.at_level(logging.INFO, logger="colorgan.data.folder"):
        data.setup()
    top = scenes.parent
    folders = {split: sorted({"/".join(p.relative_to(top).parts[:2]) for p in paths}) for split, paths in data.files.items()}
    assert folders == {"train": ["intel/train", "tiny-imagenet-200/train"], "val": ["intel/train", "tiny-imagenet-200/train"],
                       "test": ["intel/test", "tiny-imagenet-200/val"]}  # Tiny ImageNet's unlabelled test/ unused
    counts = {split: len(paths) for split, paths in data.files.items()}
    assert counts == {"train": 8 + 10, "val": 2 + 2, "test": 3 + 4}  # val: 20% of each root's train
    (report,) = [r.getMessage() for r in caplog.records if "images found" in r.getMessage()]
    assert report.startswith("Image folders: 2 photo roots: 29 images found, skipped none; using train 18, val 4, test 7")
    assert f"{scenes}: train 8, val 2, test 3" in report
    assert f"{{train: {tiny / 'train'}, test: {tiny / 'val'}}}: train 10, val 2, test 4" in report


def test_a_single_folder_root_is_unchanged(two_sets):
    scenes, _ = two_sets
    one, listed = (FolderDataModule(root, image_size=64, val_size=2, num_workers=0) for root in (str(scenes), [str(scenes)]))
    one.setup()
    listed.setup()
    assert one.files == listed.files and len(one.files["test"]) == 3


def test_bad_root_entries_say_what_to_write(two_sets, tmp_path):
    scenes, tiny = two_sets
    with pytest.raises(DatasetError, match=r"must name a train and a test folder \(val optional\), both"):
        FolderDataModule([str(scenes), {"train": str(tiny / "train")}])
    with pytest.raises(DatasetError, match="not tests"):
        FolderDataModule([{"train": str(tiny / "train"), "test": str(tiny / "val"), "tests": "x"}])
    with pytest.raises(DatasetError, match="empty list"):
        FolderDataModule([])
    cfg = compose_train(["+experiment=unet_lrelu", "data=folder", f"data.root=[{scenes},{tmp_path / 'nowhere'}]"],
                        tmp_path / "run")
    with pytest.raises(ConfigError, match=r"Image folder not found: .*nowhere"):
        validate_config(cfg)


def test_fast_dev_run_on_two_roots_with_the_cache(two_sets, tmp_path, caplog):
    scenes, tiny = two_sets
    overrides = ["+experiment=unet_lrelu", "data=folder", *FOLDER_TINY, "data.val_size=0.2",
                 f"data.root=[{scenes},{{train:{tiny / 'train'},test:{tiny / 'val'}}}]",
                 "data.cache=true", "trainer.fast_dev_run=true"]
    with caplog.at_level(logging.INFO):
        metrics = train(compose_train(overrides, tmp_path / "run"))
    assert np.isfinite(metrics["test/mae"])
    assert any("Image folders: 2 photo roots" in r.getMessage() for r in caplog.records)
    assert sum("Decoding" in r.getMessage() for r in caplog.records) == 3
