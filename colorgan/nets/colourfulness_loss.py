"""A loss that charges a prediction for being paler than the original (after DDColor's colourfulness
loss, which rewards colourfulness without bound; this one stops rewarding at the original's own).

L1 and the semantic loss both pull a colorizer towards gray where it is unsure (docs/photos.md,
Study 4); this term pulls the other way, per photo, and only as far as the truth goes:

    loss = colourfulness_deficit(pred_rgb, true_rgb)   # mean of max(0, M(true) - M(pred)) / 100
"""

from __future__ import annotations

import torch

SCALE = 100.0  # Hasler and Suesstrunk's M is about 0-100 on photos; DDColor divides by the same


def differentiable_colorfulness(rgb: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """colorgan.metrics.colorfulness with gradients everywhere (a gray photo's sigma is 0, where
    the square root's gradient is not finite): (B, 3, H, W) RGB in [0, 1] -> (B,)."""
    r, g, b = (rgb.float() * 255.0).flatten(2).unbind(dim=1)
    rg, yb = r - g, 0.5 * (r + g) - b
    sigma = (rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False) + eps).sqrt()
    mu = (rg.mean(dim=1).pow(2) + yb.mean(dim=1).pow(2) + eps).sqrt()
    return sigma + 0.3 * mu


def colourfulness_deficit(pred_rgb: torch.Tensor, true_rgb: torch.Tensor) -> torch.Tensor:
    """How much paler the prediction is than the original, per photo, averaged: mean over the batch
    of max(0, M(original) - M(prediction)) / 100. A prediction as colourful as its original, or
    more, costs nothing here (false colour is the colour loss's to charge)."""
    with torch.no_grad():
        target = differentiable_colorfulness(true_rgb)
    return (target - differentiable_colorfulness(pred_rgb)).clamp_min(0).mean() / SCALE
