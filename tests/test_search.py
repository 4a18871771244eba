"""The Optuna search of the GAN recipe (conf/search/gan_recipe.yaml): it composes with the plugin's
sweeper at its stated budget, every value it can pick is a valid config, and two tiny trials run
for real through `python -m colorgan.train`, leaving their runs and the Pareto front."""

from __future__ import annotations

import csv
import json
import math

import pytest
from helpers.cli import failure_text, job_dirs, only_sweep_dir, train_cli
from helpers.configs import TINY, compose_train
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import OmegaConf

from colorgan.config_validation import validate_config
from colorgan.runs.objectives import objective
from colorgan.runs.resume import resume_command_line

pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="the `search` extra (hydra-optuna-sweeper) is not installed")

SEARCHED = {"model.discriminator.spectral_norm", "model.lr_d", "model.lambda_l1", "model.d_steps_per_g_step",
            "model.critic_steps", "model.ema_decay"}
SEARCH = ["+experiment=gan_lrelu", "+scale=cpu", "+search=gan_recipe"]


def test_the_search_composes_with_the_optuna_sweeper_at_its_proxy_budget(tmp_path):
    cfg = compose_train(SEARCH, tmp_path / "run")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_ == "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    assert sweeper.sampler._target_ == "optuna.samplers.MOTPESampler" and sweeper.sampler.seed == 42
    assert list(sweeper.direction) == ["minimize", "minimize", "minimize"] and sweeper.n_trials == 30
    assert list(cfg.optimized_metric) == ["val/mae", "val/false_color", "val/colorfulness_gap"]
    assert cfg.hydra.mode == RunMode.MULTIRUN and cfg.sweep_name == "gan_recipe"
    assert (cfg.trainer.max_epochs, cfg.trainer.limit_train_batches) == (3, 100)
    assert list(cfg.model.generator.channels) == [32, 64, 128, 256, 256]  # +scale=cpu still applies
    assert set(sweeper.params) == SEARCHED | {"data.color_space"}  # the scale's fixed colour space


def test_every_value_the_search_can_pick_is_a_valid_config(tiny_cifar, tmp_path):
    cfg = compose_train(SEARCH, tmp_path / "compose")
    parsed = OverridesParser.create().parse_overrides(
        [f"{key}={value}" for key, value in cfg.hydra.sweeper.params.items() if key in SEARCHED])
    axes = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] for o in parsed]
    assert math.prod(len(a) for a in axes) == 2 * 4 * 3 * 2 * 2 * 3
    for i in range(max(len(a) for a in axes)):  # 4 configs that hold every value of every axis
        validate_config(compose_train([*SEARCH, *TINY, *(a[i % len(a)] for a in axes)], tmp_path / "run", tiny_cifar))


def last_logged(run_dir, key: str) -> float:
    rows = [row for path in run_dir.glob("csv/**/metrics.csv") for row in csv.DictReader(path.open()) if row.get(key)]
    return float(rows[-1][key])


def test_two_tiny_trials_run_for_real_and_leave_the_pareto_front(tiny_cifar, tiny_checkpoint, tmp_path):
    warm = tiny_checkpoint("lab")  # a U-Net for the NoGAN schedule, as the documented command passes one
    result = train_cli(*SEARCH, "hydra.sweeper.n_trials=2", f"model.generator_init={warm}", "model.discriminator.channels=8",
                       data_dir=tiny_cifar, log_dir=tmp_path)
    assert result.returncode == 0, failure_text(result)
    sweep_dir = only_sweep_dir(tmp_path, "gan_recipe")
    trials = job_dirs(sweep_dir)
    assert [t.name for t in trials] == ["0_gan_lrelu_trial0", "1_gan_lrelu_trial1"]
    logged = []
    for trial in trials:
        status = json.loads((trial / "job_status.json").read_text())
        assert status["status"] == "COMPLETED"
        assert {o.split("=")[0] for o in status["overrides"]} >= SEARCHED
        assert "test/false_color" in json.loads((trial / "test_metrics.json").read_text())
        gap = abs(last_logged(trial, "val/colorfulness") - last_logged(trial, "val/colorfulness_true"))
        logged.append([last_logged(trial, "val/mae"), last_logged(trial, "val/false_color"), gap])
    assert "2 jobs: 2 finished, 0 failed" in (sweep_dir / "sweep_summary.md").read_text()
    results = OmegaConf.to_container(OmegaConf.load(sweep_dir / "optimization_results.yaml"))
    assert results["name"] == "optuna" and 1 <= len(results["solutions"]) <= 2
    for solution in results["solutions"]:  # the front holds what the trials logged, with their parameters
        assert set(solution["params"]) == SEARCHED
        assert any(solution["values"] == pytest.approx(values, rel=1e-6) for values in logged), (solution, logged)


def test_the_objective_is_one_value_or_one_per_name():
    metrics = {"val/mae": 12.5, "val/false_color": 3.0}
    assert objective(metrics, "val/mae") == 12.5
    assert objective(metrics, ["val/mae", "val/false_color"]) == [12.5, 3.0]
    assert objective(metrics, None) is None
    assert objective(metrics, ["val/mae", "val/typo"]) is None  # a sweeper marks that trial failed


def test_the_colorfulness_gap_is_the_distance_to_the_truths_vividness_either_way():
    sepia = {"val/colorfulness": 12.0, "val/colorfulness_true": 30.0, "test/colorfulness": 40.0}
    assert objective(sepia, "val/colorfulness_gap") == 18.0
    garish = {"val/colorfulness": 45.0, "val/colorfulness_true": 30.0}
    assert objective(garish, ["val/mae", "val/colorfulness_gap"]) is None  # no val/mae: nothing to return
    assert objective({**garish, "val/mae": 9.0}, ["val/mae", "val/colorfulness_gap"]) == [9.0, 15.0]
    assert objective(sepia, "test/colorfulness_gap") is None  # the truth's test colourfulness was not logged


def test_resuming_a_trial_continues_that_one_run(tmp_path):
    trial = tmp_path / "sweeps" / "gan_recipe" / "2026-01-01_00-00-00" / "3_gan_lrelu_trial3"
    (trial / ".hydra").mkdir(parents=True)
    (trial / ".hydra" / "overrides.yaml").write_text(
        "- model.lr_d=0.0004\n- model.ema_decay=0.999\n- +experiment=gan_lrelu\n- +search=gan_recipe\n")
    argv = resume_command_line(["train.py", f"resume={trial}"])
    assert argv[-1] == "hydra.mode=RUN"  # not a new search
    cfg = compose_train([o for o in argv[1:] if not o.startswith(("resume=", "hydra.run.dir="))], tmp_path / "c")
    assert cfg.hydra.mode == RunMode.RUN and cfg.model.lr_d == 0.0004 and cfg.model.ema_decay == 0.999
