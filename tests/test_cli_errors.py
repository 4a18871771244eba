"""Command-line mistakes and a full disk end in one `error:` paragraph and exit 2, no traceback,
and leave nothing behind; every command follows that one rule (errors.exit_on_user_error)."""

from __future__ import annotations

import os
import subprocess

import pytest
from helpers.cli import run_module

from colorgan.errors import EXIT_USER_ERROR


@pytest.mark.parametrize(("override", "words"), [
    ('name=a"b', "Cannot parse the command line's overrides"),
    ("trainer.max_epochs=[1", "Cannot parse the command line's overrides"),
    ("paths.data_dir=${oc.env:COLORGAN_TEST_UNSET_VARIABLE}", "Environment variable 'COLORGAN_TEST_UNSET_VARIABLE' not found"),
    ("trainer.max_epochz=3", "Could not override 'trainer.max_epochz'"),
])
def test_override_mistakes_are_one_error_line(override, words, tmp_path):
    result = run_module("colorgan.train", override, f"hydra.run.dir={tmp_path / 'run'}", timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and words in errors[0], result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("module", "args", "words"), [
    ("colorgan.report", ["{missing}"], "not a directory"),
    ("colorgan.export", ["{missing}.ckpt"], "Checkpoint not found"),
    ("colorgan.evaluate", ["{missing}.ckpt", "{missing}"], "Checkpoint not found"),
    ("colorgan.colorize", ["{missing}.ckpt", "{missing}", "-o", "{tmp}/out"], "input not found"),
    ("colorgan.pretrained", ["pack", "{missing}.ckpt", "--out", "{tmp}/packed"], "Checkpoint not found"),
    ("colorgan.data.photo_mix", ["--scenes", "{missing}", "--objects", "{missing}", "-o", "{tmp}/mix"], "No scene photos"),
    ("colorgan.data.photo_copies", ["{missing}", "-o", "{tmp}/copies"], "No folder"),
    ("colorgan.data.unlike_set", [*(a for f in ("bsds", "kodak", "mcmaster", "set5", "set14", "sunhays")
                                    for a in (f"--{f}", "{missing}")), "-o", "{tmp}/unlike"], "No photos in"),
    ("colorgan.retest", ["{missing}", "{missing}.ckpt", "{tmp}/retested"], "not a colorgan run folder"),
    ("colorgan.bench", ["--experiments", "no_such_experiment"], "Could not find 'experiment/no_such_experiment'"),
    ("colorgan.bench.colorize", ["{missing}.ckpt", "--megapixels", "0.01"], "Checkpoint not found"),
])
def test_every_command_says_a_user_error_in_one_line_with_exit_2(module, args, words, tmp_path):
    args = [a.format(missing=tmp_path / "missing", tmp=tmp_path) for a in args]
    result = run_module(module, *args, timeout=120)
    assert result.returncode == EXIT_USER_ERROR, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and words in errors[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a refused command wrote nothing"


@pytest.fixture
def full_disk(tmp_path):
    """A 256 kB tmpfs filled to the last byte (needs root to mount; skipped elsewhere)."""
    mount = tmp_path / "full"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_at_start_is_one_error_line_and_leaves_nothing(full_disk):
    result = run_module("colorgan.train", f"hydra.run.dir={full_disk / 'run'}", timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert f"error: Cannot write in the run directory {full_disk / 'run'}: No space left on device" in result.stderr
    assert sorted(os.listdir(full_disk)) == ["filler"]
