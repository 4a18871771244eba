"""Simulated users (Zhang et al. 2017, section 3.3): a hint model learns from hints taken from the
original photo. Per photo, a random number of points (none with probability `p_none`, else 1 plus
a geometric number with success probability `geometric_p`, at most `max_points`), each revealing
the mean ab of a `size` x `size` patch of the original at a random place (sizes drawn from
`patch_sizes`), laid on that patch of the hint map (colorgan.nets.hint_unet's layout).

    model.hints: {p_none: 0.4, geometric_p: 0.125, max_points: 50, patch_sizes: [1, 3, 5, 7, 9]}
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from colorgan.nets.hint_unet import hint_map


class SimulatedUser:
    """Hints from the original's ab: `user(ab)` with ab (B, 2, H, W) -> hint map (B, 3, H, W).

    Args:
        p_none: the share of photos given no hint at all (they keep the automatic colorizer trained).
        geometric_p: the success probability of the geometric tail: a photo with hints has
            1 + Geometric(p) of them, 1/p on average (Zhang 2017: p = 1/8).
        max_points: the most points a photo gets.
        patch_sizes: the sides, in pixels, a point's patch is drawn from (uniformly).
    """

    def __init__(self, p_none: float = 0.4, geometric_p: float = 0.125, max_points: int = 50,
                 patch_sizes: Sequence[int] = (1, 3, 5, 7, 9)) -> None:
        if not 0.0 <= p_none <= 1.0:
            raise ValueError(f"model.hints.p_none is a probability in [0, 1], got {p_none!r}.")
        if not 0.0 < geometric_p <= 1.0:
            raise ValueError(f"model.hints.geometric_p is a probability in (0, 1], got {geometric_p!r}.")
        if int(max_points) < 1:
            raise ValueError(f"model.hints.max_points must be at least 1, got {max_points!r}.")
        if not patch_sizes or any(int(s) < 1 for s in patch_sizes):
            raise ValueError(f"model.hints.patch_sizes are sides of at least 1 pixel, got {list(patch_sizes)}.")
        self.p_none, self.geometric_p, self.max_points = float(p_none), float(geometric_p), int(max_points)
        self.patch_sizes = [int(s) for s in patch_sizes]

    def point_counts(self, photos: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """How many points each of `photos` photos gets: (photos,) int64."""
        none = torch.rand(photos, generator=generator) < self.p_none
        uniform = torch.rand(photos, generator=generator).clamp_min(1e-12)
        tail = torch.floor(torch.log(uniform) / torch.log1p(torch.tensor(-self.geometric_p))) \
            if self.geometric_p < 1.0 else torch.zeros(photos)  # inverse CDF of Geometric(p) on {0, 1, ...}
        counts = (1 + tail).clamp(max=self.max_points).long()
        return torch.where(none, torch.zeros_like(counts), counts)

    def __call__(self, ab: torch.Tensor, counts: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """The hint map for originals ab (B, 2, H, W); `counts` (B,) fixes the points per photo
        (an evaluation's 0, 1, 2, 5, ... hints), else they are drawn."""
        batch, _, height, width = ab.shape
        counts = self.point_counts(batch, generator) if counts is None else counts
        hint_ab, mask = torch.zeros_like(ab), torch.zeros_like(ab[:, :1])
        for photo, count in enumerate(counts.tolist()):
            for _ in range(count):
                size = self.patch_sizes[int(torch.randint(len(self.patch_sizes), (1,), generator=generator))]
                size = min(size, height, width)
                top = int(torch.randint(height - size + 1, (1,), generator=generator))
                left = int(torch.randint(width - size + 1, (1,), generator=generator))
                patch = (photo, slice(None), slice(top, top + size), slice(left, left + size))
                hint_ab[patch] = ab[patch].mean(dim=(-2, -1), keepdim=True)
                mask[patch] = 1.0
        return hint_map(hint_ab, mask)
