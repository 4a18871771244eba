"""Clips as phones, cameras, screen recorders and archives make them, made here with PyAV (64x48, a
second or less): each is colorized by `python -m colorgan.colorize` with every frame at its own
presentation time, upright, with all its sound; what had to be normalised is said in a `note:`
line. Output times are compared exactly (as fractions of a second) with the input's."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from helpers.video import decoded, frame_times, photo_frames, probe, write_clip

from colorgan.colorize import main
from colorgan.video.streams import FrameClock, upright


def colorize(clip, tmp_path, capsys, *extra) -> tuple[object, str]:
    """Colorize `clip` into tmp_path/out: (the output path, stderr's note lines)."""
    assert main([str(clip), "-o", str(tmp_path / "out"), *extra]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    out = tmp_path / "out" / f"{clip.stem}.mp4"
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temporary file, no parts
    return out, "\n".join(notes)


def test_a_variable_frame_rate_clip_keeps_every_frames_time(tmp_path, capsys):
    # A phone's or screen recorder's clip: frames 3 ms to 233 ms apart (1/300 s ticks).
    times = [0, 10, 15, 40, 41, 42, 70, 100, 101, 130, 200, 210]
    clip = write_clip(tmp_path / "vfr.mp4", photo_frames(12, 64, 48), rate=30, times=times, time_base=Fraction(1, 300))
    assert frame_times(clip) == [Fraction(t, 300) for t in times]
    out, notes = colorize(clip, tmp_path, capsys)
    assert frame_times(out) == frame_times(clip) and notes == ""
    assert probe(out)["audio"] == pytest.approx(probe(clip)["audio"], abs=0.03)


def test_a_dropped_frame_leaves_its_gap(tmp_path, capsys):
    times = [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]  # 30 frames/s, frame 3 lost
    clip = write_clip(tmp_path / "drop.mp4", photo_frames(12, 64, 48), rate=30, times=times, time_base=Fraction(1, 30))
    out, notes = colorize(clip, tmp_path, capsys)
    assert frame_times(out) == [Fraction(t, 30) for t in times] and notes == ""


@pytest.mark.parametrize(("fmt", "suffix", "codec", "time_base", "rate"), [
    ("mp4", "mp4", "libx264", Fraction(1001, 30000), 30),  # NTSC's 29.97 frames/s as one tick a frame
    ("mp4", "mov", "libx264", Fraction(1, 7), 7),  # a coarse clock: 1/7 s a tick
    ("avi", "avi", "mpeg4", Fraction(1, 12), 12),  # AVI: frame numbers
    ("matroska", "mkv", "libx264", Fraction(1, 1000), 12),  # Matroska: milliseconds
    ("mpegts", "ts", "libx264", Fraction(1, 90000), 12),  # broadcast: 90 kHz
])
def test_odd_time_bases_keep_each_frames_time(tmp_path, capsys, fmt, suffix, codec, time_base, rate):
    step = round(1 / (rate * time_base))
    times = [i * step for i in range(6)] + [7 * step, 8 * step + 1, 11 * step]
    clip = write_clip(tmp_path / f"clip.{suffix}", photo_frames(9, 64, 48), rate=rate, fmt=fmt, codec=codec,
                      times=times, time_base=time_base)
    before = frame_times(clip)
    out, notes = colorize(clip, tmp_path, capsys)
    after = frame_times(out)
    assert len(after) == 9 and notes == ""
    assert [t - after[0] for t in after] == [t - before[0] for t in before]
    assert abs(after[0] - before[0]) < Fraction(1, 1000)  # the start kept (to the MP4 edit list's 1 ms)


def test_b_frames_are_decoded_in_order_and_kept(tmp_path, capsys):
    clip = write_clip(tmp_path / "b.mp4", 24)  # x264's default: B-frames
    with av.open(str(clip)) as container:
        assert any(p.pts != p.dts for p in container.demux(video=0) if p.dts is not None)
    out, _ = colorize(clip, tmp_path, capsys)
    assert frame_times(out) == frame_times(clip)


def test_a_late_starting_video_stays_late_and_keeps_its_sound(tmp_path, capsys):
    times = list(range(12, 24))  # the picture starts 1 s after the sound
    clip = write_clip(tmp_path / "late.mp4", photo_frames(12, 64, 48), times=times, time_base=Fraction(1, 12))
    out, notes = colorize(clip, tmp_path, capsys)
    assert frame_times(out) == [Fraction(t, 12) for t in times] and notes == ""
    assert probe(out)["audio"] == pytest.approx(probe(clip)["audio"], abs=0.03)


def test_several_audio_streams_are_all_kept_and_subtitles_are_said_to_be_left(tmp_path, capsys):
    clip = write_clip(tmp_path / "film.mkv", 12, fmt="matroska", audio_streams=2, subtitles=True)
    with av.open(str(clip)) as container:
        assert (len(container.streams.audio), len(container.streams.subtitles)) == (2, 1)
    out, notes = colorize(clip, tmp_path, capsys)
    assert probe(out)["audio_streams"] == 2 and probe(out)["frames"] == 12
    assert notes == "note: 1 subtitle stream(s) not carried over (MP4 output has the video and every audio stream)"


def mjpeg_clip(path, times: list[int]):
    """A Matroska clip of intra frames whose timestamps (ms) are written as given, even when they repeat."""
    with av.open(str(path), "w", format="matroska") as container:
        video = container.add_stream("mjpeg", rate=12)
        video.width, video.height, video.pix_fmt = 64, 48, "yuvj420p"
        for frame, time in zip(photo_frames(len(times), 64, 48), times, strict=True):
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuvj420p")):
                packet.pts = packet.dts = time
                packet.time_base = Fraction(1, 1000)
                container.mux(packet)
    return path


def test_a_duplicated_timestamp_is_moved_just_after_and_said(tmp_path, capsys):
    times = [0, 83, 166, 166, 333, 416]
    clip = mjpeg_clip(tmp_path / "dup.mkv", times)
    assert frame_times(clip) == [Fraction(t, 1000) for t in times]
    out, notes = colorize(clip, tmp_path, capsys)
    assert frame_times(out) == [Fraction(t, 1000) for t in (0, 83, 166, 167, 333, 416)]
    assert "1 frame(s) had a timestamp at or before the frame before's" in notes


def test_a_stream_without_timestamps_is_timed_at_its_frame_rate_and_said(tmp_path, capsys):
    clip = write_clip(tmp_path / "raw.h264", 12, fmt="h264", audio=None)  # H.264 as it leaves the encoder
    with av.open(str(clip)) as container:
        assert all(frame.pts is None for frame in container.decode(video=0))
    out, notes = colorize(clip, tmp_path, capsys)
    assert frame_times(out) == [Fraction(i, 25) for i in range(12)]  # FFmpeg's rate for raw H.264
    assert "12 frame(s) had no timestamp" in notes


def test_joined_recordings_whose_time_starts_again_follow_on(tmp_path, capsys):
    part = write_clip(tmp_path / "part.ts", 12, fmt="mpegts")
    clip = tmp_path / "joined.ts"
    clip.write_bytes(part.read_bytes() * 2)  # two recordings end to end, as `cat` joins them
    out, notes = colorize(clip, tmp_path, capsys)
    times = frame_times(out)
    assert len(times) == 24 and all(b - a == Fraction(1, 12) for a, b in zip(times, times[1:], strict=False))
    assert probe(out)["audio"] == pytest.approx(2.0, abs=0.1)
    assert "the timestamps jumped back 1 time(s)" in notes


def marked_frames(count: int) -> list[np.ndarray]:
    """Gray frames (64 wide, 48 high) with a white block in the top left corner."""
    frame = np.full((48, 64, 3), 90, np.uint8)
    frame[:16, :16] = 250
    return [frame] * count


@pytest.mark.parametrize(("rotation", "turn"), [(-90, -1), (90, 1), (180, 2), (-60, -1)])
def test_a_rotated_clip_comes_out_upright(tmp_path, capsys, rotation, turn):
    # A phone held upright writes landscape frames and a display matrix; players turn them.
    clip = write_clip(tmp_path / "phone.mp4", marked_frames(6), rotation=rotation)
    out, notes = colorize(clip, tmp_path, capsys)
    expected = np.rot90(marked_frames(1)[0], turn)  # np.rot90: k quarter turns counterclockwise
    frames = decoded(out)
    assert frames[0].shape == expected.shape
    gray = np.stack(frames).astype(float).mean(-1)
    assert np.abs(gray - expected.mean(-1)).mean() < 6  # the lightness is the input's, turned
    assert ("as its display matrix says players show it" in notes) != ("the nearest quarter turn to the 60" in notes)
    with av.open(str(out)) as container:  # the frames are turned; no matrix left to turn them again
        assert next(container.decode(video=0)).rotation == 0


def test_upright_follows_ffmpeg_for_flips():
    frame = np.arange(12, dtype=np.uint8).reshape(3, 4, 1).repeat(3, -1)
    one = 1 << 16
    mirror = np.array([-one, 0, 0, 0, one, 0, 0, 0, 1 << 30], np.int32)  # a selfie camera's mirror
    turned, note = upright(frame, mirror)
    assert (turned == frame[:, ::-1]).all() and note.startswith("mirrored left to right")
    upside = np.array([one, 0, 0, 0, -one, 0, 0, 0, 1 << 30], np.int32)
    turned, note = upright(frame, upside)
    assert (turned == frame[::-1]).all() and "flipped upside down" in note


def test_the_clock_keeps_times_and_places_the_rest():
    clock = FrameClock(Fraction(1, 90000), Fraction(25))
    assert clock.time_base == Fraction(1, 90000) and clock.step == 3600
    times = [clock(t) for t in (0, 3600, None, 10800, 10800, 10800, 20000, 100, 3700)]
    assert times == [0, 3600, 7200, 10800, 10801, 14401, 20000, 23600, 27200]
    assert (clock.missing, clock.moved, clock.jumps) == (1, 2, 1)
    coarse = FrameClock(Fraction(1, 7), Fraction(7))
    assert coarse.time_base == Fraction(1, 1001) and [coarse(t) for t in (0, 1, 2)] == [0, 143, 286]
