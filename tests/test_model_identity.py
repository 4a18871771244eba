"""A checkpoint says which colorizer class wrote it (`colorgan_model`); the loader builds from that
record. Checkpoints written before the record (hand-made here as old runs wrote them) still load: only
for them is the class told from the hyper-parameters, in colorgan.runs.checkpoint_io.model_class alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import colorgan
from colorgan.nets.color_classifier import TEMPERATURE, ColorClassifierUNet
from colorgan.nets.unet import UNetGenerator
from colorgan.runs.checkpoint_io import MODEL_CLASS_KEY, CheckpointError, load_generator, model_class

CHANNELS = [4, 8]  # a tiny U-Net: these checkpoints are made by hand, not trained
SIDE = 8


def old_checkpoint(path: Path, generator: torch.nn.Module, hparams: dict, prefix: str = "generator.",
                   **extra) -> Path:
    """A checkpoint as colorgan wrote it before it recorded its class: hyper-parameters and weights only."""
    state = {prefix + k: v for k, v in generator.state_dict().items()}
    torch.save({"hyper_parameters": hparams, "state_dict": state, "pytorch-lightning_version": "2.0.0",
                "train_image_size": [SIDE, SIDE], **extra}, path)
    return path


def seeded(cls, *args, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return cls(*args, **kwargs).eval()


def same_output(a: torch.nn.Module, b: torch.nn.Module) -> None:
    x = torch.rand(2, 1, SIDE, SIDE) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x))


def test_an_old_unet_checkpoint_loads_with_the_output_layer_of_its_day(tmp_path):
    # Before output_layer existed every U-Net ended in the 1x1 head (OLD_GENERATOR_DEFAULTS).
    unet = seeded(UNetGenerator, 1, 2, channels=CHANNELS, output_layer="head")
    path = old_checkpoint(tmp_path / "unet.ckpt", unet, {"color_space": "lab", "generator": {"channels": CHANNELS}})
    assert model_class(torch.load(path, weights_only=True)) == "UNetColorizer"
    loaded = load_generator(path)
    assert type(loaded.generator) is UNetGenerator and loaded.generator.output_layer == "head"
    assert loaded.color_space.name == "lab" and loaded.train_image_size == (SIDE, SIDE)
    same_output(loaded.generator, unet)


def test_an_old_gan_checkpoint_loads_its_moving_average_generator_only(tmp_path):
    unet = seeded(UNetGenerator, 1, 2, channels=CHANNELS, output_layer="upconv")
    ema = seeded(UNetGenerator, 1, 2, channels=CHANNELS, output_layer="upconv")
    with torch.no_grad():
        for p in ema.parameters():
            p.add_(0.5)  # distinguishable from the raw generator
    path = old_checkpoint(tmp_path / "gan.ckpt", unet, {
        "color_space": "lab", "generator": {"channels": CHANNELS, "output_layer": "upconv"},
        "discriminator": {"channels": [8]}, "gan_loss": "lsgan", "lambda_l1": 100.0,
    })
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["state_dict"].update({"generator_ema." + k: v for k, v in ema.state_dict().items()})
    checkpoint["state_dict"]["discriminator.model.0.weight"] = torch.zeros(8, 3, 4, 4)
    torch.save(checkpoint, path)
    assert model_class(checkpoint) == "GANColorizer"
    loaded = load_generator(path)
    assert type(loaded.generator) is UNetGenerator
    assert not any("discriminator" in k for k in loaded.generator.state_dict())
    same_output(loaded.generator, ema)


def test_an_old_classification_checkpoint_loads_with_its_temperature(tmp_path):
    net = seeded(ColorClassifierUNet, 1, 0.2, channels=CHANNELS)
    path = old_checkpoint(tmp_path / "classify.ckpt", net, {
        "color_space": "lab", "generator": {"channels": CHANNELS}, "temperature": 0.2, "rebalance": 0.5,
    })
    assert model_class(torch.load(path, weights_only=True)) == "ClassifyColorizer"
    loaded = load_generator(path)
    assert type(loaded.generator) is ColorClassifierUNet and loaded.generator.temperature == 0.2
    same_output(loaded.generator, net)


def test_the_record_wins_over_the_hyper_parameters(tmp_path):
    # Hyper-parameters that would be guessed as a GAN, but the checkpoint says it is a classifier;
    # it need not carry the temperature the guess for old checkpoints relies on.
    net = seeded(ColorClassifierUNet, 1, channels=CHANNELS)
    hparams = {"color_space": "lab", "generator": {"channels": CHANNELS}, "discriminator": {"channels": [8]}}
    path = old_checkpoint(tmp_path / "recorded.ckpt", net, hparams, **{MODEL_CLASS_KEY: "ClassifyColorizer"})
    assert model_class(torch.load(path, weights_only=True)) == "ClassifyColorizer"
    loaded = load_generator(path)
    assert type(loaded.generator) is ColorClassifierUNet and loaded.generator.temperature == TEMPERATURE
    same_output(loaded.generator, net)
    # And the other way round: a U-Net whose record says so, with a stray "temperature" key.
    unet = seeded(UNetGenerator, 1, 2, channels=CHANNELS, output_layer="upconv")
    path = old_checkpoint(tmp_path / "unet.ckpt", unet, {
        "color_space": "lab", "generator": {"channels": CHANNELS, "output_layer": "upconv"}, "temperature": 0.38,
    }, **{MODEL_CLASS_KEY: "UNetColorizer"})
    loaded = load_generator(path)
    assert type(loaded.generator) is UNetGenerator
    same_output(loaded.generator, unet)


def test_an_unknown_recorded_class_is_refused(tmp_path):
    unet = seeded(UNetGenerator, 1, 2, channels=CHANNELS)
    path = old_checkpoint(tmp_path / "other.ckpt", unet, {"color_space": "lab", "generator": {"channels": CHANNELS}},
                          **{MODEL_CLASS_KEY: "SomeOtherModule"})
    with pytest.raises(CheckpointError, match="written by 'SomeOtherModule'"):
        load_generator(path)


def test_only_model_class_tells_a_class_from_hyper_parameter_keys():
    """A grep: no other module guesses a model class from which hyper-parameters a checkpoint has."""
    guess = re.compile(r"[\"'](temperature|discriminator|lambda_l1|gan_loss|rebalance)[\"']\s+(not\s+)?in\s+\w*(hp|hparams|hyper)")
    package = Path(colorgan.__file__).parent
    found = [f"{path.relative_to(package)}:{n}" for path in package.rglob("*.py")
             for n, line in enumerate(path.read_text().splitlines(), 1) if guess.search(line)]
    in_model_class = [f"runs/checkpoint_io.py:{n}" for n in guesses_in_model_class()]
    assert len(in_model_class) == 2  # "temperature", "discriminator": the fallback for old checkpoints
    assert sorted(found) == in_model_class, found


def guesses_in_model_class() -> list[int]:
    source = (Path(colorgan.__file__).parent / "runs" / "checkpoint_io.py").read_text().splitlines()
    start = next(i for i, line in enumerate(source) if line.startswith("def model_class("))
    end = next(i for i in range(start + 1, len(source)) if source[i] and not source[i].startswith((" ", ")")))
    return [i + 1 for i in range(start, end) if re.search(r"[\"'](temperature|discriminator)[\"']\s+in\s", source[i])]
