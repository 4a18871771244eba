"""Train one colorizer: `python -m colorgan.train +experiment=unet_lrelu [overrides...]`.
Continue an interrupted one: `python -m colorgan.train resume=<run dir>` (docs/resume.md).

Compose the config, check it, seed, build data, model, callbacks and loggers, fit, test the best
checkpoint, and return the metric a sweeper optimises.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import rich
import rich.syntax
import rich.tree
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from colorgan.callbacks.dashboards import log_final_hparams
from colorgan.config_validation import validate_config
from colorgan.errors import UserExit, exit_on_user_error, user_error_in, wants_traceback
from colorgan.pretrained.bundle import register_config_resolver
from colorgan.quiet import silence_library_noise
from colorgan.report.tables import logged_comparison, print_comparison
from colorgan.runs.devices import check_ddp_launch, fit_ddp_to, job_device
from colorgan.runs.loggers import build_loggers, finish_wandb, log_config
from colorgan.runs.objectives import objective
from colorgan.runs.resume import checkpoint_to_resume, is_sweep_dir, resume_command_line
from colorgan.runs.run_dir import (
    CONFIG,
    RUN_INFO,
    TEST_METRICS,
    TEST_PER_IMAGE,
    Run,
    write_hydra_record,
    write_json,
    write_per_image,
)
from colorgan.runs.run_lock import claimed, own_run_dir
from colorgan.runs.sweep_summary import write_job_status
from colorgan.system.atomic_io import write_text
from colorgan.system.machine import cpu_summary, machine

log = logging.getLogger(__name__)
register_config_resolver()  # ${shipped_model:}: the shipped photo.pt as a warm start (photo_lite_* experiments)


def print_config_tree(cfg: DictConfig) -> None:
    tree = rich.tree.Tree("config", style="dim")
    for key, value in cfg.items():
        branch = tree.add(str(key), style="bold")
        text = OmegaConf.to_yaml(value, resolve=True) if isinstance(value, DictConfig) else str(value)
        branch.add(rich.syntax.Syntax(text, "yaml"))
    rich.print(tree)


def fit_info(cfg: DictConfig, trainer: L.Trainer, started: float, fit_started: float,
             ckpt_path: Path | None) -> dict[str, Any]:
    """run_info.json: `fit_seconds` is the training time of the whole run, every job of it (an
    interrupted one and its resumes; a job killed with SIGKILL writes nothing and is not counted)."""
    ended = time.time()
    before = Run(Path(cfg.paths.output_dir)).info if ckpt_path else {}
    earlier = before.get("fit_seconds_per_job") or ([before["fit_seconds"]] if "fit_seconds" in before else [])
    per_job = [*earlier, ended - fit_started]
    return {"fit_seconds": sum(per_job), "fit_seconds_per_job": per_job, "started_at": started,
            "fit_ended_at": ended, "epochs": trainer.current_epoch, "global_step": trainer.global_step,
            "world_size": trainer.world_size, "device_slot": cfg.get("device_slot"),
            "resumed_from": str(ckpt_path) if ckpt_path else None,
            "machine": machine(trainer.strategy.root_device), "cpu": cpu_summary()}


def train(cfg: DictConfig, validated: bool = False) -> dict[str, Any]:
    """Fit and test one model as `cfg` says; returns every logged metric as floats."""
    if not validated:
        validate_config(cfg)  # before anything slow: bad values fail in a second
    if cfg.get("print_config"):
        print_config_tree(cfg)
    started = time.time()
    L.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_text(output_dir / CONFIG, OmegaConf.to_yaml(cfg, resolve=True))
    ckpt_path = checkpoint_to_resume(cfg, output_dir)
    if ckpt_path:
        log.info("Continuing from checkpoint %s", ckpt_path)

    datamodule = instantiate(cfg.data, _convert_="all")
    model = instantiate(cfg.model, _convert_="all")
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = build_loggers(cfg)
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    check_ddp_launch(trainer.strategy)
    fit_ddp_to(model, trainer.strategy)
    log_config(cfg, loggers)
    if trainer.is_global_zero:  # what the run's speed was measured on (also in run_info.json)
        log.info("Training on %s. %s.", machine(trainer.strategy.root_device), cpu_summary())

    fit_started = time.time()
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    finally:  # also when interrupted: a resumed run's time adds up over its jobs
        if trainer.is_global_zero:
            write_json(output_dir / RUN_INFO, fit_info(cfg, trainer, started, fit_started, ckpt_path))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if cfg.get("test", True):
        best = getattr(trainer.checkpoint_callback, "best_model_path", "")
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None, verbose=False)  # our table instead
        test_metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test")}
        metrics.update(test_metrics)
        if trainer.is_global_zero:
            write_json(output_dir / TEST_METRICS, test_metrics)
            if model.test_per_image is not None:
                write_per_image(output_dir / TEST_PER_IMAGE, model.test_per_image)
            print_comparison("test metrics (RGB output vs truth)", *logged_comparison(test_metrics))
    # TensorBoard's HParams view: the config next to the final metrics (the test's when tested).
    final = {k: v for k, v in metrics.items() if k.startswith("test")} or metrics
    log_final_hparams(cfg, loggers, final, trainer.global_step)
    return metrics


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | list[float] | None:
    silence_library_noise()
    output_dir = Path(cfg.paths.output_dir)
    optimized = cfg.get("optimized_metric")
    if cfg.get("resume") and is_sweep_dir(cfg.resume) and Run(output_dir).finished:  # finishing a sweep
        log.info("Job %s finished before; its results are kept as they are.", output_dir)
        return objective(Run(output_dir).final_metrics(), optimized)  # val/* too, as when it ran

    def accept() -> None:  # before anything in the run directory changes
        validate_config(cfg)
        write_hydra_record(output_dir, cfg)

    try:
        with own_run_dir(output_dir, accept, keep_parents_of=Path(cfg.paths.log_dir)), job_device(cfg) as cfg:
            try:
                metrics = train(cfg, validated=True)
            finally:  # before own_run_dir removes the folder of a run refused after the data scan
                finish_wandb()
    except Exception as error:
        user_error = user_error_in(error)
        if user_error is None:  # a bug: its traceback follows, once
            log.error("Training failed; outputs so far are in %s", output_dir)
            raise
        if HydraConfig.get().mode == RunMode.MULTIRUN or wants_traceback():
            raise  # the sweep records it and goes on to its next job
        if claimed(output_dir):
            write_job_status(output_dir, None, HydraConfig.get().overrides.task, error)
        raise UserExit(user_error) from None  # said once, by exit_on_user_error
    return objective(metrics, optimized)  # one name, or a list for a multi-objective search


if __name__ == "__main__":
    def run() -> None:
        sys.argv = resume_command_line(sys.argv)  # resume=<run dir>: that run's command line and directory
        main()

    exit_on_user_error(run)
