"""The classification colorizer's network: the U-Net body, a 1x1 convolution to logits over the ab
bins at half resolution (colour is low-frequency; the paper predicts at a quarter), and
annealed-mean decoding to ab, upsampled to the input's size. Its forward returns ab like any
Lab generator, so evaluation, colorize and export treat it as one; training reads `logits`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colorgan.nets.ab_bins import GRID, annealed_mean, gamut_bins
from colorgan.nets.generators import build_generator

TEMPERATURE = 0.38  # the paper's annealed-mean temperature


class ColorClassifierUNet(nn.Module):
    """Grayscale L input (B, 1, H, W) in [-1, 1] -> ab (B, 2, H, W) in ColorSpace("lab") scaling.

    Args:
        in_channels: 1 (the L channel).
        temperature: annealed-mean temperature T (1: the mean, 0: the mode); may be changed after
            training (`Colorizer.from_checkpoint(..., temperature=...)`).
        grid: ab bin side in ab units (colorgan.nets.ab_bins.gamut_bins).
        from_checkpoint: see colorgan.nets.generators.build_generator.
        **unet: the body's generator settings (colorgan.nets.generators); its output layer is
            replaced by the classifier head, so `output_layer` is ignored.
    """

    def __init__(self, in_channels: int = 1, temperature: float = TEMPERATURE, grid: float = GRID,
                 from_checkpoint: bool = False, **unet) -> None:
        super().__init__()
        if temperature < 0:
            raise ValueError(f"The annealed-mean temperature must be >= 0 (0: the mode, 1: the mean), got {temperature}.")
        unet.pop("output_layer", None)
        self.temperature = float(temperature)
        self.body = build_generator(in_channels, 2, {**unet, "output_layer": "none"}, from_checkpoint)
        self.register_buffer("bins", gamut_bins(grid))  # (Q, 2)
        # A 1x1 convolution, written as a Linear over channels-last features: the logits come out
        # (B, h, w, Q), bins contiguous, which the softmax, the loss's gather and decoding all want.
        self.logits_head = nn.Linear(self.body.feature_channels, self.num_bins)

    @property
    def num_bins(self) -> int:
        return self.bins.shape[0]

    @property
    def stride(self) -> int:
        return self.body.stride

    @property
    def base_width(self) -> int:
        return self.body.base_width

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, H/2, W/2, Q) logits over the ab bins."""
        return self.logits_head(self.body(x).permute(0, 2, 3, 1))

    def decode(self, logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Logits (B, h, w, Q) -> ab (B, 2, *size) by annealed mean, upsampled bilinearly."""
        ab = annealed_mean(logits, self.bins, self.temperature)
        return F.interpolate(ab, size=size, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.logits(x), tuple(x.shape[-2:]))
