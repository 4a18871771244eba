"""A video run that fails or is stopped leaves nothing half-written: an output folder that cannot
be written is one line before the model loads; a write that fails mid-stream is one line; SIGTERM
is one line and exit 143; a stale temporary file of a killed process is removed by the next run;
and a stopped run's finished parts are resumed by the same command, which then writes exactly the
film an unbroken run writes."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers.configs import REPO
from helpers.video import decoded, frame_times, photo_frames, probe, write_clip

from colorgan.colorize import main
from colorgan.inference import Colorizer
from colorgan.video.pipeline import colorize_video
from colorgan.video.stabilize import ColourMemory, Stabilizer

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def everything_in(folder) -> list[str]:
    """Every file and folder under `folder`, hidden ones included, relative to it."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("colorize ", "colorizing"))]
    assert len(lines) == 1, err
    return lines[0]


def test_an_output_folder_that_cannot_be_made_is_one_line_before_the_model_loads(tmp_path, capsys):
    clip = write_clip(tmp_path / "film.mp4", 6)
    (tmp_path / "a file").write_text("not a folder")
    assert main([str(clip), "-o", str(tmp_path / "a file" / "out")]) == 2
    err = capsys.readouterr().err
    assert one_error_line(err).startswith(f"error: cannot write {tmp_path / 'a file' / 'out'}: ")
    assert "colorizing" not in err  # said before the model loaded
    assert everything_in(tmp_path) == ["a file", "film.mp4"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_one_line_before_the_model_loads(tmp_path, capsys):
    clip = write_clip(tmp_path / "film.mp4", 6)
    (tmp_path / "out").mkdir(mode=0o555)
    assert main([str(clip), "-o", str(tmp_path / "out")]) == 2
    assert one_error_line(capsys.readouterr().err).startswith(f"error: cannot write {tmp_path / 'out'}: Permission denied")


def limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write over the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_write_that_fails_mid_stream_is_one_line_and_leaves_nothing(tmp_path):
    # The file system refuses writes past 20 kB (as a full disk would, once the film is under way).
    clip = write_clip(tmp_path / "film.mp4", photo_frames(48, 160, 120, grain=20.0), audio=None)
    done = subprocess.run([sys.executable, "-m", "colorgan.colorize", str(clip), "-o", str(tmp_path / "out")],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300,
                          preexec_fn=limit_file_size(20_000))
    assert done.returncode == 2, done.stderr
    line = one_error_line(done.stderr)
    assert line.startswith(f"error: cannot write {tmp_path / 'out'}") and "File too large" in line, line
    assert everything_in(tmp_path / "out") == []


def start_and_wait_for_a_part(clip, out, *extra) -> subprocess.Popen:
    """Start colorize on `clip` and return once its first part is being written."""
    command = [sys.executable, "-m", "colorgan.colorize", str(clip), "-o", str(out), "--batch-size", "4", *extra]
    process = subprocess.Popen(command, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(name.endswith(".tmp") for name in everything_in(out)):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    return process


def test_sigterm_is_one_line_exit_143_and_leaves_nothing(tmp_path):
    clip = write_clip(tmp_path / "long.mp4", photo_frames(1500, 64, 48), rate=25)
    process = start_and_wait_for_a_part(clip, tmp_path / "out")
    process.send_signal(signal.SIGTERM)  # as `timeout` and `kill` stop a command
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert one_error_line(err) == f"terminated: nothing written at {tmp_path / 'out' / 'long.mp4'}"
    assert everything_in(tmp_path / "out") == []


def test_a_killed_run_is_resumed_and_its_stale_temporary_files_removed(tmp_path):
    clip = write_clip(tmp_path / "long.mp4", photo_frames(400, 64, 48), rate=25)
    out = tmp_path / "out"
    process = start_and_wait_for_a_part(clip, out, "--part-seconds", "1")
    parts = out / ".long.mp4.parts"
    deadline = time.monotonic() + 120
    while not (parts / "000001.state.pt").exists():  # two parts (2 s, 50 frames) finished
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # no handler runs: a power cut
    process.communicate(timeout=60)
    (out / f".long.mp4.{process.pid}.tmp").write_bytes(b"half a film")  # as a killed join would leave
    (parts / f".000002.mp4.{process.pid}.tmp").write_bytes(b"half a part")  # as a killed part would
    (out / ".long.mp4.1.tmp").write_bytes(b"a live process's")  # pid 1 runs: its file is left alone
    done = subprocess.run([sys.executable, "-m", "colorgan.colorize", str(clip), "-o", str(out), "--batch-size", "4",
                           "--part-seconds", "1"], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    resumed = int(done.stderr.split("resuming a stopped run: its first ")[1].split()[0])
    assert resumed >= 50
    assert f"1 colorized into {out} (long.mp4: {400 - resumed} frames" in done.stdout
    assert everything_in(out) == [".long.mp4.1.tmp", "long.mp4"]  # no stale temporary file, no parts
    assert probe(out / "long.mp4")["frames"] == 400
    assert frame_times(out / "long.mp4") == frame_times(clip)


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.pretrained(device="cpu")


class Stop(KeyboardInterrupt):
    pass


def test_a_resumed_run_writes_the_film_an_unbroken_run_writes(tmp_path, colorizer):
    clip = write_clip(tmp_path / "film.mp4", photo_frames(60, 64, 48, grain=4.0, exposure=0.03), rate=12)
    whole = tmp_path / "whole" / "film.mp4"
    colorize_video(colorizer, clip, whole, batch_size=4, stabilizer=Stabilizer(), memory=ColourMemory(0.9),
                   part_seconds=1.0)
    resumed = tmp_path / "resumed" / "film.mp4"
    done = []

    def stop_after_30(frames: int) -> None:
        done.append(frames)
        if sum(done) >= 30:
            raise Stop()

    with pytest.raises(Stop):
        colorize_video(colorizer, clip, resumed, batch_size=4, stabilizer=Stabilizer(), memory=ColourMemory(0.9),
                       part_seconds=1.0, on_frames=stop_after_30)
    kept = everything_in(resumed.parent / ".film.mp4.parts")
    assert "000001.mp4" in kept and not any(name.endswith(".tmp") for name in kept)
    result = colorize_video(colorizer, clip, resumed, batch_size=4, stabilizer=Stabilizer(), memory=ColourMemory(0.9),
                            part_seconds=1.0)
    assert result.resumed == 32 and result.frames == 28  # parts end on batches: 2 parts of 16 frames (12 a second)
    assert everything_in(resumed.parent) == ["film.mp4"]
    assert np.array_equal(np.stack(decoded(resumed)), np.stack(decoded(whole)))  # stabilizer and memory went on
    assert probe(resumed) == probe(whole)


def test_parts_of_other_settings_are_not_resumed(tmp_path, colorizer):
    clip = write_clip(tmp_path / "film.mp4", 36, rate=12)
    out = tmp_path / "out" / "film.mp4"

    def stop(frames: int) -> None:
        raise Stop()

    with pytest.raises(Stop):
        colorize_video(colorizer, clip, out, batch_size=16, part_seconds=1.0, on_frames=stop)
    assert "000000.mp4" in everything_in(out.parent / ".film.mp4.parts")
    result = colorize_video(colorizer, clip, out, batch_size=16, stabilizer=Stabilizer(0.5), part_seconds=1.0)
    assert result.resumed == 0 and result.frames == 36
