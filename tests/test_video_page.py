"""The page's video section (colorgan.video.page): a short clip comes back in colour with its sound;
a clip over the page's stated limits, or not a video, gets one `error:` line and no output."""

from __future__ import annotations

from fractions import Fraction

import pytest
from helpers.video import frame_times, photo_frames, probe, write_clip

from colorgan.inference import Colorizer
from colorgan.video import page


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.pretrained(device="cpu")


def test_a_short_clip_comes_back_in_colour_with_its_sound(colorizer, tmp_path):
    clip = write_clip(tmp_path / "home movie.mp4", 12)
    output, line = page.colorize_clip(colorizer, clip, tmp_path)
    assert output == tmp_path / "home movie_colorized.mp4"
    after = probe(output)
    assert after["frames"] == 12 and after["audio"] == pytest.approx(1.0, abs=0.03)
    assert line.startswith("home movie.mp4: 12 frames")


def test_a_phones_portrait_clip_comes_back_upright(colorizer, tmp_path):
    clip = write_clip(tmp_path / "phone.mp4", 6, rotation=-90)  # stored 64x48, shown 48x64
    output, line = page.colorize_clip(colorizer, clip, tmp_path)
    assert probe(output)["size"] == (48, 64)
    assert "turned 90 degrees clockwise, as its display matrix says players show it" in line


def test_a_variable_frame_rate_clip_keeps_its_times_on_the_page(colorizer, tmp_path):
    times = [0, 10, 15, 40, 41, 42, 70, 100]
    clip = write_clip(tmp_path / "screen.mp4", photo_frames(8, 64, 48), rate=30, times=times, time_base=Fraction(1, 300))
    output, line = page.colorize_clip(colorizer, clip, tmp_path)
    assert frame_times(output) == [Fraction(t, 300) for t in times]
    assert line.startswith("screen.mp4: 8 frames")


def test_clips_over_the_stated_limits_are_refused_in_one_line(colorizer, tmp_path, monkeypatch):
    monkeypatch.setattr(page, "MAX_CLIP_SECONDS", 0.5)  # a 20-second clip would take the test a minute
    clip = write_clip(tmp_path / "long.mp4", 12)
    assert page.colorize_clip(colorizer, clip, tmp_path / "out") == (
        None, "error: long.mp4: 1.0 s long; the page takes clips of at most 20 s and 1280x720 (720p) a frame. "
        "Cut it, or colorize it with python -m colorgan.colorize, which takes any length")
    big = write_clip(tmp_path / "big.mp4", photo_frames(1, 1282, 722), audio=None)
    output, line = page.colorize_clip(colorizer, big, tmp_path / "out")
    assert (output, line) == (None, "error: big.mp4: 1282x722 frames are 925,604 pixels, over the limit of 921,600; "
                              "scale the video down first (the page takes at most 20 s and 1280x720 (720p) a frame)")
    text = tmp_path / "notes.mp4"
    text.write_text("not a film")
    output, line = page.colorize_clip(colorizer, text, tmp_path / "out")
    assert output is None and line.startswith("error: notes.mp4: not a video FFmpeg can read")
    assert not (tmp_path / "out").exists()


def test_the_page_has_its_video_section(colorizer, tmp_path):
    pytest.importorskip("gradio")
    from colorgan.app import build_page

    built = build_page(colorizer, tmp_path)
    ids = {getattr(block, "elem_id", None) for block in built.blocks.values()}
    assert {"clip", "colorize-clip", "clip-colour", "clip-messages"} <= ids
    assert any(page.LIMIT in str(getattr(block, "value", "")) for block in built.blocks.values())
