"""Conditional discriminators: they see the grayscale input concatenated with a colour image
(real or generated), (B, 1 + C, H, W), and return logits (no sigmoid; the losses take logits).

    patch   PatchGAN (pix2pix): one logit per overlapping patch, (B, 1, h, w).
    global  the seed's discriminator: the U-Net's encoding half down to 1x1, then one logit, (B, 1).

Either can be spectrally normalized (Miyato et al. 2018, SNGAN): every convolution's weight is
divided by an estimate of its largest singular value, so each layer is 1-Lipschitz and D cannot
sharpen without bound. Its normalization layers are then dropped: batch norm divides by the batch's
standard deviation, which can scale a layer up by any factor and so undoes the bound (SNGAN's D
has none).
"""

from __future__ import annotations

import torch
from torch import nn

from colorgan.nets.layers import check_layer_names, get_act_layer, get_norm_layer, init_weights


def _conv_block(c_in: int, c_out: int, stride: int, norm: str, activation: str) -> list[nn.Module]:
    # 4x4 convolution; no bias where a norm layer follows (it would be cancelled).
    return [
        nn.Conv2d(c_in, c_out, 4, stride=stride, padding=1, bias=norm == "none"),
        get_norm_layer(norm, c_out),
        get_act_layer(activation),
    ]


def _widths(channels: int, n_layers: int) -> list[int]:
    """channels * 1, 2, 4, 8, 8, ...: pix2pix's widths, capped at 8x."""
    return [channels * min(2**i, 8) for i in range(n_layers)]


def _check_sizes(channels: int, n_layers: int, norm: str, activation: str) -> None:
    check_layer_names(activation, norm)
    if channels < 1 or n_layers < 1:
        raise ValueError(f"Discriminator channels and n_layers must be >= 1, got channels={channels}, n_layers={n_layers}.")


class PatchDiscriminator(nn.Module):
    """PatchGAN: n_layers strided 4x4 convolutions, one stride-1 4x4 convolution, a 4x4 convolution
    to one channel. Each output logit judges one patch; the receptive field is 16, 34, 70, 142
    pixels for n_layers 1, 2, 3, 4 (70 is pix2pix's default; 2 suits 32x32 images).

    Args:
        in_channels: 1 (gray) + colour channels (2 for Lab's ab, 3 for RGB).
        channels: width of the first layer; later layers double it, up to 8x.
        n_layers: number of stride-2 layers.
        norm: normalization name (colorgan.nets.layers.NORMS); never on the first layer.
        activation: activation name (colorgan.nets.layers.ACTIVATIONS); LeakyReLU(0.2) in pix2pix.
    """

    def __init__(
        self, in_channels: int, channels: int = 64, n_layers: int = 2, norm: str = "batch", activation: str = "lrelu"
    ) -> None:
        super().__init__()
        _check_sizes(channels, n_layers, norm, activation)
        self.n_layers = n_layers
        widths = _widths(channels, n_layers + 1)
        layers = _conv_block(in_channels, widths[0], 2, "none", activation)
        for c_in, c_out in zip(widths[:-2], widths[1:-1], strict=True):
            layers += _conv_block(c_in, c_out, 2, norm, activation)
        layers += _conv_block(widths[-2], widths[-1], 1, norm, activation)
        layers.append(nn.Conv2d(widths[-1], 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Side lengths of the logit map for an input of height x width."""
        for _ in range(self.n_layers):
            height, width = height // 2, width // 2
        return height - 2, width - 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> patch logits (B, 1, h, w)."""
        h, w = self.output_size(*x.shape[-2:])
        if h < 1 or w < 1:
            raise ValueError(
                f"A PatchGAN with n_layers={self.n_layers} needs images of at least {3 * 2**self.n_layers} pixels "
                f"a side, got {x.shape[-2]}x{x.shape[-1]}. Lower `model.discriminator.n_layers`."
            )
        return self.model(x)


class GlobalDiscriminator(nn.Module):
    """The seed's discriminator: like the U-Net's encoding half (strided 4x4 convolutions, norm and
    LeakyReLU) down to a 1x1 map, then a 1x1 convolution to one logit per image.
    Images must be 2**n_layers pixels a side (n_layers=5 for CIFAR-10's 32x32).

    Args: as PatchDiscriminator; norm is on neither the first nor the 1x1 innermost layer
    (batch norm of one value per image is fragile, instance norm of it is zero).
    """

    def __init__(
        self, in_channels: int, channels: int = 64, n_layers: int = 5, norm: str = "batch", activation: str = "lrelu"
    ) -> None:
        super().__init__()
        _check_sizes(channels, n_layers, norm, activation)
        self.n_layers = n_layers
        widths = _widths(channels, n_layers)
        layers, c_in = [], in_channels
        for i, c_out in enumerate(widths):
            layers += _conv_block(c_in, c_out, 2, "none" if i in (0, n_layers - 1) else norm, activation)
            c_in = c_out
        layers.append(nn.Conv2d(c_in, 1, 1))
        self.model = nn.Sequential(*layers)

    @staticmethod
    def check_size(n_layers: int, height: int, width: int) -> None:
        """Raise ValueError unless height x width images are 2**n_layers a side (also run by
        colorgan.config_validation on the configured image size)."""
        side = 2**n_layers
        if (height, width) != (side, side):
            raise ValueError(
                f"The global discriminator with n_layers={n_layers} reduces {side}x{side} images to one logit, "
                f"got {height}x{width}. Set `model.discriminator.n_layers` to log2 of the image side "
                "(5 for 32x32), or use `model.discriminator.name=patch`."
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> one logit per image (B, 1)."""
        self.check_size(self.n_layers, *x.shape[-2:])
        return self.model(x).flatten(1)


DISCRIMINATORS = {"patch": PatchDiscriminator, "global": GlobalDiscriminator}


def build_discriminator(in_channels: int, name: str = "patch", spectral_norm: bool = False, init: str = "normal",
                        **kwargs) -> nn.Module:
    """A discriminator by name ("patch" or "global") with its keyword arguments, its weights
    initialised by `init` (colorgan.nets.layers.init_weights). With `spectral_norm`, every
    convolution is spectrally normalized and `norm` is ignored (no normalization layers; see above)."""
    if name not in DISCRIMINATORS:
        raise ValueError(f"Unknown discriminator {name!r}; valid names: {', '.join(DISCRIMINATORS)}.")
    if spectral_norm:
        kwargs["norm"] = "none"
    discriminator = DISCRIMINATORS[name](in_channels, **kwargs)
    init_weights(discriminator, init)  # before the parametrization: it initialises the raw weight
    if spectral_norm:
        add_spectral_norm(discriminator)
    return discriminator


def add_spectral_norm(module: nn.Module) -> None:
    """Spectrally normalize every convolution of `module` in place (one power iteration per
    training forward, torch.nn.utils.parametrizations.spectral_norm)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.utils.parametrizations.spectral_norm(layer)
