"""Colour as classes (Zhang, Isola and Efros 2016, "Colorful Image Colorization"): the ab plane cut
into a grid of bins, soft-encoded targets, class rebalancing from a smoothed prior, and
annealed-mean decoding. Regression to the mean of several plausible colours gives brown-gray
(sepia); a distribution over colours keeps them apart, and decoding picks a vivid one.

Units: ab in ColorSpace("lab") scaling (unscaled ab / AB_SCALE), as every target and prediction of
colorgan; GRID and the sigmas below are in unscaled ab units, as in the paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from colorgan.color_space import AB_SCALE, lab_to_rgb

GRID = 10.0  # bin side in ab units (the paper's)
SOFT_NEIGHBOURS = 5  # a target pixel spreads over its 5 nearest bins ...
SOFT_SIGMA = 5.0  # ... with Gaussian weights of this sigma (ab units)
PRIOR_SIGMA = 5.0  # Gaussian smoothing of the empirical colour prior (ab units)
REBALANCE = 0.5  # lambda: weights from (1 - lambda) * prior + lambda * uniform


def gamut_bins(grid: float = GRID) -> torch.Tensor:
    """(Q, 2) centres of the grid cells of side `grid` centred on multiples of `grid` that hold
    at least one sRGB colour at some lightness, in ColorSpace("lab") scaling. 262 cells for the
    paper's grid of 10 (the paper counts 313 with its own gamut estimate). Deterministic: the cells
    are probed at 5x5 points each over 201 lightness levels."""
    half = int(AB_SCALE // grid)
    centres = torch.arange(-half, half + 1, dtype=torch.float64) * grid
    a, b = torch.meshgrid(centres, centres, indexing="ij")
    ab = torch.stack([a.flatten(), b.flatten()])  # (2, N)
    lightness = torch.linspace(0.0, 100.0, 201, dtype=torch.float64)
    offsets = torch.linspace(-grid / 2, grid / 2, 5, dtype=torch.float64)
    inside = torch.zeros(ab.shape[1], dtype=torch.bool)
    for da in offsets:
        for db in offsets:
            probe = ab + torch.stack([da, db]).view(2, 1)
            lab = torch.cat([lightness.view(1, -1, 1).expand(1, -1, probe.shape[1]),
                             probe.view(2, 1, -1).expand(2, len(lightness), -1)])
            rgb = lab_to_rgb(lab, clip=False)
            inside |= ((rgb >= 0.0) & (rgb <= 1.0)).all(dim=0).any(dim=0)
    return (ab[:, inside].T / AB_SCALE).float()


def _squared_distances(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """ab (..., 2) and bins (Q, 2), both scaled -> squared distances in ab units (..., Q), as
    |ab|^2 - 2 ab.bin + |bin|^2: one matrix product, bins along the last (contiguous) dimension."""
    d2 = ab.pow(2).sum(dim=-1, keepdim=True) - 2.0 * (ab @ bins.T) + bins.pow(2).sum(dim=-1)
    return d2.clamp_min(0.0) * AB_SCALE**2


def nearest_bin(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) ab -> (B, H, W) index of the nearest bin."""
    return _squared_distances(ab.permute(0, 2, 3, 1), bins).argmin(dim=-1)


def soft_encode_sparse(ab: torch.Tensor, bins: torch.Tensor, neighbours: int = SOFT_NEIGHBOURS,
                       sigma: float = SOFT_SIGMA) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 2, H, W) ab -> the target distribution as (index, weight), each (B, H, W, K): the K
    nearest bins, nearest first, with Gaussian weights of their distances summing to 1 per pixel."""
    d2 = _squared_distances(ab.permute(0, 2, 3, 1), bins)  # (B, H, W, Q)
    near, index = d2.topk(min(neighbours, bins.shape[0]), dim=-1, largest=False)
    return index, torch.softmax(-near / (2 * sigma**2), dim=-1)  # = normalised exp(-d^2 / 2 sigma^2)


def smoothed_prior(counts: torch.Tensor, bins: torch.Tensor, sigma: float = PRIOR_SIGMA) -> torch.Tensor:
    """Bin counts (Q,) -> the empirical colour distribution smoothed by a Gaussian of `sigma` in
    the ab plane (Q,), summing to 1."""
    p = counts.double() / counts.sum().clamp_min(1)
    d2 = (bins.double().unsqueeze(0) - bins.double().unsqueeze(1)).pow(2).sum(-1) * AB_SCALE**2  # (Q, Q)
    kernel = torch.exp(-d2 / (2 * sigma**2))
    smoothed = kernel @ p
    return (smoothed / smoothed.sum()).float()


def rebalancing_weights(prior: torch.Tensor, rebalance: float = REBALANCE) -> torch.Tensor:
    """Per-bin loss weights w proportional to 1 / ((1 - lambda) * prior + lambda / Q), scaled so that
    their expectation under the prior is 1: rare colours count more, the loss's scale stays."""
    q = prior.numel()
    w = 1.0 / ((1.0 - rebalance) * prior + rebalance / q)
    return w / (prior * w).sum()


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor, temperature: float) -> torch.Tensor:
    """(B, H, W, Q) logits -> (B, 2, H, W) ab: the mean of the distribution re-tempered by T,
    softmax(logits / T). T = 1 is the mean (sepia-prone), T -> 0 the mode (vivid, patchy); the
    paper's 0.38 sits between. T = 0 takes the mode exactly."""
    if temperature <= 0:
        probs = F.one_hot(logits.argmax(dim=-1), bins.shape[0]).to(logits.dtype)
    else:
        probs = torch.softmax(logits.float() / temperature, dim=-1)
    return (probs @ bins.to(probs.dtype)).permute(0, 3, 1, 2)
