"""Interrupt real training runs (SIGINT, SIGTERM, SIGKILL), resume them, and compare with an
uninterrupted run of the same seed: metrics and every metrics.csv row must be identical on CPU."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from helpers.configs import REPO, TINY, compose_train

from colorgan.callbacks.checkpointing import TrainingInterrupted
from colorgan.runs.resume import ResumeError, resolve_checkpoint, resume_command_line
from colorgan.train import train

# Two epochs of four steps, every step logged, a periodic save every two steps, dropout and flips
# on (both draw from torch's global generator), deterministic kernels.
RESUMABLE = [
    *TINY,
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=4",
    "trainer.log_every_n_steps=1",
    "trainer.deterministic=true",
    "callbacks.last_checkpoint.every_n_train_steps=2",
    "callbacks.image_grid=null",
    "model.generator.dropout=0.5",
]
EXPERIMENTS = ["unet_lrelu", "gan"]


class SignalAt(L.Callback):
    """Test helper: send this process a real signal at the end of training step `step` (after the
    step, before the last-checkpoint callback's turn, as a signal arriving then would)."""

    def __init__(self, step: int, name: str = "SIGINT") -> None:
        self.step, self.signum = step, getattr(signal, name)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


def signal_at(step: int, name: str) -> list[str]:
    return [f"+callbacks.signal_at._target_={__name__}.SignalAt", f"+callbacks.signal_at.step={step}",
            f"+callbacks.signal_at.name={name}"]


def compose(experiment: str, run: Path, data: Path, *overrides: str):
    return compose_train([f"+experiment={experiment}", *RESUMABLE, *overrides], run, data)


def csv_rows(run: Path) -> list[dict[str, str]]:
    with open(run / "csv" / "metrics.csv") as f:
        return list(csv.DictReader(f))


def final(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k.startswith(("val/", "test"))}


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def reference(tiny_cifar, tmp_path_factory):
    """experiment -> (final metrics, run dir) of an uninterrupted run, computed once per module."""
    runs = {}

    def get(experiment: str):
        if experiment not in runs:
            run = tmp_path_factory.mktemp(f"reference_{experiment}") / "run"
            runs[experiment] = (final(train(compose(experiment, run, tiny_cifar))), run)
        return runs[experiment]

    return get


def cli(run: Path, data: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "colorgan.train", *overrides, f"paths.data_dir={data}",
            f"paths.log_dir={run.parent}", f"hydra.run.dir={run}"]


def cli_env() -> dict[str, str]:
    # The same thread count as this process: reductions then add up in the same order.
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}", "OMP_NUM_THREADS": str(torch.get_num_threads()),
            "WANDB_MODE": "offline"}


def test_two_runs_with_one_seed_give_identical_metrics(reference, tiny_cifar, tmp_path):
    expected, reference_run = reference("unet_lrelu")
    again = final(train(compose("unet_lrelu", tmp_path / "run", tiny_cifar)))
    assert again == expected
    assert csv_rows(tmp_path / "run") == csv_rows(reference_run)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_sigint_finishes_the_step_saves_and_the_resumed_run_matches(experiment, reference, tiny_cifar, tmp_path, caplog):
    expected, reference_run = reference(experiment)
    run = tmp_path / "run"
    with pytest.raises(TrainingInterrupted) as stopped:
        train(compose(experiment, run, tiny_cifar, *signal_at(3, "SIGINT")))
    assert stopped.value.code == 128 + signal.SIGINT
    assert f"resume={run}" in str(stopped.value) and f"resume={run}" in caplog.text
    assert not (run / "test_metrics.json").exists()  # stopped means stopped: no test stage
    # Step 3 finished and was saved, mid-epoch (step 3 of 4), though periodic saves come every 2 steps.
    checkpoint = load(run / "checkpoints" / "last.ckpt")
    assert (checkpoint["global_step"], checkpoint["epoch"]) == (3, 0)
    assert checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"epoch": 0, "batches": 3}]

    interrupted_for = json.loads((run / "run_info.json").read_text())["fit_seconds"]
    resumed = final(train(compose(experiment, run, tiny_cifar, f"resume={run}")))
    assert resumed == expected
    # The run's training time is both jobs', not the last one's.
    info = json.loads((run / "run_info.json").read_text())
    assert len(info["fit_seconds_per_job"]) == 2 and info["fit_seconds_per_job"][0] == interrupted_for
    assert info["fit_seconds"] == pytest.approx(sum(info["fit_seconds_per_job"]))
    # Pre-interruption rows kept, none twice, the same values; the epoch means of the interrupted
    # epoch too (the checkpoint carries their running sums).
    assert csv_rows(run) == csv_rows(reference_run)


class DoubleCtrlC(L.Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == 3:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)


def test_second_ctrl_c_stops_at_once_without_saving(tiny_cifar, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as stopped:  # Lightning's KeyboardInterrupt exit
        train(compose("unet_lrelu", run, tiny_cifar, f"+callbacks.ctrl_c._target_={__name__}.DoubleCtrlC"))
    assert stopped.value.code == 1 and not isinstance(stopped.value, TrainingInterrupted)
    assert load(run / "checkpoints" / "last.ckpt")["global_step"] == 2  # the periodic save before it
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def kill_at_step_7(run: Path, data: Path, tmp_path: Path) -> None:
    """A kill -9 at step 7 (epoch 1, after the periodic save of step 6) of a CLI run."""
    killed = subprocess.run(cli(run, data, "+experiment=unet_lrelu", *RESUMABLE, *signal_at(7, "SIGKILL")),
                            env=cli_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    checkpoint = load(run / "checkpoints" / "last.ckpt")
    assert (checkpoint["global_step"], checkpoint["epoch"]) == (6, 1)
    assert checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"epoch": 1, "batches": 2}]


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(reference, tiny_cifar, tmp_path):
    """The kill loses step 7; the resumed run replays it and ends exactly where an uninterrupted run ends."""
    expected, reference_run = reference("unet_lrelu")
    run = tmp_path / "run"
    kill_at_step_7(run, tiny_cifar, tmp_path)
    resumed = final(train(compose("unet_lrelu", run, tiny_cifar, *signal_at(-1, "SIGKILL"), f"resume={run}")))
    assert resumed == expected
    assert csv_rows(run) == csv_rows(reference_run)


@pytest.mark.slow
def test_cli_resume_needs_only_the_run_dir(reference, tiny_cifar, tmp_path):
    expected, reference_run = reference("unet_lrelu")
    run = tmp_path / "run"
    kill_at_step_7(run, tiny_cifar, tmp_path)
    # Only resume= and the override that disarms the killer: the rest of the command line is the run's.
    resumed = subprocess.run(cli(run, tiny_cifar, f"resume={run}", "callbacks.signal_at.step=-1"),
                             env=cli_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Restored all states" in resumed.stdout + resumed.stderr
    test_metrics = json.loads((run / "test_metrics.json").read_text())
    assert test_metrics == {k: v for k, v in expected.items() if k.startswith("test")} != {}
    assert csv_rows(run) == csv_rows(reference_run)
    assert "callbacks.signal_at.step=-1" in (run / ".hydra" / "overrides.yaml").read_text()  # for the next resume


def test_resume_before_the_first_checkpoint_gives_the_command_that_starts_it_again(tmp_path):
    run = tmp_path / "runs" / "unet" / "2026-01-01_00-00-00"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- +experiment=unet\n- model.generator.channels=[8,16,32]\n")
    with pytest.raises(ResumeError, match="stopped before its first") as refused:
        resolve_checkpoint(run)
    assert str(refused.value).endswith(
        f"python -m colorgan.train +experiment=unet 'model.generator.channels=[8,16,32]' hydra.run.dir={run}")


def test_resume_command_line_is_the_runs_with_todays_overrides_on_top(tmp_path):
    run = tmp_path / "runs" / "unet" / "2026-01-01_00-00-00"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(
        "- +experiment=unet\n- trainer.max_epochs=2\n- +callbacks.x._target_=a.B\n- +callbacks.x.step=7\n")
    argv = resume_command_line(["train.py", f"resume={run}", "trainer.max_epochs=5", "callbacks.x.step=-1"])
    assert argv == ["train.py", "+experiment=unet", "trainer.max_epochs=5", "+callbacks.x._target_=a.B",
                    "+callbacks.x.step=-1", f"resume={run}", f"hydra.run.dir='{run}'"]
    # A checkpoint of the run means the run; other command lines are left alone.
    (run / "checkpoints").mkdir()
    assert resume_command_line(["t", f"resume={run}/checkpoints/last.ckpt"])[-1] == f"hydra.run.dir='{run}'"
    assert resume_command_line(["t", "trainer.max_epochs=5"]) == ["t", "trainer.max_epochs=5"]
    with pytest.raises(SystemExit, match="one run"):
        resume_command_line(["t", "-m", f"resume={run}"])


def test_sigterm_mid_run_leaves_a_resumable_checkpoint_and_says_how_to_resume(tiny_cifar, tmp_path):
    run = tmp_path / "run"
    log_file = tmp_path / "out.log"
    long_run = [*RESUMABLE, "trainer.max_epochs=1000", "callbacks.last_checkpoint.every_n_train_steps=null"]
    with open(log_file, "w") as out:
        job = subprocess.Popen(cli(run, tiny_cifar, "+experiment=unet_lrelu", *long_run), env=cli_env(),
                               cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        try:
            metrics_csv = run / "csv" / "metrics.csv"
            deadline = time.monotonic() + 240
            while not (metrics_csv.is_file() and len(metrics_csv.read_text().splitlines()) > 6):
                assert job.poll() is None and time.monotonic() < deadline, log_file.read_text()
                time.sleep(0.2)
            job.send_signal(signal.SIGTERM)
            code = job.wait(timeout=120)
        finally:
            job.kill()
    output = log_file.read_text()
    assert code == 128 + signal.SIGTERM, output
    assert "Received SIGTERM" in output and "Training stopped by SIGTERM" in output
    assert f"python -m colorgan.train resume={run}" in output
    checkpoint = load(run / "checkpoints" / "last.ckpt")  # complete: loads with weights_only
    step, epoch = checkpoint["global_step"], checkpoint["epoch"]
    assert step >= 5 and epoch < 1000

    # Continue it for one more epoch: training starts where the checkpoint stopped.
    resumed = compose("unet_lrelu", run, tiny_cifar, f"resume={run}", f"trainer.max_epochs={epoch + 2}", "test=false")
    train(resumed)
    assert load(run / "checkpoints" / "last.ckpt")["global_step"] == 4 * (epoch + 2)
