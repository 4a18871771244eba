"""`python -m colorgan.evaluate CKPT FOLDER`: the same numbers as the metrics computed directly."""

from __future__ import annotations

import importlib.util
import json
import time

import numpy as np
import pytest
import torch
from helpers.configs import TINY, compose_train
from helpers.data import synthetic_images
from PIL import Image

from colorgan.evaluate import WeightsUnavailable, load_colorizer, main, no_downloads
from colorgan.metrics import colorization_metrics
from colorgan.models.unet_colorizer import UNetColorizer
from colorgan.runs.checkpoint_io import CheckpointError
from colorgan.train import train


@pytest.fixture(scope="module")
def checkpoint(tiny_cifar, tmp_path_factory):
    """A real checkpoint of the tiny U-Net (depth 3), trained for two batches on synthetic CIFAR."""
    run = tmp_path_factory.mktemp("ckpt") / "run"
    train(compose_train(["+experiment=unet_lrelu", *TINY, "test=false"], run, tiny_cifar))
    return run / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """7 colour 32x32 photos in nested folders (PNG, so the pixels are exact), a gray one, a corrupt one."""
    root = tmp_path_factory.mktemp("photos")
    images = synthetic_images(7, seed=3).transpose(0, 2, 3, 1)  # (N, 32, 32, 3)
    for i, image in enumerate(images):
        folder = root / ("a" if i < 4 else "b/c")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i}.png")
    Image.fromarray(images[0].mean(-1).astype(np.uint8)).save(root / "a" / "gray.png")
    (root / "b" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return root, images


def test_evaluate_matches_metrics_computed_directly(checkpoint, photos, tmp_path, capsys):
    root, images = photos
    output = tmp_path / "out" / "metrics.json"
    result = main([str(checkpoint), str(root), "--size", "32", "--batch-size", "3", "--workers", "0",
                   "--output", str(output)])

    # Directly: Lightning's own loader, the PNG pixels, one batch, the same metric suite.
    model = UNetColorizer.load_from_checkpoint(checkpoint, map_location="cpu").eval()
    rgb = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    inputs, _ = model.color_space.split(rgb)
    with torch.no_grad():
        pred = model.color_space.merge(inputs, model(inputs))
    gray = model.color_space.merge(inputs, model.color_space.gray_target(inputs))
    expected_model, expected_baseline = colorization_metrics(), colorization_metrics()
    expected_model.update(pred, rgb)
    expected_baseline.update(gray, rgb)

    written = json.loads(output.read_text())
    assert written == json.loads(json.dumps(result))
    assert written["images"] == 7 and written["skipped"] == {"gray": 1, "small": 0, "unreadable": 1}
    for row, expected in (("model", expected_model), ("baseline", expected_baseline)):
        for name, value in expected.compute().items():
            assert written[row][name] == pytest.approx(float(value), rel=1e-5, abs=1e-6), (row, name)
    assert written["model"]["mae"] != pytest.approx(written["baseline"]["mae"])
    out = capsys.readouterr().out
    assert "grayscale baseline" in out and "Skipped 1 grayscale, 1 unreadable." in out
    assert "  grayscale: gray.png" in out and "  unreadable: corrupt.png" in out  # named, not only counted
    assert written["skipped_files"]["gray"] == [str(root / "a" / "gray.png")]


@pytest.mark.skipif(importlib.util.find_spec("torch_fidelity") is not None, reason="torch-fidelity is installed here")
def test_fid_and_lpips_say_why_they_are_missing(checkpoint, photos, tmp_path, capsys):
    root, _ = photos
    result = main([str(checkpoint), str(root), "--size", "32", "--workers", "0", "--output", str(tmp_path / "m.json")])
    assert set(result["unavailable"]) == {"fid", "lpips"}
    assert "torch-fidelity" in result["unavailable"]["fid"].lower()
    assert "fid" not in result["model"] and "lpips" not in result["model"]  # no silent zero
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if "not computed" in line]  # one line for both, saying what brings them
    assert line.startswith("FID and LPIPS not computed: needs torch-fidelity and torchvision: pip install 'colorgan[metrics]'")
    assert "Error" not in out  # no exception names


def test_missing_weights_fail_at_once_instead_of_downloading(tmp_path):
    start = time.monotonic()
    with no_downloads(), pytest.raises(WeightsUnavailable, match="not in the torch hub cache"):
        torch.hub.load_state_dict_from_url("https://download.invalid/weights.pth", model_dir=str(tmp_path))
    assert time.monotonic() - start < 1.0


def test_wrong_size_and_wrong_file_say_what_to_do(checkpoint, photos, tmp_path, capsys):
    root, _ = photos
    with pytest.raises(SystemExit):
        main([str(checkpoint), str(root), "--size", "36", "--output", str(tmp_path / "x.json")])
    assert "multiples of 8. Try --size 32" in capsys.readouterr().err
    not_a_checkpoint = tmp_path / "model.ckpt"
    torch.save({"state_dict": {}}, not_a_checkpoint)
    with pytest.raises(CheckpointError, match="not a colorgan colorizer checkpoint"):
        load_colorizer(not_a_checkpoint)


def test_without_a_checkpoint_the_shipped_model_is_measured(photos, tmp_path, monkeypatch, capsys):
    """`evaluate FOLDER`, as colorize and export default: the shipped photo colorizer (64 px), its
    results in the working directory (never inside the installed package)."""
    root, _ = photos
    monkeypatch.chdir(tmp_path)
    result = main([str(root), "--size", "64", "--min-size", "32", "--workers", "0", "--no-extra"])
    assert result["checkpoint"].endswith("photo.pt") and result["images"] == 7
    assert json.loads((tmp_path / f"eval_{root.name}_64px.json").read_text())["images"] == 7
    assert "Results written to eval_" in capsys.readouterr().out
