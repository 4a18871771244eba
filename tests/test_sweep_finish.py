"""A sweep killed by SIGTERM during its second job, then finished with `resume=<sweep dir>`: the
finished job is kept as it was, the interrupted one is completed, the summary is refreshed; job
folders are named by number and run name, so any override list fits in a file name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers.cli import failure_text, job_dirs, run_module
from helpers.configs import REPO, TINY

from colorgan.callbacks.checkpointing import resume_advice
from colorgan.runs.objectives import objective
from colorgan.runs.resume import resume_command, resume_command_line
from colorgan.runs.run_dir import Run, write_json

LONG = "+note=" + "a_very_long_override_value_" * 12  # 324 characters: too long for a folder name


def test_resume_of_a_sweep_dir_reruns_it_into_that_folder(tmp_path):
    sweep = tmp_path / "my sweep's $dir"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task:\n    - +experiment=unet_lrelu\n    - seed=1,2\n"
        f"    - hydra.sweep.dir={tmp_path}/old\n    - resume=somewhere\n"
    )
    argv = resume_command_line(["train.py", f"resume={sweep}", "trainer.max_epochs=3"])
    quoted = "'" + str(sweep).replace("'", "\\'") + "'"
    assert argv == ["train.py", "-m", "+experiment=unet_lrelu", "seed=1,2", "trainer.max_epochs=3",
                    f"resume={quoted}", f"hydra.sweep.dir={quoted}"]


@pytest.mark.slow
def test_a_sweep_killed_by_sigterm_is_finished_by_resume(tiny_cifar, tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    overrides = ["+experiment=unet_lrelu", *TINY, "trainer.max_epochs=30", "trainer.log_every_n_steps=1", LONG,
                 f"paths.data_dir={tiny_cifar}", f"paths.log_dir={tmp_path / 'logs'}", f"hydra.sweep.dir={sweep}"]
    log_file = tmp_path / "out.log"
    with open(log_file, "w") as out:
        job = subprocess.Popen([sys.executable, "-m", "colorgan.train", "-m", *overrides, "seed=1,2"], cwd=REPO,
                               env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            second = sweep / "1_unet_lrelu" / "csv" / "metrics.csv"
            deadline = time.monotonic() + 400
            while not (second.is_file() and len(second.read_text().splitlines()) > 4):
                assert job.poll() is None and time.monotonic() < deadline, log_file.read_text()[-3000:]
                time.sleep(0.1)
            job.send_signal(signal.SIGTERM)
            job.wait(timeout=120)
        finally:
            job.kill()
    first, second_dir = job_dirs(sweep)
    assert [first.name, second_dir.name] == ["0_unet_lrelu", "1_unet_lrelu"]
    kept = (first / "test_metrics.json").read_text(), (first / "test_metrics.json").stat().st_mtime_ns
    assert not (second_dir / "test_metrics.json").exists()

    result = run_module("colorgan.train", f"resume={sweep}", env={"PYTHONPATH": str(REPO)})
    assert result.returncode == 0, failure_text(result)
    assert ((first / "test_metrics.json").read_text(), (first / "test_metrics.json").stat().st_mtime_ns) == kept
    assert "finished before; its results are kept" in result.stdout + result.stderr
    assert "was not logged" not in result.stdout + result.stderr  # the kept job's val/mae goes to the sweeper
    assert resume_command(sweep) in log_file.read_text()  # the stop offered the sweep, not only the job
    assert json.loads((second_dir / "test_metrics.json").read_text())["test/mae"] > 0
    assert json.loads((second_dir / "job_status.json").read_text())["status"] == "COMPLETED"
    assert "2 jobs: 2 finished, 0 failed, 0 unfinished." in (sweep / "sweep_summary.md").read_text()
    assert len(job_dirs(sweep)) == 2


def test_a_stopped_job_of_a_sweep_offers_the_sweep_directory(tmp_path):
    """docs/sweeps.md finishes a sweep with resume=<sweep dir>; the stop message says that first."""
    sweep = tmp_path / "sweep"
    (sweep / "1_unet_lrelu").mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    advice = resume_advice(sweep / "1_unet_lrelu")
    assert advice.index(resume_command(sweep)) < advice.index(resume_command(sweep / "1_unet_lrelu"))
    assert resume_advice(tmp_path / "run") == f"Resume with:\n    {resume_command(tmp_path / 'run')}"


def test_a_finished_job_asked_again_returns_its_own_validation_metric(tmp_path, caplog):
    """Finishing a sweep skips its finished jobs; each still gives the sweeper the value it gave when it
    ran (its last val/mae), from its files, instead of a warning that val/mae was not logged."""
    run = tmp_path / "0_unet_lrelu"
    (run / "csv").mkdir(parents=True)
    (run / "csv" / "metrics.csv").write_text("epoch,step,train/loss,val/mae\n0,0,0.5,\n0,1,,12.5\n1,3,,11.25\n")
    write_json(run / "test_metrics.json", {"test/mae": 11.0})
    metrics = Run(run).final_metrics()
    assert metrics == {"train/loss": 0.5, "val/mae": 11.25, "test/mae": 11.0}
    assert objective(metrics, "val/mae") == 11.25 and "was not logged" not in caplog.text
