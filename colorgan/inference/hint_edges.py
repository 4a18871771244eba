"""Hints whose colour stops at edges. A hint model spreads a hint's colour over what it learned is
the region around it, at its small working size (96 px), and the colour then leaks across edges it
could not see (an orange hint on a roof glowing into the sky, a red brim tinting the face). Here the
change the hints make (with hints minus without) is kept where the photo's lightness joins the point
to the hint and faded where the only way there crosses edges: a geodesic distance on a sharper
copy of the photo's lightness (the guide), as Criminisi et al. 2010's geodesic image segmentation
and the edge-aware propagation of Levin et al. 2004 do.

    ab = confine_hints(ab_hints, ab_none, hint_map, guide_lightness)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from colorgan.inference.gamut import LAB

GUIDE_SCALE = 4  # the guide is this many times the working size (capped at the photo's own)
EDGE_FADE = 10.0  # L units of edge crossed that fade a hint's change to 1/e
SHADING = 1.5  # L units per guide pixel a step may change without counting as an edge (shading, gradients)
SPAN_COST = 3.0  # L-unit cost of crossing the whole photo without an edge: far points fade a little too
ITERATIONS = 4  # rounds of the four scans; each lets paths turn one more corner
FAR = 1e6


def scan(distance: torch.Tensor, step: torch.Tensor, dim: int) -> torch.Tensor:
    """One pass of d[i] = min(d[i], d[i-1] + step[i-1]) along `dim`, all of it at once: with C the
    cumulative step cost, d[i] = C[i] + min over j <= i of (d[j] - C[j])."""
    start = torch.zeros_like(step.narrow(dim, 0, 1))
    cumulative = torch.cat([start, step], dim=dim).cumsum(dim)
    return cumulative + (distance - cumulative).cummin(dim).values


def geodesic_distance(seeds: torch.Tensor, lightness: torch.Tensor, iterations: int = ITERATIONS) -> torch.Tensor:
    """(h, w) bool seeds and (h, w) L in [0, 100] -> (h, w) the cheapest path's cost from any seed,
    moving between 4-neighbours; a step costs its lightness change beyond SHADING plus a share of
    SPAN_COST."""
    span = SPAN_COST / max(lightness.shape)
    across = (lightness.diff(dim=1).abs() - SHADING).clamp_min(0) + span  # (h, w - 1)
    down = (lightness.diff(dim=0).abs() - SHADING).clamp_min(0) + span  # (h - 1, w)
    distance = torch.where(seeds, 0.0, FAR)
    for _ in range(iterations):
        for step, dim in ((across, 1), (down, 0)):
            distance = scan(distance, step, dim)
            distance = scan(distance.flip(dim), step.flip(dim), dim).flip(dim)
    return distance


def hint_seeds(mask: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """A hint map's mask (h, w) at the working size -> (H, W) bool at the guide's: the middle of
    each hinted patch (a whole 3-pixel working patch could straddle the very edge to keep)."""
    big = F.interpolate(mask[None, None].float(), size=shape, mode="nearest")
    scale = max(1, round(shape[0] / mask.shape[0]))
    kernel = 2 * scale + 1 if scale > 1 else 1
    middle = -F.max_pool2d(-big, kernel, stride=1, padding=kernel // 2) if kernel > 1 else big
    seeds = middle[0, 0] > 0.5
    return seeds if seeds.any() else big[0, 0] > 0.5  # a patch smaller than the kernel: keep all of it


def confine_hints(ab_hints: torch.Tensor, ab_none: torch.Tensor, hints: torch.Tensor,
                  guide_lightness: torch.Tensor) -> torch.Tensor:
    """The ab (2, H, W) at the guide's shape: the automatic colour plus the hints' change, faded
    by exp(-edges crossed / EDGE_FADE) on the way from the nearest hint.

    ab_hints, ab_none: (2, h, w) the model's ab with and without the hints, at the working shape;
    hints: their hint map (3, h, w) (its third channel the mask); guide_lightness: (H, W) L in [0, 100].
    """
    shape = tuple(guide_lightness.shape)

    def up(ab: torch.Tensor) -> torch.Tensor:
        return F.interpolate(ab[None].float(), size=shape, mode="bilinear", align_corners=False)[0]

    mask = hints[2].to(guide_lightness.device)
    if not bool(mask.any()):
        return up(ab_hints)
    smooth = F.avg_pool2d(guide_lightness[None, None].float(), 3, stride=1, padding=1, count_include_pad=False)[0, 0]
    weight = torch.exp(-geodesic_distance(hint_seeds(mask, shape), smooth) / EDGE_FADE)
    automatic = up(ab_none)
    return automatic + weight * (up(ab_hints) - automatic)


def guide_lightness(colorizer, photo) -> torch.Tensor:
    """The photo's L (H, W) in [0, 100] at GUIDE_SCALE times the colorizer's working size (at most
    the photo's own size): sharp enough to hold a hat's brim apart from the face under it."""
    side = min(colorizer.size * GUIDE_SCALE, max(photo.size))
    rgb = colorizer.at_size(side).working_input(photo)
    return (LAB.split(rgb[None].float())[0][0, 0] + 1.0) * 50.0


@torch.no_grad()
def predict_hinted(colorizer, photos, working: list[torch.Tensor], hint_maps: list[torch.Tensor | None],
                   edges: bool) -> list[torch.Tensor]:
    """The colorizer's ab for each photo (its working input and hint map, None for none): with
    `edges`, a hinted photo's ab at its guide's shape, its hints' change confined by edges (one
    more pass of the network, without the hints); otherwise predict_working's."""
    hinted = [i for i, h in enumerate(hint_maps) if h is not None]
    if not hinted or not edges:
        return colorizer.predict_working(working, hint_maps)
    ab = colorizer.predict_working(list(working) + [working[i] for i in hinted], list(hint_maps) + [None] * len(hinted))
    out = ab[: len(working)]
    for k, i in enumerate(hinted):
        guide = guide_lightness(colorizer, photos[i]).to(ab[i].device)
        out[i] = confine_hints(ab[i], ab[len(working) + k], hint_maps[i], guide)
    return out
