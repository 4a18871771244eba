"""Colour spaces: the one place that knows how an RGB image becomes (input, target) and back.

Lab (the paper's choice): input L/50 - 1 in [-1, 1], target ab/110 in about [-1, 1].
RGB (the seed's choice): input grayscale*2 - 1, target RGB*2 - 1.
Conversions run in float32 even under autocast: Lab's cube roots lose too much in bf16.
"""

from __future__ import annotations

import torch
from kornia.color import lab_to_rgb, rgb_to_grayscale, rgb_to_lab

COLOR_SPACES = ("lab", "rgb")

AB_SCALE = 110.0  # |a|, |b| of sRGB colours stay under ~110 in kornia's Lab (D65).


class ColorSpace:
    """Split RGB images into network (input, target) and merge predictions back to RGB.

    Images are float tensors (B, 3, H, W) with values in [0, 1].
    """

    def __init__(self, name: str = "lab") -> None:
        if name not in COLOR_SPACES:
            raise ValueError(f"Unknown colour space {name!r}; valid choices: {', '.join(COLOR_SPACES)}.")
        self.name = name

    def __repr__(self) -> str:
        return f"ColorSpace({self.name!r})"

    @property
    def in_channels(self) -> int:
        return 1

    @property
    def out_channels(self) -> int:
        return 2 if self.name == "lab" else 3

    @torch.autocast("cuda", enabled=False)
    @torch.autocast("cpu", enabled=False)
    def split(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) RGB in [0, 1] -> input (B, 1, H, W), target (B, C, H, W), both in [-1, 1]."""
        rgb = rgb.float()
        if self.name == "lab":
            lab = rgb_to_lab(rgb)
            return lab[:, :1] / 50.0 - 1.0, lab[:, 1:] / AB_SCALE
        return rgb_to_grayscale(rgb) * 2.0 - 1.0, rgb * 2.0 - 1.0

    @torch.autocast("cuda", enabled=False)
    @torch.autocast("cpu", enabled=False)
    def merge(self, inputs: torch.Tensor, prediction: torch.Tensor, clip: bool = True) -> torch.Tensor:
        """Network input (B, 1, H, W) and prediction (B, C, H, W) -> RGB (B, 3, H, W) in [0, 1].

        clip=False leaves out-of-gamut values outside [0, 1], so callers can see which colours do not fit.
        """
        inputs, prediction = inputs.float(), prediction.float()
        if self.name == "lab":
            lab = torch.cat([(inputs + 1.0) * 50.0, prediction * AB_SCALE], dim=1)
            return lab_to_rgb(lab, clip=clip)
        rgb = (prediction + 1.0) / 2.0
        return rgb.clamp(0.0, 1.0) if clip else rgb

    def gray_target(self, inputs: torch.Tensor) -> torch.Tensor:
        """The target that means "no colour": the grayscale baseline's answer for these inputs."""
        if self.name == "lab":
            return inputs.new_zeros(inputs.shape[0], 2, *inputs.shape[2:])
        return inputs.expand(-1, 3, -1, -1)

    def gray_rgb(self, inputs: torch.Tensor) -> torch.Tensor:
        """The grayscale baseline as RGB (B, 3, H, W): the input's lightness with no colour."""
        return self.merge(inputs, self.gray_target(inputs))
