"""Flicker: how much colour changes from frame to frame where the picture stands still; drift: how
far a shot's mean colour wanders over its frames (Drift); warp error: how much it changes along the
motion, where things move too (WarpError, needs OpenCV).

    flicker = mean over consecutive frames and over their still pixels of |d(a, b)|
    still: |dL| < STILL_L and L >= DARK_L in both frames (near black, colour is not seen)

in Lab units (|d(a, b)| the Euclidean length of the change of a and b). A colour original's own
flicker (noise, grain, compression) is the floor a colorized copy is compared with. Frames are
measured at MEASURE_SIDE px on their longer side (area-averaged), which also keeps codec noise
and grain from counting as motion.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F

from colorgan.color_space import ab_length, rgb_to_lab
from colorgan.video.stabilize import CUT_L, DARK_L  # near black, colour is not seen: not counted

STILL_L = 2.0  # L units (0-100): a pixel whose lightness moved less than this is "still"
GRAY_CHROMA = 1.0  # a video whose frames' mean chroma (Lab) stays under this has no colour to compare with
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
        change = ab_length(frames[1:, 1:] - frames[:-1, 1:], dim=1, keepdim=True)
        self.total += float(change[still].sum())
        self.pixels += int(still.sum())
        self.previous = lab[-1]

    def compute(self) -> float:
        """Mean |d(a, b)| over still pixels; NaN when no pixel stood still (or one frame only)."""
        return self.total / self.pixels if self.pixels else math.nan


class Drift:
    """Streaming colour drift of one video: how far each frame's mean colour wanders from its shot's.

        drift = sqrt(mean over frames of |mean_ab(frame) - mean_ab(its shot)|^2)

    mean_ab over the frame's pixels with L >= DARK_L; a new shot starts where the mean |dL| between
    two frames is over CUT_L (the stabilizer's cut). Where the true colour holds still over a shot,
    the original's drift is near 0 and a colorized copy's is the model changing its mind slowly,
    which flicker (frame to frame, pixel by pixel) does not see."""

    def __init__(self) -> None:
        self.previous_l: torch.Tensor | None = None
        self.shot: list[torch.Tensor] = []  # the current shot's mean ab per frame, (2,) each
        self.squares, self.frames = 0.0, 0

    def update(self, rgb: torch.Tensor) -> None:
        """RGB (B, 3, h, w) in [0, 1], the frames that follow those seen before, in order."""
        for lab in rgb_to_lab(rgb.float()):
            lightness = lab[0]
            if self.previous_l is not None and (lightness - self.previous_l).abs().mean() > CUT_L:
                self.end_shot()
            self.previous_l = lightness
            lit = lightness >= DARK_L
            if lit.any():
                self.shot.append(lab[1:, lit].mean(dim=1))

    def end_shot(self) -> None:
        if len(self.shot) > 1:
            means = torch.stack(self.shot)
            self.squares += float((means - means.mean(dim=0)).pow(2).sum())
            self.frames += len(self.shot)
        self.shot = []

    def compute(self) -> float:
        """Drift in Lab units; NaN when no shot had two lit frames."""
        self.end_shot()
        return math.sqrt(self.squares / self.frames) if self.frames else math.nan


class WarpError:
    """Streaming warp error (Lai et al. 2018's, on colour): the mean |d(a, b)| between each frame and
    the frame before carried along the motion (colorgan.video.motion), over the pixels the motion
    leaves visible and lit in both; pairs across a cut (mean |dL| over CUT_L) are skipped. Flicker
    counts only pixels that stand still; this counts moving ones too, which a colour that fails to
    follow a moving thing shows. The motion is the flow of one reference's lightness (the original),
    shared by every copy measured, so all are measured on the same pixels. Lab units."""

    def __init__(self, names: Iterable[str]) -> None:
        from colorgan.video.motion import opencv

        opencv()  # one line naming the extra, before any frame
        self.totals = dict.fromkeys(names, 0.0)
        self.previous: dict[str, torch.Tensor] | None = None  # Lab (3, h, w) of each copy's last frame
        self.previous_l: torch.Tensor | None = None  # the reference's L (h, w)
        self.pixels = 0

    def update(self, reference: torch.Tensor, copies: dict[str, torch.Tensor]) -> None:
        """RGB (B, 3, h, w) in [0, 1] of the reference and of each copy (named as at construction):
        the frames that follow those seen before, in order."""
        from colorgan.video.motion import trusted_flow, warp

        reference_l = rgb_to_lab(reference.float())[:, 0]
        labs = {name: rgb_to_lab(rgb.float()) for name, rgb in copies.items()}
        for i, now_l in enumerate(reference_l):
            before_l = self.previous_l
            if before_l is not None and before_l.shape == now_l.shape and (now_l - before_l).abs().mean() <= CUT_L:
                back, seen = trusted_flow(now_l, before_l)
                seen &= (now_l >= DARK_L) & (warp(before_l[None], back)[0] >= DARK_L)
                for name, lab in labs.items():
                    carried = warp(self.previous[name][1:], back)
                    self.totals[name] += float(ab_length(lab[i, 1:] - carried, dim=0)[seen].sum())
                self.pixels += int(seen.sum())
            self.previous_l = now_l
            self.previous = {name: lab[i] for name, lab in labs.items()}

    def compute(self) -> dict[str, float]:
        """{name: mean |d(a, b)| over the visible lit pixels}; NaN each when none (one frame only)."""
        return {name: total / self.pixels if self.pixels else math.nan for name, total in self.totals.items()}


def warp_error_if_possible(names: Iterable[str]) -> WarpError | None:
    """A WarpError over `names`, or None without OpenCV (an extra): the other measures go on without it."""
    try:
        return WarpError(names)
    except ImportError:
        return None
