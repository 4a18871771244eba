"""Sweep files (conf/sweep/) and multiruns through the real `python -m colorgan.train`."""

from __future__ import annotations

import copy
import itertools
import json
import threading

import pytest
from helpers.cli import failure_text, job_dirs, only_sweep_dir, run_module, train_cli
from helpers.configs import CONF_DIR, compose_train
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import OmegaConf, open_dict, read_write
from PIL import Image

from colorgan.report.figures import LABEL_WIDTH
from colorgan.runs.devices import device_slot, job_device
from colorgan.runs.resume import resume_command_line

SWEEPS = sorted(p.stem for p in (CONF_DIR / "sweep").glob("*.yaml"))


def sweep_jobs(sweep: str, tmp_path) -> list[list[str]]:
    """Every job's overrides, as Hydra's basic sweeper expands the sweep file's params."""
    cfg = compose_train([f"+sweep={sweep}"], tmp_path / "compose")
    params = cfg.hydra.sweeper.params
    parsed = OverridesParser.create().parse_overrides([f"{key}={value}" for key, value in params.items()])
    axes = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] for o in parsed]
    return [list(job) for job in itertools.product(*axes)]


@pytest.mark.parametrize("sweep", SWEEPS)
def test_every_job_of_every_sweep_composes(sweep, tmp_path):
    jobs = sweep_jobs(sweep, tmp_path)
    assert len(jobs) == {"seed_study": 4 * 2, "ablation": 2 * 3 * 3 * 2}[sweep]
    names = []
    for job in jobs:
        experiment = next(o.split("=")[1] for o in job if o.startswith("+experiment="))
        cfg = compose_train([*job, f"+sweep={sweep}"], tmp_path / "run")  # the sweeper's order
        assert cfg.sweep_name == sweep and cfg.trainer.max_epochs == 15
        assert cfg.hydra.runtime.choices.experiment == experiment
        for override in job:
            key, value = override.split("=")
            if not key.startswith("+"):
                assert str(OmegaConf.select(cfg, key)) == value, override
        wandb = cfg.logger.wandb
        assert wandb.group == sweep
        assert set(wandb.tags) >= {cfg.data.color_space, f"act:{cfg.model.generator.activation}",
                                   f"norm:{cfg.model.generator.norm}"}
        assert cfg.hydra.sweep.subdir == f"0_{cfg.name}"  # job dirs named after their runs
        names.append(cfg.name)
    assert names, "no job composed"
    assert len(set(names)) == len(names), "two jobs of a sweep share a run name"


def test_device_slots_never_share_and_free_on_exit(tmp_path):
    with device_slot(tmp_path, 2) as first, device_slot(tmp_path, 2) as second:
        assert (first, second) == (0, 1)
        taken = []
        waiter = threading.Thread(target=lambda: taken.append(device_slot(tmp_path, 2, 0.05).__enter__()))
        waiter.start()
        waiter.join(0.5)
        assert waiter.is_alive() and not taken  # both slots busy: the third job waits
    waiter.join(5)
    assert taken == [0]


def test_a_job_of_a_parallel_sweep_records_its_slot(tiny_cfg, tmp_path):
    cfg = tiny_cfg("hydra/launcher=parallel", "hydra.launcher.n_jobs=2")
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.mode = RunMode.MULTIRUN
        cfg.hydra.sweep.dir = str(tmp_path / "sweep")
    HydraConfig().set_config(cfg)
    with job_device(copy.deepcopy(cfg)) as one, job_device(copy.deepcopy(cfg)) as two:
        assert (one.device_slot, two.device_slot) == (0, 1)
        assert one.trainer.devices == 1  # on CPU the slot is only recorded


@pytest.mark.slow
def test_seed_study_grid_leaves_four_runs_and_a_report(tiny_cifar, tmp_path):
    """The 2x2 corner of the seed's study (U-Nets x colour spaces) as a real multirun, then the report."""
    result = train_cli("+sweep=seed_study", "+experiment=unet,unet_lrelu", data_dir=tiny_cifar, log_dir=tmp_path)
    assert result.returncode == 0, failure_text(result)
    sweep_dir = only_sweep_dir(tmp_path, "seed_study")
    runs = job_dirs(sweep_dir)
    assert [r.name for r in runs] == ["0_unet_lab", "1_unet_rgb", "2_unet_lrelu_lab", "3_unet_lrelu_rgb"]
    for run in runs:
        assert json.loads((run / "job_status.json").read_text())["status"] == "COMPLETED"
        assert "test/mae" in json.loads((run / "test_metrics.json").read_text())
        info = json.loads((run / "run_info.json").read_text())
        assert info["fit_seconds"] > 0 and info["epochs"] == 1 and info["world_size"] == 1
        assert OmegaConf.load(run / "config.yaml").sweep_name == "seed_study"
    assert "4 jobs: 4 finished, 0 failed, 0 unfinished." in (sweep_dir / "sweep_summary.md").read_text()

    report = run_module("colorgan.report", str(sweep_dir))
    assert report.returncode == 0, failure_text(report)
    text = (sweep_dir / "report.md").read_text()
    table = text.split("\n\n| model |")[1].split("\n\n")[0].splitlines()[2:]
    rows, baselines = table[:4], table[4:]
    assert {r.split("|")[-2].strip(" `") for r in rows} == {r.name for r in runs}
    assert [b.split("|")[4].strip() for b in baselines] == ["lab", "rgb"] and "grayscale" in baselines[0]
    maes = [float(r.split("|")[7]) for r in rows]
    assert maes == sorted(maes)
    assert "0.012071" in text  # the seed's own numbers, quoted
    width, height = Image.open(sweep_dir / "comparison.png").size
    assert (width, height) == (LABEL_WIDTH + 8 * (32 * 4 + 2) + 2, (2 + 4) * (32 * 4 + 2) + 2)


def test_a_failed_job_keeps_the_others_and_the_summary_names_it(tiny_cifar, tmp_path):
    result = train_cli("+sweep=seed_study", "+experiment=unet", "data.color_space=lab",
                       "model.generator.activation=bogus,relu", data_dir=tiny_cifar, log_dir=tmp_path)
    assert result.returncode != 0  # Hydra reports the failure ...
    sweep_dir = only_sweep_dir(tmp_path, "seed_study")
    failed, finished = job_dirs(sweep_dir)
    status = json.loads((failed / "job_status.json").read_text())
    assert status["status"] == "FAILED" and "bogus" in status["error"]
    assert (finished / "test_metrics.json").is_file()  # ... after running the job that came after it
    summary = (sweep_dir / "sweep_summary.md").read_text()
    assert "2 jobs: 1 finished, 1 failed" in summary
    assert f"| {failed.name} | FAILED |" in summary and "bogus" in summary


def test_resuming_a_sweep_job_continues_that_one_run(tmp_path):
    job = tmp_path / "sweeps" / "seed_study" / "2026-01-01_00-00-00" / "2_unet_lrelu_lab"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- +experiment=unet_lrelu\n- data.color_space=lab\n- +sweep=seed_study\n")
    argv = resume_command_line(["train.py", f"resume={job}"])
    assert argv[-2:] == [f"hydra.run.dir='{job}'", "hydra.mode=RUN"]  # not a new sweep
    cfg = compose_train([o for o in argv[1:] if not o.startswith(("resume=", "hydra.run.dir="))], tmp_path / "c")
    assert cfg.hydra.mode == RunMode.RUN and cfg.name == "unet_lrelu_lab"
