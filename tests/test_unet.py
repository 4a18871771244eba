import pytest
import torch

from colorgan.color_space import ColorSpace
from colorgan.nets.layers import ACTIVATIONS, NORMS, get_act_layer, get_norm_layer
from colorgan.nets.unet import UNetGenerator


@pytest.mark.parametrize("space", ["lab", "rgb"])
@pytest.mark.parametrize("norm", sorted(NORMS))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_output_shape_and_range_for_every_variant(activation, norm, space):
    cs = ColorSpace(space)
    net = UNetGenerator(cs.in_channels, cs.out_channels, channels=(8, 16, 16), activation=activation, norm=norm)
    out = net(torch.rand(2, 1, 32, 24) * 2 - 1)
    assert out.shape == (2, cs.out_channels, 32, 24)
    assert out.abs().max() <= 1.0  # tanh


def test_the_seed_unet_on_cifar_and_batch_of_one():
    net = UNetGenerator(channels=(64, 128, 256, 512, 512)).train()
    assert net.stride == 32
    assert net(torch.zeros(1, 1, 32, 32)).shape == (1, 2, 32, 32)  # 1x1 bottleneck has no norm


def test_sizes_that_do_not_fit_the_depth_are_refused():
    net = UNetGenerator(channels=(8, 16, 16))
    with pytest.raises(ValueError, match="multiples of 8"):
        net(torch.zeros(1, 1, 30, 32))


def test_unknown_layer_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="relu, lrelu"):
        get_act_layer("swishy")
    with pytest.raises(ValueError, match="batch, instance"):
        get_norm_layer("layer", 8)
    with pytest.raises(ValueError, match="Unknown activation 'prelu'"):
        UNetGenerator(activation="prelu")


def test_the_seed_output_layer_is_one_transposed_convolution_and_lighter():
    from torch.utils.flop_counter import FlopCounterMode

    def flops(net):
        with FlopCounterMode(display=False) as counter:
            net(torch.zeros(1, 1, 32, 32))
        return counter.get_total_flops()

    seed, head = UNetGenerator(output_layer="upconv"), UNetGenerator(output_layer="head")
    assert isinstance(seed.final_up[0], torch.nn.ConvTranspose2d) and seed.final_up[0].out_channels == 2
    assert not hasattr(seed, "head")
    assert flops(head) / flops(seed) > 1.3  # the full-resolution layer and the 1x1 head cost ~40% more
    assert UNetGenerator().output_layer == "upconv"  # the configs' (older checkpoints: test_defaults.py)
    with pytest.raises(ValueError, match="Unknown output_layer 'conv'; valid names: upconv, head"):
        UNetGenerator(output_layer="conv")


def test_normal_init_is_pix2pix_s():
    from colorgan.nets.layers import init_weights

    net = UNetGenerator(channels=(64, 128, 128), output_layer="upconv")
    init_weights(net, "normal")
    conv = net.encoder[1][0].weight
    assert abs(conv.std().item() - 0.02) < 0.002 and abs(conv.mean().item()) < 0.002
    norm = net.encoder[1][1]
    assert abs(norm.weight.mean().item() - 1.0) < 0.01 and norm.bias.abs().max() == 0
    assert net.final_up[0].bias.abs().max() == 0
    with pytest.raises(ValueError, match="Unknown init 'xavier'"):
        init_weights(net, "xavier")
