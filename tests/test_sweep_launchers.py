"""Launchers other than Hydra's basic one: jobs in parallel on one machine (joblib), SLURM (submitit)."""

from __future__ import annotations

import json
import os

import pytest
import torch
from helpers.cli import failure_text, job_dirs, only_sweep_dir, train_cli
from helpers.configs import compose_train

from colorgan.runs.devices import gpu_count
from colorgan.system.threads import threads_per_job


@pytest.mark.slow
def test_the_parallel_launcher_runs_two_jobs_at_once_each_on_its_own_device(tiny_cifar, tmp_path):
    # Jobs of 5 short epochs: long enough to overlap however unevenly the two workers start on a busy machine.
    result = train_cli("+sweep=seed_study", "+experiment=unet", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2",
                       "trainer.max_epochs=5", "trainer.limit_train_batches=8", data_dir=tiny_cifar, log_dir=tmp_path)
    assert result.returncode == 0, failure_text(result)
    infos = [json.loads((run / "run_info.json").read_text()) for run in job_dirs(only_sweep_dir(tmp_path, "seed_study"))]
    # A job takes the lowest free slot, so slot 1 is only ever taken while slot 0 is held.
    assert sorted(info["device_slot"] for info in infos) == [0, 1]
    # On a CPU each of the 2 jobs trains with its half of the cores, not all of them.
    configs = [(run / "config.yaml").read_text() for run in job_dirs(only_sweep_dir(tmp_path, "seed_study"))]
    expected = os.environ.get("OMP_NUM_THREADS", threads_per_job(2))  # a user's count wins
    assert all(f"cpu_threads: {expected}" in c for c in configs), configs
    assert max(info["started_at"] for info in infos) < min(info["fit_ended_at"] for info in infos)  # overlapping


def test_the_parallel_launcher_runs_as_many_jobs_as_there_are_gpus(tmp_path):
    cfg = compose_train(["+sweep=seed_study", "hydra/launcher=parallel"], tmp_path / "run")
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher")
    assert cfg.hydra.launcher.n_jobs == gpu_count() == max(torch.cuda.device_count(), 1)


def test_the_slurm_launcher_gives_every_gpu_a_task(tmp_path):
    cfg = compose_train(["+sweep=seed_study", "hydra/launcher=slurm", "hydra.launcher.gpus_per_node=4", "trainer=ddp"],
                        tmp_path / "run")
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.gpus_per_node, launcher.tasks_per_node, launcher.nodes) == (4, 4, 1)
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == "auto"  # Lightning takes ranks from SLURM
    assert launcher.submitit_folder.startswith(str(cfg.hydra.sweep.dir))


@pytest.mark.slow
def test_submitit_runs_a_sweep_job_in_its_own_process(tiny_cifar, tmp_path):
    """The submitit path (pickled job, run elsewhere, result collected) with its local executor:
    the same code a SLURM job runs, minus the cluster."""
    result = train_cli("+sweep=seed_study", "+experiment=unet", "data.color_space=lab", "hydra/launcher=submitit_local",
                       "hydra.launcher.timeout_min=10", data_dir=tiny_cifar, log_dir=tmp_path)
    assert result.returncode == 0, failure_text(result)
    sweep_dir = only_sweep_dir(tmp_path, "seed_study")
    (run,) = job_dirs(sweep_dir)
    assert json.loads((run / "job_status.json").read_text())["status"] == "COMPLETED"
    assert (run / "test_metrics.json").is_file()
    assert "1 jobs: 1 finished" in (sweep_dir / "sweep_summary.md").read_text()


@pytest.mark.parametrize("trainer", ["ddp", "ddp_spawn"])
def test_the_parallel_launcher_trains_a_ddp_job_on_its_one_device(trainer, tmp_path):
    """docs/sweeps.md: hydra/launcher=parallel runs one device per job, with trainer=ddp too: the job's
    strategy falls back to a single device, so Lightning does not re-launch the script (refused in a sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from hydra.utils import instantiate
    from omegaconf import open_dict, read_write

    from colorgan.runs.devices import check_ddp_launch, job_device

    cfg = compose_train(["+experiment=unet", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", f"trainer={trainer}",
                         "trainer.accelerator=cpu"], tmp_path / "run")
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.mode = RunMode.MULTIRUN
        cfg.hydra.sweep.dir = str(tmp_path / "sweep")
    HydraConfig().set_config(cfg)
    with job_device(cfg) as job:
        assert job.trainer.strategy == "auto" and job.device_slot == 0
        built = instantiate(job.trainer, logger=False)
        check_ddp_launch(built.strategy)  # not refused
        assert built.world_size == 1


@pytest.mark.slow
def test_a_parallel_sweep_of_ddp_jobs_runs(tiny_cifar, tmp_path):
    result = train_cli("+sweep=seed_study", "+experiment=unet", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2",
                       "trainer=ddp", "test=false", data_dir=tiny_cifar, log_dir=tmp_path)
    assert result.returncode == 0, failure_text(result)
    infos = [json.loads((run / "run_info.json").read_text()) for run in job_dirs(only_sweep_dir(tmp_path, "seed_study"))]
    assert [info["world_size"] for info in infos] == [1, 1]
