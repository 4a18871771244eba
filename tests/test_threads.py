"""CPU threading that shares the machine: set before torch loads OpenMP, the user's setting wins,
and parallel sweep jobs on a CPU split the cores."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from helpers.configs import REPO

from colorgan.system import threads


def run_python(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    environment.update(env, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


PROBE = "import colorgan, os; print(colorgan.OPENMP_SETUP, os.environ.get('GOMP_SPINCOUNT'))"


def test_importing_colorgan_sets_a_short_spin_before_torch_loads():
    assert run_python(PROBE) == f"set {threads.SPIN_COUNT}"
    # what a DDP rank or a sweep worker started from this process inherits
    assert run_python("import colorgan, subprocess, sys; subprocess.run([sys.executable, '-c', "
                      "'import os; print(os.environ[\"GOMP_SPINCOUNT\"])'])") == threads.SPIN_COUNT


@pytest.mark.parametrize("env", [{"GOMP_SPINCOUNT": "123"}, {"OMP_WAIT_POLICY": "ACTIVE"}])
def test_a_users_own_setting_wins(env):
    out = run_python(PROBE, **env)
    assert out == f"user {env.get('GOMP_SPINCOUNT')}"


def test_too_late_is_said_when_torch_came_first():
    assert run_python("import torch; " + PROBE).startswith("late")


def test_parallel_jobs_on_a_cpu_share_the_cores(monkeypatch):
    threads_before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 8)
    try:
        assert threads.threads_per_job(2) == 4 and threads.threads_per_job(3) == 2 and threads.threads_per_job(16) == 1
        assert threads.share_cores(4) == 2 and torch.get_num_threads() == 2
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        assert threads.share_cores(4) == 2 and torch.get_num_threads() == 2  # OMP_NUM_THREADS chose: left alone
    finally:
        torch.set_num_threads(threads_before)
