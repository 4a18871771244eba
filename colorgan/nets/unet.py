"""U-Net generator of the seed and of pix2pix: strided 4x4 convolutions down, transposed
convolutions up, skip concatenations, tanh output. The last layer is either the seed's and
pix2pix's one transposed convolution to the output channels (`output_layer="upconv"`) or a
full-resolution layer plus a 1x1 convolution that also sees the input (`"head"`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from colorgan.nets.layers import check_layer_names, get_act_layer, get_norm_layer


def _down(c_in: int, c_out: int, norm: str, activation: str) -> nn.Sequential:
    # (B, c_in, H, W) -> (B, c_out, H/2, W/2)
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=norm == "none"),
        get_norm_layer(norm, c_out),
        get_act_layer(activation),
    )


def _up(c_in: int, c_out: int, norm: str, activation: str, dropout: float) -> nn.Sequential:
    # (B, c_in, H, W) -> (B, c_out, 2H, 2W)
    layers = [
        nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=norm == "none"),
        get_norm_layer(norm, c_out),
    ]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(get_act_layer(activation))
    return nn.Sequential(*layers)


OUTPUT_LAYERS = ("upconv", "head", "none")


def max_depth(side: int) -> int:
    """The deepest U-Net that takes images of this side: how often it halves evenly (32 -> 5, 96 -> 5)."""
    return (side & -side).bit_length() - 1 if side > 0 else 0


def depth_mismatch(depth: int, height: int, width: int) -> str | None:
    """What a U-Net `depth` levels deep needs when height x width images do not fit it, else None.
    Every level halves the sides, so they must be multiples of 2**depth. The constructor, forward
    and colorgan.config_validation each say it with what they were given."""
    if height % 2**depth or width % 2**depth:
        return f"a U-Net of depth {depth} needs image sides that are multiples of {2**depth}"
    return None


def check_channels(channels: Sequence[int]) -> None:
    """Raise ValueError unless `channels` is a non-empty list of positive integer widths."""
    if isinstance(channels, str | bytes) or not isinstance(channels, Sequence) or not channels or not all(
        isinstance(width, int) and not isinstance(width, bool) and width >= 1 for width in channels
    ):
        raise ValueError(
            f"`channels` must be a non-empty list of positive integer widths, one per U-Net level, got {channels!r}."
        )


def unet_channels(image_size: int, base: int = 64, max_width: int = 512) -> list[int]:
    """pix2pix widths (base, 2*base, ... capped at max_width) with one level per halving of
    `image_size` while it stays even: 32 -> the seed's 5 levels, 256 -> pix2pix's 8, both down
    to a 1x1 bottleneck; 96 -> 5 levels down to 3x3."""
    depth = max_depth(image_size)
    if depth < 2:
        raise ValueError(
            f"`channels: auto` needs an image size divisible by 4 at least (a U-Net of depth >= 2), "
            f"got {image_size}. Use a `data.image_size` such as 32, 64, 128 or 256."
        )
    return [min(base * 2**i, max_width) for i in range(depth)]


class UNetGenerator(nn.Module):
    """Maps a grayscale input (B, in_channels, H, W) to colour (B, out_channels, H, W) in [-1, 1].

    Args:
        in_channels: input channels (1: L or gray).
        out_channels: 2 for Lab (ab), 3 for RGB.
        channels: width of each encoder level; its length is the depth, and H, W must be
            multiples of 2**depth. The seed's CIFAR-10 U-Net is (64, 128, 256, 512, 512).
            "auto": `unet_channels(image_size)`, as deep as `image_size` allows.
        activation: encoder activation name (see colorgan.nets.layers.ACTIVATIONS).
        decoder_activation: decoder activation name (ReLU in the seed and in pix2pix).
        norm: normalization name (see colorgan.nets.layers.NORMS); not on the first and last encoder layers.
        dropout: dropout in the innermost decoder layers (pix2pix uses 0.5 as its noise).
        image_size: side of the training images, if known: required by "auto", and checked
            against explicit `channels` here, so a wrong pair fails before any data is read.
        output_layer: "upconv": the seed's and pix2pix's outermost layer, one transposed
            convolution from the last skip concatenation straight to the output channels.
            "head": a transposed convolution to channels[0] at full resolution, then a 1x1
            convolution over those features and the input (1.4x the FLOPs of "upconv" at 32x32).
            "none": no output layer; forward returns the last decoder features at half resolution,
            (B, feature_channels, H/2, W/2), for a head elsewhere (colorgan.nets.color_classifier).
            The default is the configs' (conf/model/*.yaml; BENCHMARKS.md says why); checkpoints
            written before this option existed had "head", and colorgan.runs.checkpoint_io says so
            when it rebuilds them (OLD_DEFAULTS).
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 2,
        channels: Sequence[int] = (64, 128, 256, 512, 512),
        activation: str = "lrelu",
        decoder_activation: str = "relu",
        norm: str = "batch",
        dropout: float = 0.0,
        image_size: int | None = None,
        output_layer: str = "upconv",
    ) -> None:
        super().__init__()
        check_layer_names(activation, norm)
        if output_layer not in OUTPUT_LAYERS:
            raise ValueError(f"Unknown output_layer {output_layer!r}; valid names: {', '.join(OUTPUT_LAYERS)}.")
        self.output_layer = output_layer
        check_layer_names(decoder_activation, norm)
        if channels == "auto":
            if image_size is None:
                raise ValueError("`channels: auto` needs `image_size` (e.g. `model.generator.image_size=${data.image_size}`).")
            channels = unet_channels(image_size)
        check_channels(channels)
        channels = list(channels)
        self.depth = len(channels)

        self.encoder = nn.ModuleList()
        c_prev = in_channels
        for i, c in enumerate(channels):
            # No norm on the outermost layer (pix2pix) nor on the 1x1 bottleneck, where batch
            # norm fails for batch size 1 and instance norm would zero every feature.
            outer_or_inner = i in (0, self.depth - 1)
            self.encoder.append(_down(c_prev, c, "none" if outer_or_inner else norm, activation))
            c_prev = c

        # Decoder level i brings the features from H/2**(i+2) up to H/2**(i+1) and is then
        # concatenated with encoder level i; the last one brings H/2 back to H.
        self.decoder = nn.ModuleList()
        c_in = channels[-1]
        for i in reversed(range(self.depth - 1)):
            inner = i >= self.depth - 4  # dropout only near the bottleneck, as in pix2pix
            self.decoder.append(_up(c_in, channels[i], norm, decoder_activation, dropout if inner else 0.0))
            c_in = 2 * channels[i]
        self.feature_channels = c_in  # of the last skip concatenation, at half resolution
        if output_layer == "upconv":
            # The seed's and pix2pix's outermost layer: no norm, bias on, tanh.
            self.final_up = nn.Sequential(nn.ConvTranspose2d(c_in, out_channels, 4, stride=2, padding=1), nn.Tanh())
        elif output_layer == "head":
            self.final_up = _up(c_in, channels[0], norm, decoder_activation, 0.0)
            # 1x1 output on the full-resolution features and the input itself (keeps fine detail).
            self.head = nn.Sequential(nn.Conv2d(channels[0] + in_channels, out_channels, 1), nn.Tanh())
        if image_size is not None:
            self.check_input_size(image_size, image_size)

    @property
    def base_width(self) -> int:
        """The first level's width: a discriminator beside it takes it as its own (GANColorizer)."""
        return self.encoder[0][0].out_channels

    @property
    def stride(self) -> int:
        """Input height and width must be multiples of this."""
        return 2**self.depth

    def check_input_size(self, height: int, width: int) -> None:
        if need := depth_mismatch(self.depth, height, width):
            raise ValueError(
                f"{need}, got {height}x{width}. Use fewer `model.generator.channels`, `channels=auto`, "
                "or another `data.image_size`."
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input_size(*x.shape[-2:])
        skips = []
        h = x
        for down in self.encoder:
            h = down(h)
            skips.append(h)
        skips.pop()  # the bottleneck has no mirror
        for up in self.decoder:
            h = torch.cat([up(h), skips.pop()], dim=1)
        if self.output_layer == "none":
            return h
        h = self.final_up(h)
        if self.output_layer == "upconv":
            return h
        return self.head(torch.cat([h, x], dim=1))
