"""python -m colorgan.data.photo_mix: the shipped photo model's folder of links, on small trees made here."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

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
    _photo(objects / "test" / "images" / "test_0.JPEG")  # unlabelled: not used
    (objects / "train" / "n01" / "n01_boxes.txt").write_text("not a photo")
    return scenes, objects


def test_mix_links_both_sets_into_train_and_test(tmp_path, capsys):
    scenes, objects = _sets(tmp_path)
    out = tmp_path / "mix"
    assert main(["--scenes", str(scenes), "--objects", str(objects), "-o", str(out), "--objects-train", "4"]) == 0
    assert "6 training and 3 test photos (9 links made)" in capsys.readouterr().out
    train = sorted(p.relative_to(out).as_posix() for p in (out / "train").rglob("*") if p.is_symlink())
    assert len(train) == 6 and sum(p.startswith("train/objects/") for p in train) == 4
    test = sorted(p.relative_to(out).as_posix() for p in (out / "test").rglob("*") if p.is_symlink())
    assert test == ["test/objects/val_0.JPEG", "test/scenes/forest/test_forest.jpg", "test/scenes/sea/test_sea.jpg"]
    assert all(p.resolve().is_file() for p in out.rglob("*") if p.is_symlink())
    # Again: the same choice, nothing to make.
    assert main(["--scenes", str(scenes), "--objects", str(objects), "-o", str(out), "--objects-train", "4"]) == 0
    assert "(0 links made)" in capsys.readouterr().out
    assert sorted(p.relative_to(out).as_posix() for p in (out / "train").rglob("*") if p.is_symlink()) == train


def test_wrong_folders_say_what_was_expected(tmp_path, capsys):
    scenes, objects = _sets(tmp_path)
    assert main(["--scenes", str(objects), "--objects", str(objects), "-o", str(tmp_path / "mix")]) == 2
    assert "is --scenes the Intel Image Classification folder" in capsys.readouterr().err
    assert main(["--scenes", str(scenes), "--objects", str(scenes), "-o", str(tmp_path / "mix")]) == 2
    assert "is --objects the tiny-imagenet-200 folder" in capsys.readouterr().err
