"""Frame-stable colour: the predicted ab of each frame blended with the stabilized ab of the one
before, pixel by pixel, wherever the lightness has not moved.

    stabilized_t = keep * stabilized_(t-1) + (1 - keep) * predicted_t
    keep = strength * max(0, 1 - |dL| / motion)    (per pixel, at the network's working resolution)

dL is the change of lightness since the previous frame after each frame's mean lightness is taken
off, so the exposure flicker of old film does not count as motion, while a moving edge does and
takes its new colour at once. A frame whose mean |dL| is over `cut` starts a new shot: its colour
is its own. The blend runs on the small (B, 2, h, w) prediction before it is upsampled, so it costs
next to nothing; frames stream through one batch at a time, the previous frame carried over.

With `follow_motion`, the frame before (its lightness and its stabilized ab) is first carried along
the motion (OpenCV's optical flow, colorgan.video.motion), so a thing that moves keeps its colour
as it goes, where without it a moving edge takes the new frame's colour; pixels the motion newly
uncovers (the flows disagree, or their source is outside the frame) take the new colour.
"""

from __future__ import annotations

import torch

DEFAULT_HOLD = 0.96  # ColourMemory's weight of the past (about 25 frames); 0: off (docs/video.md, "The colour memory")
DARK_L = 10.0  # pixels darker than this show no colour: left out of a frame's mean colour
DEFAULT_STRENGTH = 0.8  # the weight of the past where nothing moves: an exponential average of about 9 frames
MOTION_L = 6.0  # L units (0-100) of change, exposure taken off, at which a pixel takes its new colour
CUT_L = 12.0  # mean |dL| over a frame that starts a new shot


class Stabilizer:
    """Temporal smoothing of predicted colour guided by lightness change (module docstring).

    Args:
        strength: in [0, 1); 0 leaves the predictions as they are.
        motion: L units of (exposure-corrected) change at which a pixel keeps nothing of the past.
        cut: mean |dL| at which a frame is taken as a new shot.
        follow_motion: carry the frame before along the optical flow first (needs OpenCV).
    """

    def __init__(self, strength: float = DEFAULT_STRENGTH, motion: float = MOTION_L, cut: float = CUT_L,
                 follow_motion: bool = False) -> None:
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"The stabilizer's strength must be in [0, 1), got {strength}.")
        if follow_motion:
            from colorgan.video.motion import opencv

            opencv()  # one line naming the extra, before any frame
        self.strength, self.motion, self.cut, self.follow_motion = strength, motion, cut, follow_motion
        self.lightness: torch.Tensor | None = None  # (1, h, w) of the previous frame, L in [0, 100]
        self.ab: torch.Tensor | None = None  # (2, h, w) its stabilized ab

    def __call__(self, lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """Lightness (B, 1, h, w) in L units and predicted ab (B, 2, h, w) of B consecutive frames
        -> their stabilized ab, same shape."""
        out = []
        for frame_l, frame_ab in zip(lightness, ab, strict=True):
            if self.lightness is None or self.lightness.shape != frame_l.shape or self.strength == 0.0:
                stable = frame_ab
            else:
                change = frame_l - self.lightness
                if change.abs().mean() > self.cut:  # a new shot
                    stable = frame_ab
                else:
                    before_l, before_ab, seen = self.carried(frame_l) if self.follow_motion else (self.lightness, self.ab, 1.0)
                    change = frame_l - before_l
                    motion = (change - change.mean()).abs()
                    keep = self.strength * (1.0 - motion / self.motion).clamp(min=0.0) * seen
                    stable = keep * before_ab + (1.0 - keep) * frame_ab
            self.lightness, self.ab = frame_l, stable
            out.append(stable)
        return torch.stack(out)

    def carried(self, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The frame before's lightness (1, h, w) and stabilized ab (2, h, w) moved onto this frame's
        pixels along the optical flow, and (1, h, w) 1 where that motion is seen both ways, else 0."""
        from colorgan.video.motion import trusted_flow, warp

        back, seen = trusted_flow(lightness[0], self.lightness[0])
        return warp(self.lightness, back), warp(self.ab, back), seen[None].to(lightness.dtype)

    def state(self) -> dict:
        """Its memory of the frame before (a resumed run goes on from it): CPU tensors or None."""
        return {"lightness": None if self.lightness is None else self.lightness.cpu(),
                "ab": None if self.ab is None else self.ab.cpu()}

    def load(self, state: dict) -> None:
        self.lightness, self.ab = state["lightness"], state["ab"]


class ColourMemory:
    """A shot's colour held over its frames: each frame's predicted ab is shifted so that its mean
    (over pixels with L >= DARK_L) is an exponential running mean of the shot's frames' means,

        held_t = weight * held_(t-1) + (1 - weight) * mean_ab(predicted_t),   ab_t += held_t - mean_ab(predicted_t)

    held starting at the first frame's mean at each new shot (mean |dL| over `cut`). Local colour
    (what differs within a frame) is the model's own; only the frame's overall tint is held, which
    stops the slow wandering of tint over a shot (drift) that the per-pixel stabilizer cannot see.

    Args:
        weight: in [0, 1); 0.96 holds a mean of about the last 25 frames (a second at 25 frames/s).
        cut: mean |dL| at which a frame starts a new shot.
    """

    def __init__(self, weight: float, cut: float = CUT_L) -> None:
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"The colour memory's weight must be in [0, 1), got {weight}.")
        self.weight, self.cut = weight, cut
        self.lightness: torch.Tensor | None = None  # (1, h, w) of the previous frame, L in [0, 100]
        self.held: torch.Tensor | None = None  # (2,) the shot's held mean ab

    def __call__(self, lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """Lightness (B, 1, h, w) in L units and ab (B, 2, h, w) of B consecutive frames -> ab held."""
        out = []
        for frame_l, frame_ab in zip(lightness, ab, strict=True):
            lit = (frame_l >= DARK_L).expand_as(frame_ab)
            mean = (frame_ab * lit).sum(dim=(1, 2)) / lit[0].sum().clamp(min=1)
            new_shot = (self.lightness is None or self.lightness.shape != frame_l.shape
                        or (frame_l - self.lightness).abs().mean() > self.cut)
            self.held = mean if new_shot else self.weight * self.held + (1.0 - self.weight) * mean
            self.lightness = frame_l
            out.append(frame_ab + (self.held - mean)[:, None, None])
        return torch.stack(out)

    def state(self) -> dict:
        return {"lightness": None if self.lightness is None else self.lightness.cpu(),
                "held": None if self.held is None else self.held.cpu()}

    def load(self, state: dict) -> None:
        self.lightness, self.held = state["lightness"], state["held"]


def colour_memory(weight: float = DEFAULT_HOLD) -> ColourMemory | None:
    """The colour memory at `weight`, or None when it is off (0): the command, the page and the
    video bench build it here, so they share one default and one rule for off."""
    return ColourMemory(weight) if weight > 0 else None
