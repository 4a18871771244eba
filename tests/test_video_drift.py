"""Colour that holds over a shot: the drift measure (how far a frame's mean colour wanders from its
shot's) and the colour memory that holds a shot's tint; --compare on a video prints both beside
the gray input's metrics, and a black-and-white clip is not measured, as a grayscale photo is not."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers.video import decoded, photo_frames, write_clip

from colorgan.colorize import main
from colorgan.inference import Colorizer
from colorgan.video.flicker import Drift
from colorgan.video.pipeline import colorize_video
from colorgan.video.stabilize import ColourMemory, Stabilizer


def drift_of(frames) -> float:
    meter = Drift()
    meter.update(torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0)
    return meter.compute()


def test_drift_is_the_spread_of_a_shots_mean_colour_and_restarts_at_a_cut():
    still = photo_frames(12, 64, 48, pan=0)
    assert drift_of(still) < 0.05  # the same frame twelve times: no drift
    tinted = [np.clip(f.astype(float) * [1.0 + 0.02 * i, 1.0, 1.0 - 0.02 * i], 0, 255).astype(np.uint8)
              for i, f in enumerate(still)]
    assert drift_of(tinted) > 3  # the tint wanders from warm to warmer
    dark = [np.clip(f.astype(float) * 0.3, 0, 255).astype(np.uint8) for f in still]  # a cut: another shot
    cut = still[:6] + [np.clip(f.astype(float) * [1.2, 1.0, 0.8], 0, 255).astype(np.uint8) for f in dark[:6]]
    assert drift_of(cut) < 0.05  # two shots, each of one colour: no drift within either


def test_the_colour_memory_holds_a_shots_tint_and_keeps_its_local_colour():
    pattern = torch.randn(1, 2, 8, 8) * 10  # (1, 2, h, w) ab of one picture
    wander = torch.linspace(0, 12, 20).view(20, 1, 1, 1) * torch.tensor([1.0, -1.0]).view(1, 2, 1, 1)
    ab = pattern + wander  # the same picture, its tint drifting by 17 ab units over 20 frames
    lightness = torch.full((20, 1, 8, 8), 50.0)
    held = ColourMemory(0.96)(lightness, ab)
    spread = lambda x: float(x.mean(dim=(2, 3)).std(dim=0).norm())  # noqa: E731
    assert spread(held) < 0.5 * spread(ab)  # a steady wander is followed, a third as far
    assert torch.allclose(held - held.mean(dim=(2, 3), keepdim=True), ab - ab.mean(dim=(2, 3), keepdim=True), atol=1e-4)
    darker = torch.cat([lightness[:10], lightness[10:] - 40])  # a cut at frame 10: the memory starts again
    restarted = ColourMemory(0.96)(darker, ab)
    assert torch.allclose(restarted[10], ab[10])


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.pretrained(device="cpu")


def test_the_colour_memory_lowers_drift_on_a_still_shot(tmp_path, colorizer):
    # A still photo under exposure flicker and grain: its true colour holds; the model's tint wanders.
    clip = write_clip(tmp_path / "old.mp4", photo_frames(36, 96, 64, pan=0, grain=6.0, exposure=0.06, seed=2), audio=None)
    drift = {}
    for name, memory in (("off", None), ("held", ColourMemory(0.96))):
        out = tmp_path / f"{name}.mp4"
        colorize_video(colorizer, clip, out, batch_size=6, stabilizer=Stabilizer(), memory=memory)
        drift[name] = drift_of(decoded(out))
    assert drift["held"] < drift["off"], drift


def test_compare_prints_drift_and_flicker_beside_the_gray_inputs_metrics(tmp_path, capsys):
    clip = write_clip(tmp_path / "film.mp4", 12)
    assert main([str(clip), "-o", str(tmp_path / "out"), "--compare", "--hold-colour", "0.9"]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert {"mae", "psnr", "flicker", "drift"} <= set(metrics["model"]) and metrics["frames"] == 12
    assert {"mae", "psnr"} <= set(metrics["baseline"]) and metrics["baseline"]["mae"] > 0  # gray vs original
    assert {"flicker", "drift"} <= set(metrics["original"])
    out = capsys.readouterr().out
    assert "grayscale baseline" in out and "drift (RMS distance" in out and "gray input 0" in out


def test_compare_on_a_black_and_white_clip_is_not_measured(tmp_path, capsys):
    gray = [np.repeat(f.mean(-1, keepdims=True), 3, -1).astype(np.uint8) for f in photo_frames(8, 64, 48)]
    clip = write_clip(tmp_path / "old.mp4", gray)
    assert main([str(clip), "-o", str(tmp_path / "out"), "--compare"]) == 0
    captured = capsys.readouterr()
    assert f"not measured: {clip} (a black-and-white video: no colour to compare with)" in captured.err
    assert "metrics on" not in captured.out and "PSNR" not in captured.out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["old.mp4"]  # colorized, no metrics.json


def test_the_colour_memory_is_on_by_default_on_the_command_and_the_page(tmp_path, capsys, colorizer):
    """0.96 by default (docs/video.md, "The colour memory": measured on five colour clips); the page
    writes the command's default frames, and --hold-colour 0 turns it off."""
    from colorgan.video.page import colorize_clip

    clip = write_clip(tmp_path / "old.mp4", photo_frames(16, 96, 64, pan=0, grain=6.0, exposure=0.06, seed=3), audio=None)
    assert main([str(clip), "-o", str(tmp_path / "default")]) == 0
    assert "colour memory 0.96" in capsys.readouterr().err
    assert main([str(clip), "-o", str(tmp_path / "off"), "--hold-colour", "0"]) == 0
    assert "colour memory off" in capsys.readouterr().err
    (tmp_path / "page").mkdir()
    page, message = colorize_clip(colorizer, clip, tmp_path / "page")
    assert page is not None, message
    default, off = decoded(tmp_path / "default" / "old.mp4"), decoded(tmp_path / "off" / "old.mp4")
    assert np.array_equal(np.stack(decoded(page)), np.stack(default))
    assert not np.array_equal(np.stack(default), np.stack(off))
