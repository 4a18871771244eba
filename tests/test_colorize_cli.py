"""`python -m colorgan.colorize` on folders: bad files reported one line each, outputs mirrored,
nothing overwritten, and --compare's metrics equal to those of the test step on real CIFAR-10."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from helpers.configs import REAL_CIFAR, REPO
from PIL import Image

from colorgan.colorize import main
from colorgan.data import cifar10
from colorgan.data.datamodule import ColorizationDataModule
from colorgan.models.unet_colorizer import UNetColorizer


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring width x height RGB pixels, with almost no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def random_image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    """Good images (one in a subfolder, one WebP, one odd-sized) next to every kind of bad input."""
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    random_image(40, 30, 1).save(folder / "good.png")
    random_image(33, 47, 2).save(folder / "trip" / "beach.jpg", quality=90)
    random_image(20, 24, 3).save(folder / "odd.webp")
    (folder / "empty.jpg").write_bytes(b"")
    jpeg = io.BytesIO()
    random_image(64, 64, 4).save(jpeg, "JPEG")
    (folder / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    (folder / "notes.png").write_text("this is text, not a picture\n")
    (folder / "bomb.png").write_bytes(png_bomb(100_000, 100_000))
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "dot.png")
    (folder / "readme.txt").write_text("not an image suffix: ignored")
    return folder


def test_bad_inputs_get_one_line_each_and_the_rest_is_done(tiny_checkpoint, mixed_folder, tmp_path, capsys):
    before = digests(mixed_folder)
    out = tmp_path / "out"
    code, stdout, stderr = run(capsys, tiny_checkpoint("lab"), mixed_folder, "-o", out, "--batch-size", "2")
    assert code == 1
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    reasons = {
        "empty.jpg": "empty file (0 bytes)",
        "truncated.jpg": "truncated",
        "notes.png": "not an image",
        "bomb.png": "decompression bomb",
        "dot.png": "too small to colorize (1x1",
    }
    assert len(errors) == len(reasons)
    for name, reason in reasons.items():
        assert any(str(mixed_folder / name) in line and reason in line for line in errors), (name, errors)
    assert "3 colorized" in stdout and "5 failed" in stdout
    # Outputs mirror the input names and have the input sizes; inputs are untouched.
    assert Image.open(out / "good.png").size == (40, 30)
    assert Image.open(out / "trip" / "beach.jpg").size == (33, 47)
    assert Image.open(out / "trip" / "beach.jpg").format == "JPEG"
    assert Image.open(out / "odd.webp").size == (20, 24)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "good.png", "odd.webp", "trip/beach.jpg"
    ]
    assert digests(mixed_folder) == before


def test_tiny_images_are_accepted_when_asked(tiny_checkpoint, tmp_path, capsys):
    Image.new("RGB", (1, 1), (200, 10, 10)).save(tmp_path / "dot.png")
    code, _, _ = run(capsys, tiny_checkpoint("lab"), tmp_path / "dot.png", "-o", tmp_path / "out", "--min-side", "1")
    assert code == 0 and Image.open(tmp_path / "out" / "dot.png").size == (1, 1)


def test_existing_outputs_are_kept_unless_overwrite(tiny_checkpoint, tmp_path, capsys):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    random_image(16, 16).save(folder / "a.png")
    random_image(16, 16, 1).save(folder / "b.png")
    out.mkdir()
    (out / "a.png").write_bytes(b"mine")
    code, stdout, _ = run(capsys, tiny_checkpoint("lab"), folder, "-o", out)
    assert code == 0 and "1 colorized" in stdout and "1 skipped" in stdout
    assert (out / "a.png").read_bytes() == b"mine" and Image.open(out / "b.png").size == (16, 16)
    # --compare adds the side-by-sides that are missing, still keeping the existing outputs.
    code, stdout, _ = run(capsys, tiny_checkpoint("lab"), folder, "-o", out, "--compare")
    assert code == 0 and (out / "a.png").read_bytes() == b"mine" and (out / "a.compare.png").is_file()
    code, stdout, _ = run(capsys, tiny_checkpoint("lab"), folder, "-o", out, "--overwrite")
    assert code == 0 and "2 colorized" in stdout and Image.open(out / "a.png").size == (16, 16)



def test_an_output_that_cannot_be_written_is_named_and_the_rest_is_done(tiny_checkpoint, tmp_path, capsys):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    random_image(16, 16).save(folder / "a.png")
    random_image(16, 16, 1).save(folder / "b.png")
    (out / "a.png").mkdir(parents=True)  # a folder where a.png's output goes
    code, stdout, stderr = run(capsys, tiny_checkpoint("lab"), folder, "-o", out, "--overwrite")
    assert code == 1 and "1 colorized" in stdout and "1 failed" in stdout
    assert f"error: {folder / 'a.png'}: cannot write {out / 'a.png'}: " in stderr
    assert Image.open(out / "b.png").size == (16, 16) and (out / "a.png").is_dir()

def test_outputs_never_replace_inputs(tiny_checkpoint, tmp_path, capsys):
    random_image(16, 16).save(tmp_path / "a.png")
    before = digests(tmp_path)
    code, _, stderr = run(capsys, tiny_checkpoint("lab"), tmp_path, "-o", tmp_path, "--overwrite")
    assert code == 1 and "would replace an input" in stderr
    assert digests(tmp_path) == before


def test_output_folder_inside_the_input_folder_is_not_read_back(tiny_checkpoint, tmp_path, capsys):
    random_image(16, 16).save(tmp_path / "a.png")
    for _ in range(2):
        code, stdout, _ = run(capsys, tiny_checkpoint("lab"), tmp_path, "-o", tmp_path / "colorized", "--overwrite")
        assert code == 0 and "1 colorized" in stdout
    assert not (tmp_path / "colorized" / "colorized").exists()


def test_help_and_usage_errors():
    result = subprocess.run(
        [sys.executable, "-m", "colorgan.colorize", "--help"], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0
    for flag in ("--compare", "--overwrite", "--size", "--batch-size", "--device", "--max-pixels", "--min-side"):
        assert flag in result.stdout


def test_missing_input_exits_2(tiny_checkpoint, tmp_path, capsys):
    code, _, stderr = run(capsys, tiny_checkpoint("lab"), tmp_path / "nope", "-o", tmp_path / "out")
    assert code == 2 and "input not found" in stderr


@pytest.mark.parametrize("with_checkpoint", [False, True])
def test_several_inputs_are_colorized_in_one_command(with_checkpoint, tiny_checkpoint, tmp_path, capsys):
    """`colorize a.jpg b.jpg c.png`, with the shipped model or after a checkpoint, and a folder among them."""
    names = ["a.jpg", "b.jpg", "c.png"]
    for i, name in enumerate(names):
        random_image(24, 20, i).save(tmp_path / name)
    (tmp_path / "more").mkdir()
    random_image(20, 24, 9).save(tmp_path / "more" / "d.png")
    checkpoint = [tiny_checkpoint("lab")] if with_checkpoint else []
    code, stdout, _ = run(capsys, *checkpoint, *(tmp_path / n for n in names), tmp_path / "more", "-o", tmp_path / "out")
    assert code == 0 and "4 colorized" in stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [*names, "d.png"]


@pytest.mark.skipif(not REAL_CIFAR.is_dir(), reason="needs the offline CIFAR-10 copy (COLORGAN_DATA)")
def test_compare_metrics_match_the_test_step_on_real_cifar(tiny_checkpoint, tmp_path, capsys):
    images = torch.from_numpy(cifar10.read_batch(REAL_CIFAR / "test_batch")[:12].copy())
    folder = tmp_path / "cifar"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"test_{i:02d}.png")
    measured = {}
    for gamut in ("clip", "fit"):
        out = tmp_path / gamut
        command = [tiny_checkpoint("lab"), folder, "-o", out, "--compare", "--batch-size", "5", "--gamut", gamut]
        code, stdout, _ = run(capsys, *command)
        assert code == 0 and "12 colorized" in stdout and "mae" in stdout
        measured[gamut] = json.loads((out / "metrics.json").read_text())
        assert measured[gamut]["images"] == 12
        assert Image.open(out / "test_00.compare.png").size == (3 * (32 * 8 + 2) + 2, 32 * 8 + 4)

    class TheseImages(ColorizationDataModule):
        def setup(self, stage=None):
            self.train_images = self.val_images = self.test_images = images

    model = UNetColorizer.load_from_checkpoint(tiny_checkpoint("lab"), map_location="cpu")
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    (expected,) = trainer.test(model, datamodule=TheseImages(color_space="lab", batch_size=8), verbose=False)
    semantic = {"agree", "class_acc", "truth_class_acc"}  # the judge's columns: the test step here ran without it
    for name, value in measured["clip"]["model"].items():
        if name not in semantic:
            assert value == pytest.approx(expected[f"test/{name}"], rel=1e-5, abs=1e-6), name
    for gamut in ("clip", "fit"):
        for name, value in measured[gamut]["baseline"].items():
            if name not in semantic:
                assert value == pytest.approx(expected[f"test_baseline/{name}"], rel=1e-5, abs=1e-6), name
    # Fitting the gamut instead of clipping changes only the pixels that fall outside it.
    assert measured["fit"]["model"]["mae"] == pytest.approx(expected["test/mae"], rel=0.2)


def test_documented_commands_on_the_docs_photo(tiny_checkpoint, tmp_path, capsys):
    """docs/colorize.md's commands, with the tiny checkpoint in place of CHECKPOINT."""
    photo = REPO / "docs" / "images" / "chelsea_bw.jpg"
    code, stdout, _ = run(capsys, tiny_checkpoint("lab"), photo, "-o", tmp_path / "colorized")
    assert code == 0 and "1 colorized" in stdout
    out = Image.open(tmp_path / "colorized" / "chelsea_bw.jpg")
    assert out.size == Image.open(photo).size and out.mode == "RGB"

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "chelsea_bw.jpg").write_bytes(photo.read_bytes())
    code, stdout, _ = run(capsys, tiny_checkpoint("lab"), folder, "-o", tmp_path / "sized", "--size", "64",
                          "--batch-size", "16", "--device", "cpu")
    assert code == 0 and Image.open(tmp_path / "sized" / "chelsea_bw.jpg").size == out.size

    from colorgan import Colorizer

    colorizer = Colorizer.from_checkpoint(tiny_checkpoint("lab"))
    colorizer(str(photo)).save(tmp_path / "chelsea.png")
    assert Image.open(tmp_path / "chelsea.png").size == out.size


def test_compare_measures_colour_files_only(tiny_checkpoint, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    random_image(16, 16).convert("L").save(folder / "gray.png")
    Image.new("RGB", (16, 16), (120, 121, 119)).save(folder / "nearly_gray.png")  # an RGB original: measured
    code, _, stderr = run(capsys, tiny_checkpoint("lab"), folder, "-o", tmp_path / "out", "--compare")
    assert code == 0 and "not measured: " in stderr and "gray.png (a grayscale file" in stderr
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["images"] == 1
    assert (tmp_path / "out" / "gray.compare.png").is_file()
