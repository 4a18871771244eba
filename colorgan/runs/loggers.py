"""Everything about loggers: the CSV and W&B loggers a run gets (`logger=` configs), W&B offline
without credentials and never a prompt, one W&B run and one metrics.csv per run directory
however many jobs (resume, SLURM requeue) write it, and every W&B run finished when its job ends."""

from __future__ import annotations

import csv
import logging
import netrc
import os
import re
import secrets
from pathlib import Path

from hydra.utils import instantiate
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from colorgan.framework_internals import wandb_offline
from colorgan.runs.run_dir import WANDB_ID
from colorgan.system.atomic_io import atomic_path, write_text

log = logging.getLogger(__name__)



class WandbLogger(LightningWandbLogger):
    """Lightning's WandbLogger, minus the `anonymous=None` it always passes to `wandb.init`
    (W&B warns at every run that the setting has no effect)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)


def offline_folders(save_dir: Path, run_id: str) -> list[Path]:
    """Every offline folder of one W&B run: each job of a resumed run writes its own
    (`offline-run-<time>-<id>`, or `...-<id>-1` when two start within a second)."""
    pattern = re.compile(rf"^offline-run-\d{{8}}_\d{{6}}-{re.escape(run_id)}(-\d+)?$")
    return sorted(p for p in (Path(save_dir) / "wandb").glob("offline-run-*") if pattern.match(p.name))


def has_wandb_credentials() -> bool:
    """True when an API key is in WANDB_API_KEY or in ~/.netrc (where `wandb login` puts it)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("://")[-1]
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def choose_mode(configured: str | None) -> str:
    """"online" or "offline": WANDB_MODE or the config win; else online only with credentials."""
    mode = os.environ.get("WANDB_MODE") or configured
    if mode in ("offline", "disabled", "dryrun"):
        return "offline"
    if mode == "online":
        return "online"
    return "online" if has_wandb_credentials() else "offline"


def describe_offline_run(logger: WandbLogger) -> str:
    run_dir = Path(logger.experiment.dir).parent
    folders = offline_folders(run_dir.parent.parent, logger.experiment.id) or [run_dir]
    if len(folders) == 1:
        return f"W&B is offline (no credentials found): run written to {run_dir}; upload it later with `wandb sync {run_dir}`."
    return (f"W&B is offline (no credentials found): this run's {len(folders)} parts (one per job) are in "
            f"{run_dir.parent}; upload them later with `wandb sync {' '.join(map(str, folders))}`.")


def finish_wandb() -> None:
    """Finish any open W&B run, so one job of a sweep never logs into the next job's run."""
    try:
        import wandb
    except ImportError:
        return
    if wandb.run is not None:
        wandb.finish()


# W&B stages a copy of every file an artifact adds (the checkpoints CheckpointArtifacts logs) under
# WANDB_DATA_DIR, by default ~/.local/share/wandb, outside the run, where nothing removes what an
# offline run staged. Unless the user chose a folder, each run stages inside its own wandb/ folder:
# `wandb sync` finds the copies there, and deleting the run deletes them.
USER_DATA_DIR = os.environ.get("WANDB_DATA_DIR")
STAGING_IN_RUN = Path("wandb") / "data"


def stage_artifacts_in(run_dir: Path) -> None:
    """Point W&B's staging at `run_dir`/wandb/data for this job (read when an artifact adds a file)."""
    if USER_DATA_DIR is None:
        os.environ["WANDB_DATA_DIR"] = str(Path(run_dir).resolve() / STAGING_IN_RUN)


def build_loggers(cfg: DictConfig) -> list:
    loggers = []
    for node in (cfg.get("logger") or {}).values():
        if node is None:
            continue
        if "WandbLogger" in node._target_:
            node = OmegaConf.to_container(node, resolve=True)
            node["offline"] = choose_mode(node.pop("mode", None)) == "offline"
            # One W&B run per run directory: a resumed or requeued job continues it.
            node["id"] = node.get("id") or wandb_run_id(Path(cfg.paths.output_dir))
            node.setdefault("resume", "allow")
            stage_artifacts_in(Path(cfg.paths.output_dir))
        loggers.append(instantiate(node))
    return loggers


def log_config(cfg: DictConfig, loggers: list) -> None:
    """Give W&B the resolved config, and say where an offline W&B run is written."""
    for logger in loggers:
        if isinstance(logger, LightningWandbLogger):
            logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
            if wandb_offline(logger) and rank_zero_only.rank == 0:  # other DDP ranks have no W&B run
                log.info(describe_offline_run(logger))


# -- loggers that continue a run --------------------------------------------------------------------
def wandb_run_id(run_dir: Path) -> str:
    """This run directory's W&B run id: made and stored in `<run dir>/wandb_run_id` by the first
    job, read by every later one (resume, SLURM requeue), so they all log into the same W&B run."""
    path = Path(run_dir) / WANDB_ID
    if path.is_file():
        return path.read_text().strip()
    run_id = secrets.token_hex(4)  # 8 characters of [0-9a-f], like W&B's own ids
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, run_id + "\n")
    return run_id


class _ContinuedMetricsFile(ExperimentWriter):
    """Lightning's writer deletes an existing metrics.csv when it starts. This one keeps it: on its
    first write it drops the rows at or after the first step this job logs (the part of the
    interrupted run that the resumed one replays from its checkpoint) and appends after the rest."""

    def __init__(self, log_dir: str) -> None:
        self._trim_pending = True
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        pass  # keep the previous job's files

    def save(self) -> None:
        if self._trim_pending and self.metrics:
            self._keep_rows_before(min(int(row["step"]) for row in self.metrics))
            self._trim_pending = False
        super().save()

    def _keep_rows_before(self, step: int) -> None:
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames or [])
            rows = [row for row in reader if row.get("step") and int(float(row["step"])) < step]
        if not rows:
            path.unlink()
            return
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        self.metrics_keys = sorted(set(self.metrics_keys) | set(header))


class ContinuedCSVLogger(CSVLogger):
    """CSVLogger that appends to the run's metrics.csv when a job continues a run (resume, SLURM
    requeue) instead of deleting it; rows the resumed run replays are not duplicated."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuedMetricsFile(log_dir=self.log_dir)
        return self._experiment
