"""Merging predicted colour with a photo's own lightness inside the sRGB gamut.

A colour predicted for a lightness can fall outside sRGB; clipping RGB would change lightness and
hue. merge_in_gamut lowers the chroma of those pixels alone, at constant L, until they fit.
"""

from __future__ import annotations

import torch

from colorgan.color_space import LAB

GAMUT_TOL = 1e-3  # an unclipped merge this far outside [0, 1] (a quarter of an 8-bit level) still fits
GAMUT_STEPS = 6  # bisection steps on the chroma scale: 1/64 of the predicted chroma at worst
GAMUT_MODES = ("fit", "clip")  # fit: merge_in_gamut; clip: ColorSpace.merge, as training's evaluation


def _fits(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """(B, 1, ...) mask of the pixels whose colour (L, ab) is inside the sRGB gamut."""
    rgb = LAB.merge(lightness, ab, clip=False)
    return ((rgb >= -GAMUT_TOL) & (rgb <= 1.0 + GAMUT_TOL)).all(dim=1, keepdim=True)


def _chroma_scale(lightness: torch.Tensor, ab: torch.Tensor, steps: int) -> torch.Tensor:
    """Per pixel, the largest s in [0, 1] (to 1/2**steps) with (L, s * ab) inside the sRGB gamut.
    s = 1 when the colour fits as it is; s = 0 (gray) always fits; bisection keeps `low` fitting."""
    low, high = torch.zeros_like(lightness), torch.ones_like(lightness)
    for _ in range(steps):
        mid = (low + high) / 2
        ok = _fits(lightness, ab * mid)
        low, high = torch.where(ok, mid, low), torch.where(ok, high, mid)
    return torch.where(_fits(lightness, ab), torch.ones_like(low), low)


def merge_in_gamut(lightness: torch.Tensor, ab: torch.Tensor, steps: int = GAMUT_STEPS) -> torch.Tensor:
    """Lab input (B, 1, H, W) and ab (B, 2, H, W), ColorSpace("lab") scaling -> RGB (B, 3, H, W)
    whose L is the input's: colours outside the sRGB gamut lose chroma, never lightness (clipping
    RGB instead would change both lightness and hue).

    Only the pixels that do not fit are bisected, so a photo costs about two Lab -> RGB conversions.
    """
    rgb = LAB.merge(lightness, ab, clip=False)
    bad = ((rgb < -GAMUT_TOL) | (rgb > 1.0 + GAMUT_TOL)).any(dim=1)  # (B, H, W)
    rgb = rgb.clamp(0.0, 1.0)
    if not bad.any():
        return rgb
    # The bad pixels as one (1, C, 1, N) strip: every conversion works pixel by pixel.
    strip_l = lightness.permute(0, 2, 3, 1)[bad].T[None, :, None]
    strip_ab = ab.permute(0, 2, 3, 1)[bad].T[None, :, None]
    scale = _chroma_scale(strip_l, strip_ab, steps)
    rgb = rgb.permute(0, 2, 3, 1).clone()
    rgb[bad] = LAB.merge(strip_l, strip_ab * scale)[0, :, 0].T  # (N, 3)
    return rgb.permute(0, 3, 1, 2)


def merge_in_gamut_dense(lightness: torch.Tensor, ab: torch.Tensor, steps: int = GAMUT_STEPS) -> torch.Tensor:
    """merge_in_gamut without data-dependent shapes (every pixel bisected): what ONNX export traces."""
    return LAB.merge(lightness, ab * _chroma_scale(lightness, ab, steps))
