"""One source of defaults: a model built in Python with no arguments is the model the configs
train, and checkpoints written under the old code defaults still load as they were trained."""

from __future__ import annotations

import torch
from helpers.configs import compose_train
from hydra.utils import instantiate

from colorgan.models.gan_colorizer import GANColorizer
from colorgan.models.unet_colorizer import UNetColorizer
from colorgan.nets.unet import UNetGenerator
from colorgan.runs.checkpoint_io import load_generator


def shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


def weight_std(module: torch.nn.Module) -> float:
    return next(m.weight for m in module.modules() if isinstance(m, torch.nn.Conv2d)).std().item()


def test_a_python_unet_colorizer_is_the_one_make_train_trains(tmp_path):
    configured = instantiate(compose_train(["+experiment=unet_lrelu"], tmp_path / "run").model, _convert_="all")
    built = UNetColorizer()
    assert shapes(built) == shapes(configured)
    assert built.generator.output_layer == configured.generator.output_layer == "upconv"
    assert abs(weight_std(built.generator) - 0.02) < 0.005  # N(0, 0.02), as the configs' init: normal


def test_a_python_gan_is_the_one_make_train_trains(tmp_path):
    configured = instantiate(compose_train(["+experiment=gan_lrelu"], tmp_path / "run").model, _convert_="all")
    built = GANColorizer()
    assert shapes(built) == shapes(configured)
    assert built.discriminator.n_layers == configured.discriminator.n_layers == 2
    assert abs(weight_std(built.discriminator) - 0.02) < 0.005


def test_a_checkpoint_that_names_no_output_layer_loads_with_the_head_it_was_trained_with(tmp_path):
    old = UNetGenerator(channels=(8, 16), output_layer="head")
    state = {f"generator.{k}": v for k, v in old.state_dict().items()}
    settings = {"channels": [8, 16], "activation": "lrelu", "norm": "batch"}  # written before output_layer existed
    path = tmp_path / "old.ckpt"
    torch.save({"state_dict": state, "hyper_parameters": {"color_space": "lab", "generator": settings},
                "pytorch-lightning_version": "2.0.0"}, path)
    loaded = load_generator(path).generator
    assert loaded.output_layer == "head"
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    assert torch.equal(loaded(x), old.eval()(x))
