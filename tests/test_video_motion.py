"""Colour carried along the motion (colorgan/video/motion.py): the optical flow and warp put one
frame onto the next, the warp error measures colour that does not follow what moves, and the
stabilizer following motion holds a moving thing's colour where the plain one lets it flicker."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers.video import write_clip

from colorgan.colorize import main
from colorgan.video.flicker import WarpError
from colorgan.video.motion import backward_flow, visible, warp
from colorgan.video.stabilize import Stabilizer

pytest.importorskip("cv2")


def texture(height: int, width: int, seed: int = 0, cell: int = 4) -> torch.Tensor:
    """A smooth random texture (h, w), L in about [20, 80], of cells about `cell` px: something a flow can follow."""
    noise = torch.rand(1, 1, height // cell, width // cell, generator=torch.Generator().manual_seed(seed))
    smooth = torch.nn.functional.interpolate(noise, size=(height, width), mode="bicubic", align_corners=False)
    return (20.0 + 60.0 * smooth[0, 0]).clamp(0, 100)


def test_the_flow_carries_a_frame_onto_the_next_and_finds_what_the_motion_uncovers():
    before = texture(64, 96)
    now = torch.roll(before, shifts=3, dims=1)  # everything moved 3 px to the right
    flow = backward_flow(now, before)
    inner = (slice(8, -8), slice(12, -8))
    assert flow[0][inner].mean().item() == pytest.approx(-3.0, abs=0.3)  # each pixel came from 3 px to its left
    assert flow[1][inner].abs().mean().item() < 0.3
    carried = warp(before[None], flow)[0]
    assert (carried - now)[inner].abs().mean() < 0.1 * (before - now)[inner].abs().mean()
    seen = visible(flow, backward_flow(before, now))
    assert seen[inner].float().mean() > 0.95
    assert seen[:, :2].float().mean() < 0.5  # the left edge shows what was outside the frame


def moving_square(frames: int, step: int = 3) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Lightness (1, 96, 128) of a textured 48 px square moving `step` px a frame over a textured
    ground, and the true ab (2, 96, 128): the square red with a pattern of its own that moves with
    it, the ground gray-blue."""
    ground, square = texture(96, 128, seed=1), texture(48, 48, seed=2)
    pattern = torch.stack([texture(48, 48, seed=3), texture(48, 48, seed=4)]) - 50.0  # +-30 ab units
    lights, abs_ = [], []
    for i in range(frames):
        x = 8 + step * i
        light, ab = ground.clone(), torch.zeros(2, 96, 128)
        ab[1] = -10.0
        light[24:72, x:x + 48] = square
        ab[:, 24:72, x:x + 48] = torch.tensor([40.0, 25.0])[:, None, None] + pattern
        lights.append(light[None])
        abs_.append(ab)
    return lights, abs_


def test_the_warp_error_is_low_for_colour_that_moves_with_its_thing_and_high_for_colour_left_behind():
    lights, truth = moving_square(8)
    # the square's colour pattern painted where the square was at first, the square moving on under it
    left_behind = [truth[0]] * len(truth)

    def rgb(light, ab):
        from colorgan.color_space import lab_to_rgb

        return lab_to_rgb(torch.cat([light, ab])[None]).clamp(0, 1)

    measure = WarpError(("follows", "behind"))
    for light, ab, old in zip(lights, truth, left_behind, strict=True):
        reference = rgb(light, ab)
        measure.update(reference, {"follows": reference, "behind": rgb(light, old)})
    error = measure.compute()
    assert error["follows"] < 1.5  # the flow's own error, near the square's edges
    assert error["behind"] > 3 * error["follows"]


def square_colour_error(follow: bool) -> float:
    """Mean |ab - truth| on the moving square's inside over frames 4-11, the model's colour jumping
    8 ab units a frame (flicker), stabilized with or without following the motion."""
    lights, truth = moving_square(12)
    noise = torch.Generator().manual_seed(0)
    stabilizer = Stabilizer(0.8, follow_motion=follow)
    errors = []
    for i, (light, ab) in enumerate(zip(lights, truth, strict=True)):
        stable = stabilizer(light[None], (ab + 8.0 * torch.randn(2, 1, 1, generator=noise))[None])[0]
        if i >= 4:
            x = 8 + 3 * i
            errors.append(float((stable - ab)[:, 32:64, x + 8:x + 40].norm(dim=0).mean()))
    return sum(errors) / len(errors)


def test_following_motion_holds_a_moving_things_colour_through_flicker():
    # the plain stabilizer sees the square's texture move and lets each frame's colour through
    plain, following = square_colour_error(False), square_colour_error(True)
    assert following < 0.7 * plain, (following, plain)


def test_compare_measures_the_warp_error_and_follow_motion_needs_the_stabilizer(tmp_path, capsys):
    clip = write_clip(tmp_path / "film.mp4", 10)
    assert main([str(clip), "-o", str(tmp_path / "out"), "--compare", "--follow-motion"]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["model"]["warp_error"] > 0 and metrics["baseline"]["warp_error"] == 0
    assert np.isfinite(metrics["original"]["warp_error"])
    out = capsys.readouterr()
    assert "warp error (mean |d(a,b)|" in out.out and "following motion" in out.err
    assert main([str(clip), "-o", str(tmp_path / "off"), "--follow-motion", "--stabilize", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--stabilize > 0" in err[0] and not (tmp_path / "off" / "film.mp4").exists()
