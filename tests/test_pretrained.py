"""The shipped photo colorizer: packing a trained checkpoint (fp16 generator, hyper-parameters,
checksum, model card), loading it only when its sha256 matches, and `colorize` without a checkpoint."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.configs import REPO
from PIL import Image

from colorgan.colorize import main as colorize
from colorgan.inference import Colorizer
from colorgan.pretrained import CHECKSUM_NAME, ENV_DIR, WEIGHTS_NAME, PretrainedError, verified_weights
from colorgan.pretrained.bundle import CARD_NAME, PACKAGE_DIR, file_sha256
from colorgan.pretrained.pack import BEGIN, pack
from colorgan.pretrained.pack import main as pretrained_main


@pytest.fixture(scope="module")
def packed(tiny_checkpoint, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pretrained")
    pack(tiny_checkpoint("lab"), folder)
    return folder


def copy_of(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    return target


def photo(tmp_path: Path) -> Path:
    gradient = torch.linspace(0, 255, 48).to(torch.uint8)
    rgb = torch.stack([gradient.expand(40, 48), gradient.flip(0).expand(40, 48), torch.full((40, 48), 90, dtype=torch.uint8)])
    path = tmp_path / "photo.jpg"
    Image.fromarray(rgb.permute(1, 2, 0).numpy()).save(path)
    return path


def test_pack_writes_fp16_weights_checksum_and_card_that_load_like_the_checkpoint(tiny_checkpoint, packed, one_thread):
    weights = packed / WEIGHTS_NAME
    assert weights.stat().st_size < 20e6
    assert (packed / CHECKSUM_NAME).read_text() == f"{file_sha256(weights)}  {WEIGHTS_NAME}\n"
    card = (packed / CARD_NAME).read_text()
    assert file_sha256(weights) in card and "colorgan.models.unet_colorizer.UNetColorizer" in card
    content = torch.load(weights, weights_only=True)
    assert {t.dtype for k, t in content["state_dict"].items() if k.endswith(".weight")} == {torch.float16}
    assert all(k.startswith("generator.") for k in content["state_dict"])  # no optimizer, no discriminator
    assert content["colorgan_pretrained"]["module"] == "colorgan.models.unet_colorizer.UNetColorizer"

    rgb = torch.rand(3, 37, 53, generator=torch.Generator().manual_seed(1))
    shipped = Colorizer.pretrained(device="cpu", directory=packed)
    trained = Colorizer.from_checkpoint(tiny_checkpoint("lab"), device="cpu")
    assert shipped.train_image_size == trained.train_image_size == (32, 32)
    difference = (shipped.colorize([rgb])[0] - trained.colorize([rgb])[0]).abs().max()
    assert 0 < difference < 2e-3  # fp16 rounding only


def test_a_flipped_byte_is_refused_naming_the_file(packed, tmp_path):
    folder = copy_of(packed, tmp_path)
    data = bytearray((folder / WEIGHTS_NAME).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / WEIGHTS_NAME).write_bytes(bytes(data))
    with pytest.raises(PretrainedError, match=r"Refused to load .*photo\.pt: its sha256 is .*Reinstall colorgan"):
        Colorizer.pretrained(device="cpu", directory=folder)


def test_missing_weights_or_checksum_are_said(packed, tmp_path):
    with pytest.raises(PretrainedError, match="No pretrained photo colorizer at .*photo.pt"):
        verified_weights(tmp_path / "nothing")
    folder = copy_of(packed, tmp_path)
    (folder / CHECKSUM_NAME).unlink()
    with pytest.raises(PretrainedError, match="has no checksum file beside it"):
        verified_weights(folder)
    (folder / CHECKSUM_NAME).write_text("not a digest\n")
    with pytest.raises(PretrainedError, match="does not hold a sha256"):
        verified_weights(folder)


def test_colorize_without_a_checkpoint_uses_the_pretrained_folder(packed, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ENV_DIR, str(packed))
    source = photo(tmp_path)
    assert colorize([str(source), "-o", str(tmp_path / "out")]) == 0
    assert "the shipped photo colorizer" in capsys.readouterr().err
    with Image.open(tmp_path / "out" / "photo.jpg") as result:
        assert result.size == (48, 40)


def test_colorize_tells_checkpoint_from_input(tiny_checkpoint, packed, tmp_path, monkeypatch, capsys):
    source = photo(tmp_path)
    checkpoint = tiny_checkpoint("lab")
    assert colorize([str(checkpoint), str(source), "-o", str(tmp_path / "old")]) == 0  # the old form
    assert colorize(["--checkpoint", str(checkpoint), str(source), "-o", str(tmp_path / "option")]) == 0
    assert (tmp_path / "old" / "photo.jpg").read_bytes() == (tmp_path / "option" / "photo.jpg").read_bytes()
    capsys.readouterr()
    assert colorize([str(checkpoint), "-o", str(tmp_path / "x")]) == 2
    assert "is a checkpoint, but no INPUT was given" in capsys.readouterr().err
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "empty"))
    assert colorize([str(source), "-o", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No pretrained photo colorizer") and "Traceback" not in err
    assert not (tmp_path / "none").exists()


def test_repacking_refreshes_the_cards_checksum_and_keeps_its_text(tiny_checkpoint, packed, tmp_path):
    folder = copy_of(packed, tmp_path)
    card = folder / CARD_NAME
    card.write_text(card.read_text().replace("(to write)", "Blue casts on indoor photos."))
    old_sha = file_sha256(folder / WEIGHTS_NAME)
    result = pack(tiny_checkpoint("rgb"), folder)
    text = card.read_text()
    assert result.sha256 != old_sha and result.sha256 in text and old_sha not in text
    assert text.count(BEGIN) == 1 and "Blue casts on indoor photos." in text and "| colour space | rgb |" in text
    assert Colorizer.pretrained(device="cpu", directory=folder).color_space.name == "rgb"


def test_pack_and_verify_commands(tiny_checkpoint, tmp_path, capsys):
    folder = tmp_path / "pretrained"
    done = subprocess.run(
        [sys.executable, "-m", "colorgan.pretrained", "pack", str(tiny_checkpoint("lab")), "--out", str(folder)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "sha256" in done.stdout and (folder / WEIGHTS_NAME).is_file()
    assert pretrained_main(["verify", "--dir", str(folder)]) == 0
    assert "sha256 ok, lab model trained at 32x32 px, loads" in capsys.readouterr().out
    (tmp_path / "bad.ckpt").write_text("nope")
    assert pretrained_main(["pack", str(tmp_path / "bad.ckpt"), "--out", str(tmp_path / "x")]) == 2
    assert "not a PyTorch checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "x" / WEIGHTS_NAME).exists()


@pytest.mark.slow
def test_an_installed_wheel_carries_the_weights(packed, tmp_path):
    """setuptools' package-data: build a wheel of a copy of the package with packed weights in it."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "colorgan", source / "colorgan", ignore=shutil.ignore_patterns("__pycache__"))
    for name in (WEIGHTS_NAME, CHECKSUM_NAME, CARD_NAME):
        shutil.copy(packed / name, source / "colorgan" / "pretrained" / name)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "w"), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "w").glob("colorgan-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"colorgan/pretrained/{n}" for n in (WEIGHTS_NAME, CHECKSUM_NAME, CARD_NAME)} <= names


def test_the_shipped_weights_verify_and_load():
    colorizer = Colorizer.pretrained(device="cpu", directory=PACKAGE_DIR)
    assert min(colorizer.train_image_size) >= 64
    assert (PACKAGE_DIR / WEIGHTS_NAME).stat().st_size <= 20e6
    assert file_sha256(PACKAGE_DIR / WEIGHTS_NAME) in (PACKAGE_DIR / CARD_NAME).read_text()


def test_readme_colorize_command_uses_the_shipped_model(tmp_path):
    """README: `python -m colorgan.colorize docs/images/chelsea_bw.jpg -o colorized/`, as a user runs it."""
    from helpers.cli import run_module
    from helpers.configs import REPO

    result = run_module("colorgan.colorize", "docs/images/chelsea_bw.jpg", "-o", str(tmp_path / "colorized"),
                        env={"COLORGAN_PRETRAINED_DIR": ""})
    assert result.returncode == 0, result.stderr[-2000:]
    out = Image.open(tmp_path / "colorized" / "chelsea_bw.jpg").convert("RGB")
    assert out.size == Image.open(REPO / "docs" / "images" / "chelsea_bw.jpg").size
    rgb = torch.from_numpy(np.array(out)).float()  # a writable copy: torch warns on a read-only array
    assert (rgb.max(dim=-1).values - rgb.min(dim=-1).values).mean() > 5  # colour added, not gray


def test_readme_hint_command_colours_the_cat_where_it_is_clicked(tmp_path):
    """README: `python -m colorgan.colorize docs/images/chelsea_bw.jpg --hint 220,150,orange -o colorized/`:
    the shipped model takes the hint, and the colour at the click moves towards orange."""
    from helpers.cli import run_module
    from helpers.configs import REPO

    from colorgan.color_space import LAB
    from colorgan.inference import parse_hint

    photo = REPO / "docs" / "images" / "chelsea_bw.jpg"
    for name, hint in (("hinted", ["--hint", "220,150,orange"]), ("automatic", [])):
        result = run_module("colorgan.colorize", str(photo), *hint, "-o", str(tmp_path / name),
                            env={"COLORGAN_PRETRAINED_DIR": ""})
        assert result.returncode == 0, result.stderr[-2000:]

    def ab_near_click(name: str) -> torch.Tensor:
        rgb = torch.from_numpy(np.array(Image.open(tmp_path / name / "chelsea_bw.jpg").convert("RGB"))).permute(2, 0, 1)
        return LAB.split(rgb[None].float() / 255)[1][0, :, 145:156, 215:226].mean(dim=(1, 2))

    target = parse_hint("220,150,orange").ab()
    assert (ab_near_click("hinted") - target).norm() < (ab_near_click("automatic") - target).norm() - 0.05
