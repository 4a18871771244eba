"""Animated GIF, PNG and WebP files colorized frame by frame into the same format
(colorgan.video.animation): frames, durations, loop and transparency kept, the lightness kept, the
colour stable over still frames; a broken animation is one line and nothing is written; the page
colorizes one too."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.video import photo_frames
from PIL import Image, ImageSequence

from colorgan.app import colorize_uploads
from colorgan.colorize import main
from colorgan.inference import Colorizer
from colorgan.inference.gamut import LAB
from colorgan.video.animation import colorize_frames, read_animation


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.pretrained(device="cpu")


def frames_of(path) -> tuple[list[np.ndarray], list[int], dict]:
    with Image.open(path) as image:
        frames, durations = [], []
        for frame in ImageSequence.Iterator(image):
            frames.append(np.asarray(frame.convert("RGBA")))
            durations.append(frame.info.get("duration"))  # known once the frame is decoded (WebP)
        return frames, durations, dict(image.info)


def lightness(rgba: np.ndarray) -> np.ndarray:
    rgb = torch.from_numpy(rgba[..., :3].copy()).permute(2, 0, 1)[None].float() / 255.0
    return ((LAB.split(rgb)[0] + 1.0) * 50.0)[0, 0].numpy()


def ab_of(rgba: np.ndarray) -> np.ndarray:
    """Lab ab (2, H, W) in Lab units of an 8-bit image."""
    rgb = torch.from_numpy(rgba[..., :3].copy()).permute(2, 0, 1)[None].float() / 255.0
    return (LAB.split(rgb)[1][0] * 110.0).numpy()


def chroma(rgba: np.ndarray) -> float:
    return float(np.linalg.norm(ab_of(rgba), axis=0).mean())


def test_an_animated_gif_becomes_a_colour_gif_with_its_timing_beside_a_still_photo(tmp_path, capsys):
    frames = [Image.fromarray(f) for f in photo_frames(5, 64, 48)]
    gray = [frame.convert("L") for frame in frames]
    gray[0].save(tmp_path / "dance.gif", save_all=True, append_images=gray[1:], duration=[80, 120, 80, 200, 80], loop=0)
    frames[0].save(tmp_path / "still.png")
    assert main([str(tmp_path / "dance.gif"), str(tmp_path / "still.png"), "-o", str(tmp_path / "out")]) == 0
    assert "2 colorized" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dance.gif", "still.png"]
    out, durations, info = frames_of(tmp_path / "out" / "dance.gif")
    source, _, _ = frames_of(tmp_path / "dance.gif")
    assert len(out) == 5 and durations == [80, 120, 80, 200, 80] and info.get("loop") == 0
    for colour, original in zip(out, source, strict=True):
        assert colour.shape == (48, 64, 4)
        assert chroma(colour) > 3.0  # coloured, not gray
        # the frame's own lightness (up to the GIF palette's rounding)
        assert np.abs(lightness(colour) - lightness(original)).mean() < 3.0


def test_an_animated_png_keeps_its_transparency_and_a_webp_stays_a_webp(tmp_path, capsys):
    frames = [Image.fromarray(f).convert("RGBA") for f in photo_frames(3, 64, 48, pan=3)]
    for frame in frames:
        frame.putalpha(Image.fromarray(np.where(np.arange(64)[None, :].repeat(48, 0) < 16, 0, 255).astype(np.uint8)))
    frames[0].save(tmp_path / "a.png", save_all=True, append_images=frames[1:], duration=[50, 60, 70], loop=2)
    frames[0].save(tmp_path / "b.webp", save_all=True, append_images=frames[1:], duration=[50, 60, 70], loop=0)
    assert main([str(tmp_path), "-o", str(tmp_path / "out")]) == 0
    out, durations, info = frames_of(tmp_path / "out" / "a.png")
    assert len(out) == 3 and durations == [50, 60, 70] and info.get("loop") == 2
    assert all((frame[:, :16, 3] == 0).all() and (frame[:, 16:, 3] == 255).all() for frame in out)
    webp, durations, _ = frames_of(tmp_path / "out" / "b.webp")
    assert len(webp) == 3 and durations == [50, 60, 70]
    with Image.open(tmp_path / "out" / "b.webp") as image:
        assert image.format == "WEBP" and image.is_animated


def test_still_frames_keep_one_colour_through_the_stabilizer(colorizer, tmp_path):
    """Grain makes each frame's prediction differ; the stabilizer holds the colour of still frames."""
    frames = [Image.fromarray(f) for f in photo_frames(8, 64, 48, pan=0, grain=6.0)]
    frames[0].save(tmp_path / "grain.gif", save_all=True, append_images=frames[1:], duration=100)
    animation = read_animation(tmp_path / "grain.gif")

    def frame_change(strength: float) -> float:
        """Mean change of colour (Lab ab) from frame to frame; the lightness's own grain left out."""
        out = [ab_of(np.asarray(f)) for f in colorize_frames(colorizer, animation, strength=strength)]
        return float(np.mean([np.abs(a - b).mean() for a, b in zip(out[3:-1], out[4:], strict=True)]))

    assert frame_change(0.8) < 0.8 * frame_change(0.0)


def test_a_broken_animation_is_one_line_and_nothing_is_written(tmp_path, capsys):
    frames = [Image.fromarray(f) for f in photo_frames(6, 64, 48)]
    frames[0].save(tmp_path / "whole.gif", save_all=True, append_images=frames[1:], duration=100)
    data = (tmp_path / "whole.gif").read_bytes()
    (tmp_path / "cut.gif").write_bytes(data[: len(data) * 2 // 3])
    assert main([str(tmp_path / "cut.gif"), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    lines = [line for line in err if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path / 'cut.gif'}: cannot read its frames")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_compare_leaves_an_animation_unmeasured_and_says_so(tmp_path, capsys):
    frames = [Image.fromarray(f) for f in photo_frames(3, 64, 48)]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=100)
    assert main([str(tmp_path / "clip.gif"), "-o", str(tmp_path / "out"), "--compare"]) == 0
    err = capsys.readouterr().err
    assert "not measured: " in err and "an animated image" in err
    assert (tmp_path / "out" / "clip.gif").exists()


def test_the_page_colorizes_an_animation_and_shows_its_gray_input_moving(colorizer, tmp_path):
    frames = [Image.fromarray(f) for f in photo_frames(4, 64, 48)]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    results, messages = colorize_uploads(colorizer, [tmp_path / "clip.gif"], None, tmp_path / "request")
    assert messages == [] and len(results) == 1
    with Image.open(results[0].colour) as colour, Image.open(results[0].gray) as gray:
        assert colour.format == "GIF" and colour.n_frames == 4
        assert gray.format == "PNG" and gray.n_frames == 4


def test_a_strip_of_frames_from_clips_of_one_shot_with_their_drift(tmp_path, capsys):
    from helpers.video import write_clip

    from colorgan.video.strip import main as strip

    gray = write_clip(tmp_path / "gray.mp4", [np.repeat(f.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
                                              for f in photo_frames(8, 64, 48)], audio=None)
    colour = write_clip(tmp_path / "colour.mp4", 8, audio=None)
    assert strip([str(gray), str(colour), "--frames", "0", "7", "--height", "24", "-o", str(tmp_path / "s.png")]) == 0
    out = capsys.readouterr().out
    with Image.open(tmp_path / "s.png") as figure:
        assert figure.size == (2 + 2 * (32 + 2), 2 + 2 * (24 + 2))  # two clips by two frames, 2 px apart
    lines = [line for line in out.splitlines() if "drift" in line]
    assert len(lines) == 2 and "gray.mp4: 8 frames, drift 0.00" in lines[0]
    assert float(lines[1].split("mean chroma at frames 0: ")[1].split(",")[0]) > 5  # the tinted clip has colour
    assert "flicker 0.000" in lines[0] and "warp error" in lines[1]  # the gray input: no colour to flicker
    short = write_clip(tmp_path / "short.mp4", 6, audio=None)
    assert strip([str(gray), str(short), "--frames", "0", "-o", str(tmp_path / "u.png")]) == 2
    assert "has 6 frames" in capsys.readouterr().err and not (tmp_path / "u.png").exists()
    assert strip([str(gray), "--frames", "9", "-o", str(tmp_path / "t.png")]) == 2
    assert "has 8 frames: no frame 9" in capsys.readouterr().err


def test_a_gray_animation_that_cannot_be_written_is_named_as_itself(colorizer, tmp_path):
    """The page writes an animation's gray input beside its colour one: a failure there names the
    gray file, not the colour output (nor a temporary file)."""
    from colorgan.video.animation import colorize_animation

    frames = [Image.fromarray(f) for f in photo_frames(3, 32, 24)]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=100)
    (tmp_path / "gray.png").mkdir()  # a folder where the gray file should go
    with pytest.raises(OSError) as caught:
        colorize_animation(colorizer, tmp_path / "clip.gif", tmp_path / "colour.gif", "GIF", gray=tmp_path / "gray.png")
    assert caught.value.filename == str(tmp_path / "gray.png")
    assert (tmp_path / "colour.gif").exists()
