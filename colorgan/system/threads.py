"""CPU threading that shares the machine gracefully.

PyTorch's OpenMP threads (GNU libgomp on Linux) spin for a while at every barrier before they
sleep. On an idle machine that saves a little latency; when another process shares the cores,
the spinning threads of each process take the CPU the other's threads need: two trainings on
two cores ran several times slower each instead of ~2x. A short spin keeps the idle speed and
gives the CPU back when it is shared (`python -m colorgan.bench.threads` measures the settings;
BENCHMARKS.md, "A shared CPU", has its numbers).

libgomp reads its settings once, when torch loads it, so `colorgan/__init__.py` sets them
before anything imports torch. A user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins, and so does
OMP_NUM_THREADS for the per-job thread count of parallel sweeps.
"""

from __future__ import annotations

import os
import sys

# Spin iterations before an idle OpenMP thread sleeps (libgomp's default: 300,000).
SPIN_COUNT = "1000"
USER_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def configure_openmp() -> str:
    """Set GOMP_SPINCOUNT for this process and its children unless the user chose a wait policy.

    Returns what happened: "set", "user" (the user's setting stands) or "late" (torch was
    imported before colorgan, so its OpenMP runtime has already read the environment).
    """
    if any(name in os.environ for name in USER_SETTINGS):
        return "user"
    os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT  # children (DDP ranks, sweep workers) inherit it
    return "late" if "torch" in sys.modules else "set"


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, e.g. under SLURM or taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def threads_per_job(jobs: int) -> int:
    """Intra-op threads for one of `jobs` processes sharing this machine's cores: cores / jobs."""
    return max(1, usable_cores() // max(1, jobs))


def share_cores(jobs: int) -> int:
    """Give this process its share of the cores when `jobs` run at once, unless OMP_NUM_THREADS
    already chose (a user, or joblib's workers, which set it to cores / jobs themselves).
    Returns the intra-op thread count in effect."""
    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(threads_per_job(jobs))
    return torch.get_num_threads()
