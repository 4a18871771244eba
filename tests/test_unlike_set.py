"""python -m colorgan.data.unlike_set and python -m colorgan.data.photo_copies: resized colour copies
of public photos, on small source trees made here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from colorgan.data import photo_copies, unlike_set


def _photo(path: Path, size=(40, 30), gray=False, seed=0) -> Path:
    """A noisy photo: colour (or gray stored as RGB) and different for each seed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    if gray:
        pixels[:] = pixels[..., :1]
    Image.fromarray(pixels).save(path)
    return path


def _sources(root: Path) -> dict[str, Path]:
    folders = {
        "bsds": root / "BSDS500/data/images", "kodak": root / "Kodak24", "mcmaster": root / "McMaster",
        "set5": root / "CSet5", "set14": root / "CSet14", "sunhays": root / "CSun_Hays80",
    }
    _photo(folders["bsds"] / "test" / "100007.jpg", seed=1)
    _photo(folders["bsds"] / "val" / "3096.jpg", seed=2)
    _photo(folders["bsds"] / "train" / "2092.jpg", seed=3)  # not unlike: BSDS's training photos
    _photo(folders["kodak"] / "kodim01.png", seed=4)
    _photo(folders["mcmaster"] / "1.tif", seed=5)
    (folders["mcmaster"] / "Thumbs.db").write_bytes(b"not a photo")
    _photo(folders["set5"] / "baby.png", seed=6)
    _photo(folders["set5"] / "butterfly.png", seed=7)  # a crop of Set14's monarch: left out
    _photo(folders["set14"] / "pepper.png", seed=8)
    _photo(folders["set14"] / "comic.png", seed=9)  # a drawing: left out
    _photo(folders["set14"] / "man.png", gray=True, seed=10)  # gray: left out by the colour rule
    _photo(folders["sunhays"] / "abbey_sun_a.jpg", size=(30, 60), seed=11)
    return folders


def _argv(folders: dict[str, Path], out: Path) -> list[str]:
    return [arg for flag, folder in folders.items() for arg in (f"--{flag}", str(folder))] + ["-o", str(out)]


def test_unlike_set_is_made_by_the_documented_rule(tmp_path, capsys):
    folders, out = _sources(tmp_path / "src"), tmp_path / "unlike"
    assert unlike_set.main(_argv(folders, out)) == 0
    said = capsys.readouterr()
    assert "7 colour photos at 256 px (bsds_ 2, kodak_ 1, mcm_ 1, set5_ 1, set14_ 1, sunhays_ 1)" in said.out
    assert "docs/photos.md's unlike set has 434" in said.err  # these are not the documented sources
    names = sorted(p.name for p in out.iterdir())
    assert names == ["bsds_100007.png", "bsds_3096.png", "kodak_kodim01.png", "mcm_1.png", "set14_pepper.png",
                     "set5_baby.png", "sunhays_abbey_sun_a.png"]
    sizes = {name: Image.open(out / name).size for name in names}
    assert sizes["bsds_100007.png"] == (341, 256) and sizes["sunhays_abbey_sun_a.png"] == (256, 512)
    # Byte for byte the same again.
    before = {name: (out / name).read_bytes() for name in names}
    assert unlike_set.main(_argv(folders, out)) == 0
    assert {name: (out / name).read_bytes() for name in names} == before


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_unlike_set_bad_sources_say_what_was_expected(tmp_path, capsys):
    folders = _sources(tmp_path / "src")
    missing = dict(folders, kodak=tmp_path / "nowhere")
    assert unlike_set.main(_argv(missing, tmp_path / "a")) == 2
    assert "No photos in" in (err := _error(capsys)) and "--kodak is the Kodak24 folder" in err
    no_val = dict(folders, bsds=folders["bsds"] / "test")  # the test/ folder, not the one holding test/ and val/
    assert unlike_set.main(_argv(no_val, tmp_path / "b")) == 2
    assert "--bsds is BSDS500's data/images folder, holding test/ and val/" in _error(capsys)
    gray = tmp_path / "Set5"
    _photo(gray / "baby.png", gray=True)
    assert unlike_set.main(_argv(dict(folders, set5=gray), tmp_path / "c")) == 2
    assert "is gray: it is the colour Set5 folder, CSet5" in _error(capsys)
    crowded = tmp_path / "crowded"
    _photo(crowded / "mine.png")
    assert unlike_set.main(_argv(folders, crowded)) == 2
    assert "holds photos that are not of the unlike set (1, e.g. mine.png)" in _error(capsys)


def test_photo_copies_keep_large_colour_photos(tmp_path, capsys):
    source, out = tmp_path / "div2k", tmp_path / "extra" / "div2k"
    _photo(source / "0001.png", size=(300, 280), seed=1)
    _photo(source / "people" / "0002.jpg", size=(260, 520), seed=2)
    _photo(source / "0003.png", size=(300, 300), gray=True)
    _photo(source / "0004.png", size=(200, 300))
    assert photo_copies.main([str(source), "-o", str(out)]) == 0
    assert "2 colour photos at 256 px (1 gray and 1 smaller than 256 px left out)" in capsys.readouterr().out
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg")) == ["0001.jpg", "people/0002.jpg"]
    assert Image.open(out / "0001.jpg").size == (274, 256) and Image.open(out / "0001.jpg").format == "JPEG"


def test_photo_copies_refuse_imagenet_validation_photos_and_missing_folders(tmp_path, capsys):
    source = tmp_path / "mixed"
    _photo(source / "0001.png", size=(300, 300))
    _photo(source / "ILSVRC2012_val_00000001.JPEG", size=(300, 300))
    assert photo_copies.main([str(source), "-o", str(tmp_path / "out")]) == 2
    assert "ILSVRC2012_val_00000001.JPEG is an ImageNet validation photo" in _error(capsys)
    assert not (tmp_path / "out").exists()
    assert photo_copies.main([str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")]) == 2
    assert "No folder" in _error(capsys)
