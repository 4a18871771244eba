"""Checkpoints load safely (weights_only), for U-Net and GAN modules, and bad files say what is wrong."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from colorgan.colorize import main as colorize_main
from colorgan.models.unet_colorizer import UNetColorizer
from colorgan.runs.checkpoint_io import CheckpointError, load_generator, read_checkpoint


class RunsCode:
    """Unpickling this runs a shell command: what a malicious checkpoint does."""

    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("space", ["lab", "rgb"])
def test_trainer_checkpoint_loads_safely_and_matches_the_module(space, tiny_checkpoint):
    path = tiny_checkpoint(space)
    raw = torch.load(path, map_location="cpu", weights_only=True)  # everything in it is plain
    assert raw["train_image_size"] == [32, 32]
    loaded = load_generator(path)
    assert loaded.color_space.name == space
    assert loaded.train_image_size == (32, 32)
    assert not loaded.generator.training
    module = UNetColorizer.load_from_checkpoint(path, map_location="cpu").eval()
    assert module.train_image_size == [32, 32]
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded.generator(x), module.generator(x))


def test_gan_style_checkpoint_rebuilds_only_the_generator(tiny_checkpoint, tmp_path):
    checkpoint = torch.load(tiny_checkpoint("lab"), map_location="cpu", weights_only=True)
    checkpoint["state_dict"]["discriminator.model.0.weight"] = torch.zeros(8, 3, 4, 4)
    checkpoint["hyper_parameters"]["discriminator"] = {"channels": [8]}
    path = tmp_path / "gan.ckpt"
    torch.save(checkpoint, path)
    loaded = load_generator(path)
    assert not any("discriminator" in k for k in loaded.generator.state_dict())


def test_checkpoint_that_runs_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"color_space": "lab"}, "payload": RunsCode(marker)}, path)
    with pytest.raises(CheckpointError, match=r"Refused to load .*could run code.*posix\.system|system"):
        load_generator(path)
    assert not marker.exists()
    # The file really is malicious: an unsafe load runs its code.
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol 4")  # the hostile file is a plain pickle.dumps
def test_plain_pickle_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x": RunsCode(marker)}))
    with pytest.raises(CheckpointError, match="Refused"):
        read_checkpoint(path)
    assert not marker.exists()


def test_unusable_files_get_clear_errors(tiny_checkpoint, tmp_path):
    good = tiny_checkpoint("lab").read_bytes()
    (tmp_path / "truncated.ckpt").write_bytes(good[: len(good) // 2])
    (tmp_path / "empty.ckpt").write_bytes(b"")
    (tmp_path / "text.ckpt").write_text("not a checkpoint\n")
    torch.save(torch.nn.Linear(2, 2).state_dict(), tmp_path / "other_model.pt")
    torch.save({"state_dict": {"model.weight": torch.zeros(1)}, "hyper_parameters": {"lr": 1.0}}, tmp_path / "other.ckpt")
    wrong = torch.load(tiny_checkpoint("lab"), map_location="cpu", weights_only=True)
    wrong["hyper_parameters"]["generator"]["channels"] = [8, 16, 64]
    torch.save(wrong, tmp_path / "mismatch.ckpt")
    expected = {
        "truncated.ckpt": "truncated or corrupt",
        "empty.ckpt": "empty",
        "text.ckpt": "not a PyTorch checkpoint",
        "other_model.pt": "not a colorgan colorizer checkpoint",
        "other.ckpt": "no 'generator.\\*' weights",
        "mismatch.ckpt": "do not fit the generator",
        "missing.ckpt": "not found",
    }
    for name, message in expected.items():
        with pytest.raises(CheckpointError, match=message):
            load_generator(tmp_path / name)


def test_cli_with_a_bad_checkpoint_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "bad.ckpt").write_text("nope")
    (tmp_path / "in.png").write_bytes(b"")
    assert colorize_main([str(tmp_path / "bad.ckpt"), str(tmp_path / "in.png"), "-o", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad.ckpt" in lines[0]
    assert not (tmp_path / "out").exists()
