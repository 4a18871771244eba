"""The bench's shared scenario (`python -m colorgan.bench --shared`): colorgan's training path timed
alone, then while a second `python -m colorgan.train` of the same model trains beside it, then
alone again, in one run. The ratio of wall-clock time per step, shared over idle, is what a user
pays when a test run, a second sweep job or another user shares the CPU: about 2x is fair on a
machine whose cores both processes want; much more means the two fight (colorgan/system/threads.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig

# The second training: the same experiment and overrides, training without end (it is killed as
# soon as the measurement ends), in a scratch directory, without a progress bar.
COMPETITOR_SETTINGS = ("logger=csv", "test=false", "print_config=false", "trainer.max_epochs=-1",
                       "trainer.max_steps=-1", "trainer.limit_val_batches=0", "trainer.num_sanity_val_steps=0",
                       "callbacks.progress_bar=null")


def start_competitor(experiment: str, overrides: list[str], run_dir: Path, data_dir: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "colorgan.train", f"+experiment={experiment}", *overrides,
               *COMPETITOR_SETTINGS, f"paths.data_dir={data_dir}", f"hydra.run.dir={run_dir}"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def wait_until_busy(process: subprocess.Popen, timeout: float = 180.0, poll: float = 2.0) -> None:
    """Return once the competitor has been using at least one core for a whole poll interval,
    which it does once it trains (imports and data loading use less)."""
    stat = Path(f"/proc/{process.pid}/stat")
    clock = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + timeout

    def cpu_seconds() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / clock  # utime + stime

    if not stat.exists():  # not Linux: give it a fixed start-up time
        time.sleep(30)
        return
    before = cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(poll)
        if process.poll() is not None:
            raise RuntimeError(f"The second training for the shared scenario exited (code {process.returncode}) "
                               "before it started training; run its command alone to see why.")
        now = cpu_seconds()
        if now - before >= 0.9 * poll:
            time.sleep(5 * poll)  # past the first steps' allocations too
            return
        before = now
    raise RuntimeError(f"The second training for the shared scenario did not start training within {timeout:.0f} s.")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def shared_slowdown(cfg: DictConfig, experiment: str, overrides: list[str], time_idle: Callable[[], float]) -> dict:
    """Wall-clock seconds per step alone (the mean of a measurement before and one after) and
    while a second training of `experiment` runs; `time_idle()` times colorgan's path once."""
    before = time_idle()
    with tempfile.TemporaryDirectory(prefix="colorgan-bench-competitor-") as run_dir:
        competitor = start_competitor(experiment, overrides, Path(run_dir) / "run", str(cfg.paths.data_dir))
        try:
            wait_until_busy(competitor)
            shared = time_idle()
            still_training = competitor.poll() is None
        finally:
            stop(competitor)
    after = time_idle()
    idle = (before + after) / 2
    return {"idle": idle, "shared": shared, "ratio": shared / idle, "competitor_ran_throughout": still_training}
