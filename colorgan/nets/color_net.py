"""The generator and its colour space as one network from RGB to Lab ab: what inference runs,
and what packing compares before and after half precision."""

from __future__ import annotations

import torch
from torch import nn

from colorgan.color_space import LAB, ColorSpace


class ColorNet(nn.Module):
    """Generator and its colour space: RGB or gray-as-RGB (B, 3, h, w) in [0, 1], h and w multiples
    of `stride` -> predicted colour as Lab ab (B, 2, h, w) in ColorSpace("lab") scaling.

    Colour inputs are turned to grayscale (L or luma) first, exactly as in training.
    """

    def __init__(self, generator: nn.Module, color_space: ColorSpace) -> None:
        super().__init__()
        self.generator, self.color_space = generator, color_space

    @property
    def stride(self) -> int:
        return self.generator.stride

    def forward(self, rgb: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        """`hints`: a hint model's hint map (B, 3, h, w) (colorgan.nets.hint_unet), None for none."""
        inputs, _ = self.color_space.split(rgb)
        prediction = self.generator(inputs) if hints is None else self.generator(inputs, hints)
        if self.color_space.name == "lab":
            return prediction
        return LAB.split(self.color_space.merge(inputs, prediction))[1]  # (B, 2, h, w)
