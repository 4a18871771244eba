"""README's commands paste into a fresh clone as they are written; printed commands paste into a POSIX
shell as they are, and resume= restores a run's own settings, whatever its folder's name holds
(spaces, quotes, $, unicode)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli import failure_text, fresh_clone, readme_block
from helpers.configs import REAL_CIFAR, TINY
from hydra.core.override_parser.overrides_parser import OverridesParser

from colorgan.runs.resume import original_command, resume_command, resume_command_line

NAMES = ["my run", "it's", 'say "hi"', "$HOME and `date`", "ünïcødé 色", "a,b=c [x]"]


def shell_words(command: str) -> list[str]:
    """What /bin/sh hands the program: the command run with printf in python's place."""
    assert command.startswith("python -m colorgan.train ")
    printed = subprocess.run(["sh", "-c", "printf '%s\\0' " + command.removeprefix("python -m colorgan.train ")],
                             capture_output=True, check=True).stdout.decode()
    return printed.split("\0")[:-1]


def hydra_values(overrides: list[str]) -> dict[str, str]:
    return {o.get_key_element(): o.value() for o in OverridesParser.create().parse_overrides(overrides)}


@pytest.mark.parametrize("name", NAMES)
def test_resume_and_start_again_commands_survive_the_shell_and_hydra(tmp_path, name):
    run = tmp_path / name / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- +experiment=unet_lrelu\n- data.color_space=rgb\n")
    for command in (resume_command(run), resume_command(f"{run}/")):
        argv = resume_command_line(["train.py", *shell_words(command)])
        values = hydra_values(argv[1:])  # Hydra parses every override; none is lost
        assert values["+experiment"] == "unet_lrelu" and values["data.color_space"] == "rgb"  # the run's own settings
        assert values["hydra.run.dir"] == str(run) and values["resume"].rstrip("/") == str(run)
    started = hydra_values(shell_words(original_command(run)))
    assert started["hydra.run.dir"] == str(run) and started["data.color_space"] == "rgb"


def test_a_hydra_escaped_resume_value_is_the_same_run(tmp_path):
    run = tmp_path / "it's" / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- data.color_space=rgb\n")
    escaped = "resume='" + str(run).replace("'", "\\'") + "'"
    values = hydra_values(resume_command_line(["train.py", escaped])[1:])
    assert values["data.color_space"] == "rgb" and values["hydra.run.dir"] == str(run)


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs a virtual environment to stand for make's .venv")
@pytest.mark.parametrize("data", ["tiny", "real"])
def test_readme_quick_try_pasted_into_a_fresh_clone(data, tiny_cifar, tmp_path):
    """After the set-up command made .venv: README's quick-try block pasted into bash in a fresh clone
    with ../shared/data beside it, no COLORGAN_DATA and no environment active. 'real' pastes it word for
    word on the CIFAR-10 copy (a minute); 'tiny' adds the tiny settings to its command, on synthetic data."""
    if data == "real" and not REAL_CIFAR.is_dir():
        pytest.skip("needs the offline CIFAR-10 copy")
    clone = fresh_clone(tmp_path)
    venv = Path(sys.prefix)
    (clone / ".venv").symlink_to(venv)  # what `make train` leaves: this environment, with colorgan's dependencies
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(REAL_CIFAR.parent if data == "real" else tiny_cifar)
    lines = readme_block("A quick try")
    assert lines[0] == "source .venv/bin/activate"
    if data == "tiny":
        lines = [f"{line} {' '.join(TINY)}" if line.startswith("python ") else line for line in lines]
    env = {k: v for k, v in os.environ.items()
           if k not in ("COLORGAN_DATA", "COLORGAN_LOG_DIR", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != venv / "bin")
    env.update(WANDB_MODE="offline", WANDB_SILENT="true")
    out = subprocess.run(["bash", "-e", "-c", "\n".join(lines)], cwd=clone, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, failure_text(out)
    (run,) = (clone / "logs" / "runs").glob("*/*")
    assert json.loads((run / "test_metrics.json").read_text())["test/mae"] > 0
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert "data_dir: ../shared/data" in (run / "config.yaml").read_text()  # found beside the clone by itself
