"""A loss that charges a prediction for being paler than the original (after DDColor's colourfulness
loss, which rewards colourfulness without bound; this one stops rewarding at the original's own).

L1 and the semantic loss both pull a colorizer towards gray where it is unsure (docs/photos.md,
Study 4); this term pulls the other way, per photo, and only as far as the truth goes:

    loss = colourfulness_deficit(pred_rgb, true_rgb)   # mean of max(0, M(true) - M(pred)) / 100
    loss = chroma_deficit(pred_rgb, true_rgb)          # the same, pixel by pixel, on Lab chroma

The per-photo charge can be paid anywhere in the photo; the per-pixel one only where the original
itself has colour (docs/photos.md, Study 4, has what each does to a trained model).
"""

from __future__ import annotations

import torch

from colorgan.color_space import rgb_to_lab
from colorgan.metrics import colorfulness

SCALE = 100.0  # Hasler and Suesstrunk's M is about 0-100 on photos; DDColor divides by the same
EPS = 1e-6  # under colorfulness's square roots: a gray prediction still has a gradient


def colourfulness_deficit(pred_rgb: torch.Tensor, true_rgb: torch.Tensor,
                          weights: torch.Tensor | None = None) -> torch.Tensor:
    """How much paler the prediction is than the original, per photo, averaged: mean over the batch
    of max(0, M(original) - M(prediction)) / 100. A prediction as colourful as its original, or
    more, costs nothing here (false colour is the colour loss's to charge). `weights` (B,), when
    given, scale each photo's charge (e.g. by how sure a classifier is of what the photo shows)."""
    with torch.no_grad():
        target = colorfulness(true_rgb, EPS)
    deficit = (target - colorfulness(pred_rgb, EPS)).clamp_min(0)
    if weights is not None:
        deficit = deficit * weights.to(deficit.dtype)
    return deficit.mean() / SCALE


def chroma_deficit(pred_rgb: torch.Tensor, true_rgb: torch.Tensor,
                   weights: torch.Tensor | None = None) -> torch.Tensor:
    """How much paler the prediction is than the original, pixel by pixel: the mean over pixels and
    photos of max(0, C(original) - C(prediction)) / 100, C the Lab chroma sqrt(a^2 + b^2). A pixel
    whose original is gray costs nothing however the prediction paints it (false colour is the
    colour loss's to charge), so the charge asks for colour only where the original has it.
    `weights` (B,), when given, scale each photo's charge."""
    with torch.no_grad():
        target = _chroma(true_rgb)
    deficit = (target - _chroma(pred_rgb)).clamp_min(0).mean(dim=(1, 2))
    if weights is not None:
        deficit = deficit * weights.to(deficit.dtype)
    return deficit.mean() / SCALE


def _chroma(rgb: torch.Tensor) -> torch.Tensor:
    """RGB (B, 3, H, W) in [0, 1] -> Lab chroma (B, H, W), with a gradient at gray too."""
    ab = rgb_to_lab(rgb.float())[:, 1:]
    return (ab.square().sum(dim=1) + EPS).sqrt()


PALENESS_CHARGES = {"photo": colourfulness_deficit, "pixel": chroma_deficit}  # model.colourfulness_where
