"""Printed commands paste into a POSIX shell as they are, and resume= restores a run's own
settings, whatever its folder's name holds (spaces, quotes, $, unicode)."""

from __future__ import annotations

import subprocess

import pytest
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
