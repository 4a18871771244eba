"""A hint model measured as Zhang et al. 2017 measured theirs: PSNR, MAE and the share of photos
beating the gray input's PSNR against the number of random hints from the original (0, 1, 2, 5,
10, 20, 50), and a "user" test closer to real use: hints at the centres of the largest regions
whose colour the automatic output got wrong, 1 to 5 of them, each the original's colour there.

Hints are placed at the working resolution, as a user's clicks are (colorgan.inference.hints); the
measures are on the full-resolution RGB output against the original (colorgan.metrics).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from pathlib import Path

import torch

from colorgan.color_space import ab_length
from colorgan.image_io import ImageReadError, Photo, read_photo
from colorgan.inference import LAB, Colorizer
from colorgan.inference.hint_edges import confine_hints, guide_lightness
from colorgan.inference.hints import HINT_PATCH
from colorgan.metrics import per_image_against_gray
from colorgan.models.simulated_user import SimulatedUser
from colorgan.nets.hint_unet import hint_map

RANDOM_COUNTS = (0, 1, 2, 5, 10, 20, 50)
USER_COUNTS = (1, 2, 3, 4, 5)
WRONG_AB = 0.15  # a pixel's colour is wrong when its ab is this far from the original's (x 110: ~16 Lab units)
REGION_CELL = 4  # wrong-colour regions are found on cells of this many working pixels a side


def wrong_regions(wrong: torch.Tensor) -> list[list[tuple[int, int]]]:
    """Connected (4-neighbour) regions of True cells of a (h, w) bool map, largest first."""
    seen = torch.zeros_like(wrong)
    height, width = wrong.shape
    regions = []
    for start in wrong.nonzero().tolist():
        if seen[start[0], start[1]]:
            continue
        region, queue = [], deque([tuple(start)])
        seen[start[0], start[1]] = True
        while queue:
            row, col = queue.popleft()
            region.append((row, col))
            for r, c in ((row + 1, col), (row - 1, col), (row, col + 1), (row, col - 1)):
                if 0 <= r < height and 0 <= c < width and wrong[r, c] and not seen[r, c]:
                    seen[r, c] = True
                    queue.append((r, c))
        regions.append(region)
    return sorted(regions, key=len, reverse=True)


def user_hints(predicted_ab: torch.Tensor, true_ab: torch.Tensor, count: int) -> torch.Tensor:
    """The "user" test's hint map (3, h, w): at the centre of each of the `count` largest regions
    whose predicted ab is WRONG_AB or more from the original's (the region's cell nearest its
    centroid, so the hint lies inside it), the original's mean ab over a HINT_PATCH square."""
    error = ab_length(predicted_ab - true_ab, dim=0)[None, None]  # (1, 1, h, w)
    cells = torch.nn.functional.avg_pool2d(error, REGION_CELL, ceil_mode=True)[0, 0] >= WRONG_AB
    ab, mask = torch.zeros_like(true_ab), torch.zeros_like(true_ab[:1])
    height, width = true_ab.shape[-2:]
    half = HINT_PATCH // 2
    for region in wrong_regions(cells)[:count]:
        centre = torch.tensor(region, dtype=torch.float32)
        row, col = region[int((centre - centre.mean(0)).norm(dim=1).argmin())]
        row = min(height - 1, row * REGION_CELL + REGION_CELL // 2)
        col = min(width - 1, col * REGION_CELL + REGION_CELL // 2)
        rows, cols = slice(max(0, row - half), row + half + 1), slice(max(0, col - half), col + half + 1)
        ab[:, rows, cols] = true_ab[:, rows, cols].mean(dim=(-2, -1), keepdim=True)
        mask[:, rows, cols] = 1.0
    return hint_map(ab[None], mask[None])[0]


def measure_photo(colorizer: Colorizer, photo: Photo, seed: int, random_counts: Sequence[int],
                  user_counts: Sequence[int], hint_edges: bool = False) -> dict[str, dict[str, float]]:
    """{"random N" / "user N": {mae, psnr, baseline_psnr, ...}} of one colour photo; random hints seeded by `seed`;
    `hint_edges`: the hints' colour stopped at the photo's edges (colorgan.inference.hint_edges).

    The user test's hints go where the automatic output (no hints) is wrong. The network runs once
    without hints and once per setting with them; the edge step reuses the first pass."""
    rgb, working = photo.rgb, colorizer.working_input(photo)
    true_ab = LAB.split(working[None])[1][0]
    user = SimulatedUser(patch_sizes=[HINT_PATCH])
    target, gray = rgb[None], LAB.gray_of(rgb[None])
    automatic = colorizer.predict_working([working])[0]
    guide = guide_lightness(colorizer, photo).to(automatic.device) if hint_edges else None
    rows = {}

    def score(name: str, hints: torch.Tensor | None) -> None:
        ab = automatic if hints is None else colorizer.predict_working([working], [hints])[0]
        if guide is not None and hints is not None:
            ab = confine_hints(ab, automatic, hints, guide)
        pred = colorizer.apply_ab(rgb, ab)[None]
        rows[name] = {k: float(v[0]) for k, v in per_image_against_gray(pred, gray, target).items()}

    for count in random_counts:
        generator = torch.Generator().manual_seed(seed * 1000 + count)
        score(f"random {count}", user(true_ab[None], counts=torch.tensor([count]), generator=generator)[0] if count else None)
    if "random 0" not in rows:
        score("random 0", None)
    for count in user_counts:
        score(f"user {count}", user_hints(automatic.cpu(), true_ab, count))
    return rows


def measure_folder(colorizer: Colorizer, photos: Sequence[Path], random_counts: Sequence[int] = RANDOM_COUNTS,
                   user_counts: Sequence[int] = USER_COUNTS,
                   hint_edges: bool = False) -> tuple[dict[str, dict[str, float]], list[str]]:
    """({setting: {photos, mae, psnr, baseline_mae, baseline_psnr, beats_gray}}, skipped photos):
    means over the colour photos of `photos`; beats_gray is the share (%) whose PSNR beats gray's."""
    colorizer.require_hint_model()
    per_setting: dict[str, list[dict[str, float]]] = {}
    skipped = []
    for i, path in enumerate(photos):
        try:
            photo = read_photo(path)
        except ImageReadError as err:
            skipped.append(f"{path}: {err}")
            continue
        if photo.is_gray:
            skipped.append(f"{path}: a grayscale file, no colour to compare with")
            continue
        for name, row in measure_photo(colorizer, photo, i, random_counts, user_counts, hint_edges).items():
            per_setting.setdefault(name, []).append(row)
    table = {}
    for name, rows in per_setting.items():
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("mae", "psnr", "baseline_mae", "baseline_psnr")}
        mean["beats_gray"] = 100.0 * sum(r["psnr"] > r["baseline_psnr"] for r in rows) / len(rows)
        table[name] = {"photos": len(rows), **mean}
    return table, skipped


def markdown_table(table: dict[str, dict[str, float]]) -> str:
    lines = ["| hints | photos | MAE (0-255) | PSNR (dB) | beats gray's PSNR | gray: MAE | gray: PSNR |",
             "|---|---|---|---|---|---|---|"]
    for name, row in table.items():
        lines.append(f"| {name} | {row['photos']} | {row['mae']:.2f} | {row['psnr']:.2f} | {row['beats_gray']:.1f}% | "
                     f"{row['baseline_mae']:.2f} | {row['baseline_psnr']:.2f} |")
    return "\n".join(lines)
