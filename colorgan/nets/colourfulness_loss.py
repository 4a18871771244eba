"""A loss that charges a prediction for being paler than the original (after DDColor's colourfulness
loss, which rewards colourfulness without bound; this one stops rewarding at the original's own).

L1 and the semantic loss both pull a colorizer towards gray where it is unsure (docs/photos.md,
Study 4); this term pulls the other way, per photo, and only as far as the truth goes:

    loss = colourfulness_deficit(pred_rgb, true_rgb)   # mean of max(0, M(true) - M(pred)) / 100
"""

from __future__ import annotations

import torch

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
