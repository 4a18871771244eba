"""One source of defaults: a model built in Python with no arguments is the model the configs
train, and checkpoints written under the old code defaults still load as they were trained."""

from __future__ import annotations

import torch
from helpers.configs import compose_train
from hydra.utils import instantiate

from colorgan.data.cifar10 import CIFAR10DataModule
from colorgan.data.folder import FolderDataModule
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


# What a data module keeps of its arguments, as attributes; `seed`, `data_dir`, `root` and
# `scan_cache` come from other config groups (seed, paths) and are not the data module's to default.
DATA_SETTINGS = {
    "cifar10": ["batch_size", "eval_batch_size", "flip", "val_size", "split_seed", "download", "on_device"],
    "folder": ["batch_size", "eval_batch_size", "flip", "image_size", "train_scale", "min_size", "gray_chroma",
               "val_size", "test_size", "split_seed", "num_workers", "cache"],
}


def data_settings(module, names: list[str]) -> dict:
    return {"color_space": module.color_space.name, **{name: getattr(module, name) for name in names}}


def test_a_python_cifar10_data_module_is_the_one_conf_data_describes(tmp_path):
    configured = instantiate(compose_train([], tmp_path / "run").data)
    built = CIFAR10DataModule()
    assert data_settings(built, DATA_SETTINGS["cifar10"]) == data_settings(configured, DATA_SETTINGS["cifar10"])
    assert (built.batch_size, built.eval_batch_size) == (128, 500)


def test_a_python_folder_data_module_is_the_one_conf_data_describes(tmp_path):
    configured = instantiate(compose_train(["data=folder", f"data.root={tmp_path}"], tmp_path / "run").data)
    built = FolderDataModule(str(tmp_path))
    assert data_settings(built, DATA_SETTINGS["folder"]) == data_settings(configured, DATA_SETTINGS["folder"])
    assert (built.batch_size, built.eval_batch_size) == (32, 64)
