"""SLURM requeue end to end, with SLURM's environment variables and a stand-in `scontrol` that
records its arguments (there is no cluster here): the requeue signal, then SIGTERM, then the same
command again, which continues the run in its directory."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import torch
from test_resume import RESUMABLE, cli, cli_env

SLURM_ENV = {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "colorgan", "SLURM_JOB_ID": "4242", "SLURM_NODELIST": "localhost",
             "SLURM_LOCALID": "0", "SLURM_PROCID": "0", "SLURM_NODEID": "0"}


def wait_for(condition, job, log_file, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert job.poll() is None and time.monotonic() < deadline, log_file.read_text()
        time.sleep(0.2)


@pytest.mark.slow
def test_slurm_requeue_signal_then_sigterm_then_the_same_command_continues(tiny_cifar, tmp_path):
    bin_dir, requeued = tmp_path / "bin", tmp_path / "scontrol_calls"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> {requeued}\n')
    (bin_dir / "scontrol").chmod(0o755)
    env = {**cli_env(), **SLURM_ENV, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    run, log_file = tmp_path / "slurm-4242", tmp_path / "job.log"
    command = cli(run, tiny_cifar, "+experiment=unet_lrelu", *RESUMABLE, "trainer.max_epochs=1000",
                  "callbacks.last_checkpoint.every_n_train_steps=null")

    with open(log_file, "w") as out:
        job = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        try:
            metrics_csv = run / "csv" / "metrics.csv"
            wait_for(lambda: metrics_csv.is_file() and len(metrics_csv.read_text().splitlines()) > 6, job, log_file)
            job.send_signal(signal.SIGUSR1)  # `#SBATCH --signal=SIGUSR1@90`: the time limit is near
            wait_for(requeued.is_file, job, log_file)
            job.send_signal(signal.SIGTERM)  # what SLURM sends when it requeues the job
            code = job.wait(timeout=120)
        finally:
            job.kill()
    output = log_file.read_text()
    assert code == 128 + signal.SIGTERM, output
    assert requeued.read_text().split() == ["requeue", "4242"]
    hpc = torch.load(run / "hpc_ckpt_1.ckpt", map_location="cpu", weights_only=True)
    total = hpc["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]
    # Saved at a step end, as ModelCheckpoint saves (the step is processed, not yet completed), or,
    # when the signal came during an epoch's last step or its validation, at the epoch end.
    epoch_end = total["completed"] % 4 == 0 and total["completed"] == total["processed"]
    assert total["completed"] == total["processed"] - 1 or epoch_end, total
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] >= hpc["global_step"]

    # The requeued job runs the same command (here one epoch longer than the checkpoint, to end soon).
    again = subprocess.run([*command, f"trainer.max_epochs={last['epoch'] + 2}", "test=false"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "SLURM job continues from" in again.stdout + again.stderr
    final = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert final["global_step"] == 4 * (last["epoch"] + 2)
