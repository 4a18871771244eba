"""`python -m colorgan.colorize film.mp4 -o out/` on clips these tests make (64x48, a second or two,
with sound): frames, rate, size and audio kept; a video recognised by its content; the stabilizer
lowers flicker where the true colour is constant; each bad input is one line and exit 2, Ctrl-C
is 130, and nothing is ever left half-written at the output path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from helpers.configs import REPO
from helpers.video import decoded, photo_frames, probe, write_clip
from PIL import Image

from colorgan.colorize import main
from colorgan.inference import Colorizer
from colorgan.video.flicker import Flicker
from colorgan.video.pipeline import colorize_video
from colorgan.video.stabilize import Stabilizer


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.pretrained(device="cpu")


def left_in(folder) -> list[str]:
    """Every file in `folder`, hidden temporary files included."""
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_a_clip_keeps_its_frames_rate_size_and_sound(tmp_path, capsys):
    clip = write_clip(tmp_path / "film.mp4", 24, rate=12)
    assert main([str(clip), "-o", str(tmp_path / "out")]) == 0
    before, after = probe(clip), probe(tmp_path / "out" / "film.mp4")
    assert after["frames"] == before["frames"] == 24
    assert after["rate"] == before["rate"] == Fraction(12)
    assert after["size"] == before["size"] == (64, 48)
    assert after["duration"] == pytest.approx(before["duration"]) == pytest.approx(2.0)
    assert after["audio"] == pytest.approx(before["audio"], abs=0.03)  # AAC frames are 21 ms
    assert after["audio_codec"] == "aac"
    assert left_in(tmp_path / "out") == ["film.mp4"]
    assert "1 colorized into" in capsys.readouterr().out
    frames = np.stack(decoded(tmp_path / "out" / "film.mp4")).astype(np.int16)
    assert np.abs(frames[..., 0] - frames[..., 2]).mean() > 1  # colour, not gray


def test_a_video_is_recognised_by_its_content_and_pcm_sound_becomes_aac(tmp_path):
    clip = write_clip(tmp_path / "film.avi", 12, audio="pcm_s16le", fmt="avi", codec="mpeg4")
    clip = clip.rename(tmp_path / "film")  # no suffix at all
    assert main([str(clip), "-o", str(tmp_path / "out"), "--stabilize", "0"]) == 0
    after = probe(tmp_path / "out" / "film.mp4")
    assert after["frames"] == 12 and after["audio_codec"] == "aac"
    assert after["audio"] == pytest.approx(1.0, abs=0.05)


def test_odd_sizes_and_silent_clips_are_kept(tmp_path):
    clip = write_clip(tmp_path / "odd.mp4", photo_frames(6, 65, 49), audio=None)
    assert main([str(clip), "-o", str(tmp_path / "out")]) == 0
    after = probe(tmp_path / "out" / "odd.mp4")
    assert after["size"] == (65, 49) and after["frames"] == 6 and after["audio"] is None


def test_the_lightness_table_gives_rgb_to_labs_lightness():
    from colorgan.inference import LAB
    from colorgan.video.pipeline import lightness_of

    levels = torch.arange(256, dtype=torch.uint8)
    frame = torch.stack(torch.meshgrid(levels, levels, indexing="ij") + (levels.flip(0)[:, None].expand(256, 256),), -1)
    expected = (LAB.split(frame.permute(2, 0, 1)[None].float() / 255.0)[0] + 1.0) * 50.0
    assert torch.allclose(lightness_of(frame), expected, atol=1e-3)


def flicker_of(frames: list[np.ndarray]) -> float:
    meter = Flicker()
    meter.update(torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0)
    return meter.compute()


def test_the_stabilizer_lowers_flicker_where_the_true_colour_is_constant(tmp_path, colorizer):
    # A still photo with a constant tint, under film grain and exposure flicker: its true colour never changes.
    frames = photo_frames(24, 96, 64, pan=0, grain=6.0, exposure=0.04, seed=1)
    clip = write_clip(tmp_path / "old.mp4", frames, audio=None)
    flicker = {}
    for name, stabilizer in (("raw", None), ("stable", Stabilizer())):
        out = tmp_path / f"{name}.mp4"
        colorize_video(colorizer, clip, out, batch_size=5, stabilizer=stabilizer)
        flicker[name] = flicker_of(decoded(out))
    assert flicker["stable"] < flicker["raw"]


def test_compare_on_a_video_reports_flicker_beside_the_photo_metrics(tmp_path, capsys):
    clip = write_clip(tmp_path / "film.mp4", 12)
    assert main([str(clip), "-o", str(tmp_path / "out"), "--compare"]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["frames"] == 12
    assert {"mae", "colorfulness", "flicker"} <= set(metrics["model"])
    assert metrics["original"]["flicker"] >= 0
    assert "flicker" in capsys.readouterr().out


def test_the_readme_commands_as_a_user_runs_them(tmp_path):
    write_clip(tmp_path / "film.mp4", 12)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    for extra in ([], ["--compare", "--stabilize", "0"]):
        (tmp_path / "colorized" / "film.mp4").unlink(missing_ok=True)  # else kept: no --overwrite
        done = subprocess.run([sys.executable, "-m", "colorgan.colorize", "film.mp4", "-o", "colorized/", *extra],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "1 colorized into colorized" in done.stdout
        assert "frames/s" in done.stderr  # the progress bar's rate
    assert probe(tmp_path / "colorized" / "film.mp4")["frames"] == 12
    assert "flicker" in json.loads((tmp_path / "colorized" / "metrics.json").read_text())["model"]


def test_a_video_among_several_inputs_is_one_line_saying_to_give_it_alone(tmp_path, capsys):
    clip = write_clip(tmp_path / "film.mp4", 6)
    (tmp_path / "photos").mkdir()
    assert main([str(tmp_path / "photos"), str(clip), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {clip} is a video, given with other inputs: a video is colorized alone")
    assert len(err.splitlines()) == 1


def test_a_video_first_with_one_photo_is_not_taken_for_a_checkpoint(tmp_path, capsys):
    clip = write_clip(tmp_path / "film.mp4", 6)
    photo = tmp_path / "photo.png"
    Image.fromarray(photo_frames(1, 64, 48)[0]).save(photo)
    assert main([str(clip), str(photo), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {clip} is a video, given with other inputs") and len(err.splitlines()) == 1


def test_an_existing_output_is_kept_unless_overwrite(tmp_path, capsys):
    clip = write_clip(tmp_path / "film.mp4", 6)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "film.mp4").write_bytes(b"mine")
    assert main([str(clip), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "film.mp4").read_bytes() == b"mine"
    assert "--overwrite replaces" in capsys.readouterr().out
    assert main([str(clip), "-o", str(tmp_path / "out"), "--overwrite"]) == 0
    assert probe(tmp_path / "out" / "film.mp4")["frames"] == 6


def zero_length(path):
    with av.open(str(path), "w") as container:  # a header, a video track, no frame
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    return path


def eight_k(path):
    frame = np.zeros((4320, 7680, 3), np.uint8)
    return write_clip(path, [frame], audio=None, codec="mpeg4")


def audio_only(path):
    with av.open(str(path), "w", format="mp4") as container:
        sound = container.add_stream("aac", rate=48000)
        tone = np.zeros((1, 48000), np.float32)
        frame = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
        frame.sample_rate = 48000
        container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    return path


def truncated(path):
    write_clip(path, 24)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def text_file(path):
    path.write_text("these are my notes, not a film\n" * 20)
    return path


BAD = {
    "text.mp4": (text_file, "not a video FFmpeg can read"),
    "truncated.mp4": (truncated, "truncated"),
    "audio.mp4": (audio_only, "audio only"),
    "empty.mp4": (lambda p: p.write_bytes(b"") or p, "empty file"),
    "zero.mp4": (zero_length, "zero-length"),
    "zero.mkv": (zero_length, "zero-length"),
    "8k.mp4": (eight_k, "over the limit of 8,294,400"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_input_is_one_line_and_exit_2_and_leaves_nothing(tmp_path, capsys, name):
    make, expected = BAD[name]
    clip = make(tmp_path / name)
    assert main([str(clip), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and expected in err and len(err.splitlines()) == 1, err
    assert left_in(tmp_path / "out") == []


def test_a_truncated_file_whose_index_comes_first_fails_after_decoding_and_leaves_nothing(tmp_path, capsys):
    clip = tmp_path / "cut.mp4"
    with av.open(str(clip), "w", options={"movflags": "faststart"}) as container:  # the index before the frames
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for frame in photo_frames(96, 64, 48):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    clip.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    assert main([str(clip), "-o", str(tmp_path / "out")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "truncated: its header says 96 frames, only" in errors[0]
    assert left_in(tmp_path / "out") == []


def test_ctrl_c_exits_130_and_leaves_nothing_at_the_output(tmp_path):
    clip = write_clip(tmp_path / "long.mp4", photo_frames(1500, 64, 48), rate=25)
    command = [sys.executable, "-m", "colorgan.colorize", str(clip), "-o", str(tmp_path / "out"), "--batch-size", "4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(name.endswith(".tmp") for name in left_in(tmp_path / "out" / ".long.mp4.parts")):  # frames written
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted: nothing written at" in err
    assert left_in(tmp_path / "out") == []


# A small launcher measures the command: a forked child's peak counts its parent's memory at the
# fork (Linux), so the command is forked from a bare Python, not from this test's torch-filled one.
LAUNCHER = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, "
            "stderr=subprocess.DEVNULL); _, status, usage = os.wait4(p.pid, 0); "
            "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)")


def peak_rss_mib(command: list[str]) -> float:
    """Peak resident memory of a command, in MiB (the kernel's own count, through wait4)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *command], cwd=REPO, env=env, capture_output=True,
                          text=True, check=True)
    status, peak_kib = map(int, done.stdout.split())
    assert status == 0
    return peak_kib / 1024


@pytest.mark.slow
def test_memory_does_not_grow_with_the_length_of_the_video(tmp_path):
    # The allocator settles over the first minute of frames (the shipped model at 160x120: 475, 486 and
    # 490 MiB for 150, 1,500 and 3,000 frames), so the check compares one minute with two: a leak of
    # 9 KB a frame or more would show as 25 MiB.
    peaks = {}
    for frames in (1500, 3000):  # 1 and 2 min at 25 frames/s
        clip = write_clip(tmp_path / f"clip{frames}.mp4", photo_frames(frames, 160, 120), rate=25)
        peaks[frames] = peak_rss_mib([sys.executable, "-m", "colorgan.colorize", str(clip), "-o", str(tmp_path / "out")])
    assert peaks[3000] < peaks[1500] + 25, peaks  # twice the frames, the same memory
