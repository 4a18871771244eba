"""Which devices a job trains on: one GPU per job in a parallel sweep, and DDP only where it can start.

- `hydra/launcher=parallel` (Hydra's joblib launcher) runs `n_jobs` jobs at once on one machine. Each
  job takes the first free one of `n_jobs` device slots (a lock file under the sweep dir, held until the
  job ends), so no two running jobs share a slot whichever order they finish in. On a GPU machine the
  job trains on GPU `slot % gpu_count`; on CPU it takes cores / n_jobs threads (colorgan/system/threads.py).
  A job given `trainer=ddp` or `trainer=ddp_spawn` trains on its one device with strategy=auto.
- Lightning's `strategy=ddp` re-launches `python -m colorgan.train <argv>` for ranks 1..N-1. Inside a
  Hydra multirun that argv is the whole sweep, so every rank would start a sweep of its own (an open
  upstream problem). `check_ddp_launch` stops such a job before it forks, and says what works instead.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from colorgan.framework_internals import ddp_kwargs, ignore_in_ddp
from colorgan.system.threads import share_cores

log = logging.getLogger(__name__)

SLOT_DIR = ".device_slots"  # under the sweep dir


def gpu_count() -> int:
    """GPUs this process can see, at least 1: the default number of parallel jobs."""
    return max(torch.cuda.device_count(), 1)


if not OmegaConf.has_resolver("gpu_count"):
    OmegaConf.register_new_resolver("gpu_count", gpu_count)


@contextmanager
def device_slot(lock_dir: Path, slots: int, poll_seconds: float = 0.5) -> Iterator[int]:
    """Hold the first free one of `slots` lock files in `lock_dir` while the block runs; yields its index.

    flock locks die with their process, so a killed job never keeps its slot.
    """
    if slots < 1:
        raise ValueError(f"A device pool needs at least one slot, got {slots}.")
    lock_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for index in range(slots):
            handle = open(lock_dir / f"slot_{index}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield index
            finally:
                handle.close()  # releases the lock
            return
        time.sleep(poll_seconds)


def parallel_slots() -> int | None:
    """Number of jobs that run at once when this job is part of a joblib (parallel) sweep, else None."""
    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN or not str(hydra_cfg.launcher.get("_target_", "")).endswith("JoblibLauncher"):
        return None
    from joblib import effective_n_jobs

    return effective_n_jobs(hydra_cfg.launcher.n_jobs)


def _uses_gpu(trainer_cfg: DictConfig) -> bool:
    accelerator = str(trainer_cfg.get("accelerator", "auto"))
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


@contextmanager
def job_device(cfg: DictConfig) -> Iterator[DictConfig]:
    """Run the block on this job's own device when the job is part of a parallel sweep.

    Sets `cfg.device_slot` and, on GPU, `cfg.trainer.devices=[gpu]`; on CPU, `cfg.cpu_threads`: the
    job's share of the cores (colorgan.system.threads.share_cores). Outside a parallel sweep `cfg` is left
    as it is.
    """
    slots = parallel_slots()
    if slots is None:
        yield cfg
        return
    devices = cfg.trainer.get("devices", 1)
    if _uses_gpu(cfg.trainer) and str(devices) not in ("1", "auto"):
        raise ValueError(
            f"A parallel sweep gives each job one GPU, but trainer.devices={devices}. Leave trainer.devices "
            "at 1, or run multi-GPU jobs one at a time (see docs/sweeps.md)."
        )
    with device_slot(Path(HydraConfig.get().sweep.dir) / SLOT_DIR, slots) as slot:
        with open_dict(cfg):
            cfg.device_slot = slot
            if str(cfg.trainer.get("strategy", "auto")).startswith("ddp"):
                # One device per job: DDP would only add its wrapper (and strategy=ddp's script
                # re-launcher, which check_ddp_launch refuses in a sweep). Train as a single device.
                log.info("hydra/launcher=parallel gives this job one device: trainer.strategy=%s becomes auto.",
                         cfg.trainer.strategy)
                cfg.trainer.strategy = "auto"
            if _uses_gpu(cfg.trainer):
                cfg.trainer.devices = [slot % gpu_count()]
            else:  # CPU jobs share the cores: each takes its part, not all of them
                cfg.cpu_threads = share_cores(slots)
        yield cfg


def check_ddp_launch(strategy) -> None:
    """Raise when Lightning is about to re-launch this script for DDP ranks inside a Hydra multirun."""
    launcher = getattr(strategy, "launcher", None)
    relaunches = type(launcher).__name__ == "_SubprocessScriptLauncher" and not getattr(
        launcher.cluster_environment, "creates_processes_externally", False
    )
    if relaunches and HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise RuntimeError(
            "Lightning's DDP (strategy=ddp) re-launches this script for its other ranks, which does not work "
            "inside a Hydra multirun: each rank would start the whole sweep again. In a sweep, use "
            "trainer=ddp_spawn for DDP jobs, one GPU per job with hydra/launcher=parallel, or a SLURM launcher "
            "whose tasks are the ranks (hydra/launcher=slurm hydra.launcher.gpus_per_node=N trainer=ddp). "
            "trainer=ddp works as it is for a single run (no -m)."
        )


def fit_ddp_to(model, strategy) -> None:
    """Set up DDP for a manually optimized model (the GAN), the cheapest correct way.

    The GAN's D step leaves G without gradients, its G step leaves the frozen D without: DDP's
    reducer, which expects a gradient for every parameter, stops at the first step. The choices:
    - static_graph: wrong here; it assumes the same parameters are used in every backward.
    - find_unused_parameters=True: correct, but each backward walks the autograd graph, and for
      parameters unused on this rank the reducer all-reduces a used-map and copies it to the host
      (a blocking read, twice per GAN step on a GPU).
    - chosen: the networks in `model.reduced_by_hand()` (D) are kept out of DDP's reducer, their
      gradients are averaged by the model in one flat all-reduce per step (no host read); the
      reducer then sees only G, whose every parameter gets a gradient in G's backward, so neither
      the graph walk nor find_unused_parameters is needed. D's backward runs with the reducer off.
    A user's explicit `find_unused_parameters` or `static_graph` is left as it is (then nothing
    is ignored). Automatic optimization (the U-Net) keeps DDP's default.
    """
    from lightning.pytorch.strategies import DDPStrategy

    if not isinstance(strategy, DDPStrategy) or model.automatic_optimization:
        return
    if {"find_unused_parameters", "static_graph"} & set(ddp_kwargs(strategy)):
        return
    ignored = [
        f"{prefix}.{name}"
        for prefix, network in model.reduced_by_hand().items()
        for name, _ in (*network.named_parameters(), *network.named_buffers())
    ]
    ignore_in_ddp(model, ignored)
