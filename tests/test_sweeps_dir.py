"""The W&B sweep files in sweeps/: the command each agent would run, with every parameter value
(as wandb's own agent code formats it), composes as a Hydra config and passes validation."""

from __future__ import annotations

import pytest
import yaml
from helpers.configs import REPO, compose_train
from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

from colorgan.config_validation import validate_config

SWEEP_FILES = sorted((REPO / "sweeps").glob("wandb_*.yaml"))


def parameter_values(spec: dict) -> list:
    """Every listed value, or both ends of a distribution."""
    if "values" in spec:
        return list(spec["values"])
    if "value" in spec:
        return [spec["value"]]
    return [spec["min"], spec["max"]]


def test_there_is_a_wandb_sweep_file():
    assert SWEEP_FILES, "sweeps/ should hold the W&B sweep definitions"


@pytest.mark.parametrize("path", SWEEP_FILES, ids=lambda p: p.name)
def test_every_value_of_a_wandb_sweep_is_a_valid_override(path, tmp_path, tiny_cifar):
    sweep = yaml.safe_load(path.read_text())
    assert sweep["metric"]["name"] in {"val/mae", "val/psnr", "val/ssim"} and sweep["method"] in {"grid", "random", "bayes"}
    command = sweep["command"]
    assert command[:4] == ["${env}", "python", "-m", "colorgan.train"] and command[-1] == "${args_no_hyphens}"
    fixed = command[4:-1]
    for name, spec in sweep["parameters"].items():
        for value in parameter_values(spec):
            # What the agent appends for ${args_no_hyphens}: here one parameter at a time.
            flags = create_sweep_command_args({"args": {name: {"value": value}}})["args_no_hyphens"]
            cfg = compose_train([*fixed, *flags], tmp_path / "run", tiny_cifar)
            validate_config(cfg)
            key = name.split(".")
            node = cfg
            for part in key:
                node = node[part]
            assert node == value, (name, value, node)
