"""Flicker: how much colour changes from frame to frame where the picture stands still.

    flicker = mean over consecutive frames and over their still pixels of |d(a, b)|
    still: |dL| < STILL_L and L >= DARK_L in both frames (near black, colour is not seen)

in Lab units (|d(a, b)| the Euclidean length of the change of a and b). A colour original's own
flicker (noise, grain, compression) is the floor a colorized copy is compared with. Frames are
measured at MEASURE_SIDE px on their longer side (area-averaged), which also keeps codec noise
and grain from counting as motion.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from colorgan.color_space import rgb_to_lab

STILL_L = 2.0  # L units (0-100): a pixel whose lightness moved less than this is "still"
DARK_L = 10.0  # pixels darker than this (a black background, night) show no colour and are not counted
MEASURE_SIDE = 320  # longer side, in pixels, of the frames flicker and --compare's metrics are taken on


def measured(rgb: torch.Tensor) -> torch.Tensor:
    """RGB (B, 3, H, W) in [0, 1] -> the same frames with their longer side at most MEASURE_SIDE."""
    height, width = rgb.shape[-2:]
    scale = MEASURE_SIDE / max(height, width)
    if scale >= 1.0:
        return rgb.contiguous()
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return F.interpolate(rgb, size=size, mode="area")


class Flicker:
    """Streaming flicker of one video: `update` with consecutive batches of frames, `compute` at the end."""

    def __init__(self) -> None:
        self.previous: torch.Tensor | None = None  # (3, h, w) Lab of the last frame seen
        self.total, self.pixels = 0.0, 0

    def update(self, rgb: torch.Tensor) -> None:
        """RGB (B, 3, h, w) in [0, 1], the frames that follow those seen before, in order."""
        lab = rgb_to_lab(rgb.float())
        frames = lab if self.previous is None else torch.cat([self.previous[None], lab])
        lightness = frames[:, :1]
        still = ((lightness[1:] - lightness[:-1]).abs() < STILL_L) & (lightness[1:] >= DARK_L) & (lightness[:-1] >= DARK_L)
        change = (frames[1:, 1:] - frames[:-1, 1:]).norm(dim=1, keepdim=True)
        self.total += float(change[still].sum())
        self.pixels += int(still.sum())
        self.previous = lab[-1]

    def compute(self) -> float:
        """Mean |d(a, b)| over still pixels; NaN when no pixel stood still (or one frame only)."""
        return self.total / self.pixels if self.pixels else math.nan
