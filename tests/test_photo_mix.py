"""python -m colorgan.data.photo_mix: the shipped photo model's folder of links, on small trees made here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorgan.data.folder_splits import PhotoRoot, split_root
from colorgan.data.photo_mix import main


def _photo(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 30, 30)).save(path)


def _sets(root: Path) -> tuple[Path, Path]:
    scenes, objects = root / "intel", root / "tiny-imagenet-200"
    for split in ("train", "test"):
        for cls in ("sea", "forest"):
            _photo(scenes / split / cls / f"{split}_{cls}.jpg")
    for wnid in ("n01", "n02"):
        for i in range(5):
            _photo(objects / "train" / wnid / "images" / f"{wnid}_{i}.JPEG")
    _photo(objects / "val" / "images" / "val_0.JPEG")
    _photo(objects / "val" / "images" / "val_1.JPEG")
    (objects / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn02\t0\t3\t60\t55\nval_1.JPEG\tn01\t1\t2\t3\t4\n")
    _photo(objects / "test" / "images" / "test_0.JPEG")  # unlabelled: not used
    (objects / "train" / "n01" / "n01_boxes.txt").write_text("not a photo")
    return scenes, objects


def test_mix_links_both_sets_into_train_and_test(tmp_path, capsys):
    scenes, objects = _sets(tmp_path)
    out = tmp_path / "mix"
    assert main(["--scenes", str(scenes), "--objects", str(objects), "-o", str(out), "--objects-train", "4"]) == 0
    assert "6 training and 4 test photos (10 links made)" in capsys.readouterr().out
    train = sorted(p.relative_to(out).as_posix() for p in (out / "train").rglob("*") if p.is_symlink())
    assert len(train) == 6 and sum(p.startswith("train/objects/") for p in train) == 4
    test = sorted(p.relative_to(out).as_posix() for p in (out / "test").rglob("*") if p.is_symlink())
    # Tiny ImageNet's test photos under their ImageNet class ids (wnids), from val_annotations.txt.
    assert test == ["test/objects/n01/val_1.JPEG", "test/objects/n02/val_0.JPEG", "test/scenes/forest/test_forest.jpg",
                    "test/scenes/sea/test_sea.jpg"]
    assert all(p.resolve().is_file() for p in out.rglob("*") if p.is_symlink())
    # The folder data module's split finds them at any depth.
    found = split_root(PhotoRoot(folder=out), val_size=1, test_size=0, seed=0)
    assert sorted(p.relative_to(out).as_posix() for p in found["test"]) == test
    assert len(found["train"]) + len(found["val"]) == 6
    # Again: the same choice, nothing to make.
    assert main(["--scenes", str(scenes), "--objects", str(objects), "-o", str(out), "--objects-train", "4"]) == 0
    assert "(0 links made)" in capsys.readouterr().out
    assert sorted(p.relative_to(out).as_posix() for p in (out / "train").rglob("*") if p.is_symlink()) == train
    # A mix made with the older flat test/objects/ layout loses those links.
    (out / "test" / "objects" / "val_0.JPEG").symlink_to(objects / "val" / "images" / "val_0.JPEG")
    assert main(["--scenes", str(scenes), "--objects", str(objects), "-o", str(out), "--objects-train", "4"]) == 0
    assert "(0 links made, 1 stale ones removed)" in capsys.readouterr().out
    assert not (out / "test" / "objects" / "val_0.JPEG").is_symlink()


def test_wrong_folders_say_what_was_expected(tmp_path, capsys):
    scenes, objects = _sets(tmp_path)
    assert main(["--scenes", str(objects), "--objects", str(objects), "-o", str(tmp_path / "mix")]) == 2
    assert "is --scenes the Intel Image Classification folder" in capsys.readouterr().err
    assert main(["--scenes", str(scenes), "--objects", str(scenes), "-o", str(tmp_path / "mix")]) == 2
    assert "is --objects the tiny-imagenet-200 folder" in capsys.readouterr().err


def test_test_photos_need_their_class_ids(tmp_path, capsys):
    scenes, objects = _sets(tmp_path)
    annotations = objects / "val" / "val_annotations.txt"
    annotations.write_text("val_0.JPEG\tn02\t0\t3\t60\t55\n")
    assert main(["--scenes", str(scenes), "--objects", str(objects), "-o", str(tmp_path / "mix")]) == 2
    err = capsys.readouterr().err
    assert "val/images/val_1.JPEG has no line in" in err and err.count("\n") == 1
    annotations.unlink()
    assert main(["--scenes", str(scenes), "--objects", str(objects), "-o", str(tmp_path / "mix")]) == 2
    assert "val_annotations.txt)?" in capsys.readouterr().err
    assert not (tmp_path / "mix").exists()


def _blotches(path: Path, seed: int, size=(300, 256)) -> Path:
    """A photo of large colour blotches, a different picture for each seed (noise would not do: every
    noise photo has the same flat gray thumbnail)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    coarse = np.random.default_rng(seed).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    Image.fromarray(coarse).resize(size, Image.Resampling.BILINEAR).save(path)
    return path


def _extras(root: Path) -> tuple[Path, Path]:
    """An extra folder of two photos (one in a sub-folder) and an unlike set of two others."""
    extra, unlike = root / "extra" / "coco", root / "unlike"
    _blotches(extra / "a.jpg", 1)
    _blotches(extra / "street" / "b.jpg", 2)
    _blotches(unlike / "bsds_1.png", 3)
    _blotches(unlike / "kodak_2.png", 4)
    return extra, unlike


def test_extra_photos_train_under_their_folder_name(tmp_path, capsys):
    scenes, objects = _sets(tmp_path)
    extra, unlike = _extras(tmp_path)
    out = tmp_path / "mix"
    argv = ["--scenes", str(scenes), "--objects", str(objects), "-o", str(out), "--objects-train", "4"]
    assert main([*argv, "--extra", str(extra), "--unlike", str(unlike)]) == 0
    assert "8 training and 4 test photos" in capsys.readouterr().out
    linked = sorted(p.relative_to(out / "train" / "extra").as_posix() for p in (out / "train" / "extra").rglob("*")
                    if p.is_symlink())
    assert linked == ["coco/a.jpg", "coco/street/b.jpg"]
    # Without --unlike the extra photos cannot be checked: refused before anything is made.
    with pytest.raises(SystemExit) as refused:
        main([*argv, "--extra", str(extra)])
    assert refused.value.code == 2 and "--extra needs --unlike" in capsys.readouterr().err


def test_an_unlike_photo_among_the_extra_ones_is_refused(tmp_path, capsys):
    scenes, objects = _sets(tmp_path)
    extra, unlike = _extras(tmp_path)
    # The unlike set's Kodak photo again, made smaller and saved as a JPEG, as a copy in another repository would be.
    Image.open(unlike / "kodak_2.png").resize((600, 512)).save(extra / "street" / "copy.jpg", quality=80)
    out = tmp_path / "mix"
    assert main(["--scenes", str(scenes), "--objects", str(objects), "-o", str(out),
                 "--extra", str(extra), "--unlike", str(unlike)]) == 2
    err = capsys.readouterr().err
    assert f"{extra / 'street' / 'copy.jpg'} is the unlike set's kodak_2.png" in err and err.count("\n") == 1
    assert not out.exists()


def test_bad_extra_folders_say_what_was_expected(tmp_path, capsys):
    scenes, objects = _sets(tmp_path)
    extra, unlike = _extras(tmp_path)
    argv = ["--scenes", str(scenes), "--objects", str(objects), "-o", str(tmp_path / "mix")]
    assert main([*argv, "--extra", str(tmp_path / "nowhere"), "--unlike", str(unlike)]) == 2
    assert "No photos in --extra" in capsys.readouterr().err
    assert main([*argv, "--extra", str(extra), "--unlike", str(tmp_path / "nowhere")]) == 2
    assert "No photos in --unlike" in capsys.readouterr().err
    twin = tmp_path / "other" / "coco"
    _blotches(twin / "c.jpg", 5)
    assert main([*argv, "--extra", str(extra), "--extra", str(twin), "--unlike", str(unlike)]) == 2
    assert "Two --extra folders are both named 'coco'" in capsys.readouterr().err
    _blotches(extra / "ILSVRC2012_val_00000001.JPEG", 6)
    assert main([*argv, "--extra", str(extra), "--unlike", str(unlike)]) == 2
    assert "ILSVRC2012_val_00000001.JPEG is an ImageNet validation photo" in capsys.readouterr().err
