"""U-Net depth against image size: `channels: auto` follows the size; a wrong pair fails early and says why."""

from __future__ import annotations

import pytest
import torch
from helpers.configs import CONF_DIR, compose_train
from hydra.utils import instantiate
from omegaconf import OmegaConf

from colorgan.nets.unet import UNetGenerator, depth_mismatch, max_depth, unet_channels


@pytest.mark.parametrize("size, depth", [(32, 5), (64, 6), (128, 7), (256, 8)])
def test_auto_depth_builds_and_runs_down_to_a_1x1_bottleneck(size, depth):
    torch.manual_seed(0)
    generator = UNetGenerator(1, 2, channels="auto", image_size=size)
    assert generator.depth == depth
    bottleneck = []
    generator.encoder[-1].register_forward_hook(lambda module, args, out: bottleneck.append(out.shape))
    with torch.no_grad():  # forward only: a graph would cost seconds at 256 px on a CPU
        out = generator.eval()(torch.rand(1, 1, size, size) * 2 - 1)
    assert out.shape == (1, 2, size, size) and out.abs().max() <= 1
    assert bottleneck == [(1, 512, 1, 1)]  # 1x1, as in pix2pix


def test_auto_at_32_is_the_cifar_unet_and_at_256_pix2pix():
    assert unet_channels(32) == list(OmegaConf.load(CONF_DIR / "model" / "generator" / "unet.yaml").channels)
    assert unet_channels(256) == [64, 128, 256, 512, 512, 512, 512, 512]
    assert unet_channels(96) == [64, 128, 256, 512, 512]  # as deep as 96 = 3 * 32 allows


def test_impossible_sizes_fail_at_construction_with_a_clear_error():
    with pytest.raises(ValueError, match="depth 8 needs image sides that are multiples of 256, got 64x64"):
        UNetGenerator(channels=[8] * 8, image_size=64)
    with pytest.raises(ValueError, match="divisible by 4 at least.*got 30"):
        UNetGenerator(channels="auto", image_size=30)
    with pytest.raises(ValueError, match="needs `image_size`"):
        UNetGenerator(channels="auto")


def test_wrong_pair_in_the_config_fails_before_any_data_is_read(tmp_path):
    # data.root does not exist: the model's error comes first, at instantiation.
    cfg = compose_train(["+experiment=places_unet", "data.root=/nowhere", "data.image_size=50"], tmp_path / "run")
    with pytest.raises(Exception, match="divisible by 4 at least.*got 50"):
        instantiate(cfg.model, _convert_="all")
    cfg = compose_train(
        ["+experiment=places_unet", "data.root=/nowhere", "data.image_size=48", "model.generator.channels=[8,16,32,64,64]"],
        tmp_path / "run",
    )
    with pytest.raises(Exception, match="multiples of 32, got 48x48"):
        instantiate(cfg.model, _convert_="all")


def test_max_depth_is_how_often_the_side_halves_evenly():
    assert [max_depth(s) for s in (32, 96, 256, 48, 30, 7, 0)] == [5, 5, 8, 4, 1, 0, 0]
    assert depth_mismatch(5, 96, 64) is None and "multiples of 64" in depth_mismatch(6, 96, 64)
