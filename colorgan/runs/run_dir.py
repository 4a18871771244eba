"""What a run leaves on disk, and how to find runs under a folder: the contract between
`colorgan.train` (writes), the sweep summary and `colorgan.report` (read), so both work offline.

A run directory holds:
    .colorgan.lock       the process writing the run    (run_lock, while it runs)
    config.yaml          the resolved config            (train, at start)
    .hydra/              Hydra's record of the job      (train, once the run owns the directory)
    csv/metrics.csv      every logged metric            (CSVLogger)
    run_info.json        fit wall time, epochs, steps   (train, after fit)
    test_metrics.json    test/* and test_baseline/*     (train, after test)
    test_per_image.csv   mae, psnr, colorfulness of each test image, model and baseline (train, after test)
    job_status.json      COMPLETED or FAILED + error    (sweep_summary.JobStatusFile, at job end)
    checkpoints/         best-*.ckpt, last.ckpt
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from colorgan.errors import UserError
from colorgan.system.atomic_io import write_text

# Every name of a run directory, spelled here only; the other modules import them.
LOCK = ".colorgan.lock"
CONFIG = "config.yaml"
RUN_INFO = "run_info.json"
TEST_METRICS = "test_metrics.json"
TEST_PER_IMAGE = "test_per_image.csv"
JOB_STATUS = "job_status.json"
HYDRA_RECORD = ".hydra"  # config.yaml, hydra.yaml, overrides.yaml (what resume= rebuilds the command from)
OVERRIDES = "overrides.yaml"  # in HYDRA_RECORD: the command line's overrides
CHECKPOINTS = "checkpoints"  # the folder of a run's checkpoints
LAST_CHECKPOINT = "last.ckpt"  # in CHECKPOINTS: the one resume= continues from
METRICS_CSV = Path("csv") / "metrics.csv"  # the CSV logger's file (conf/logger/csv.yaml: name csv, no version)
WANDB_ID = "wandb_run_id"  # the W&B run id a resumed job continues
MULTIRUN_RECORD = "multirun.yaml"  # Hydra's record of a sweep, in its sweep dir
# Folders inside a run that never hold another run (W&B's offline dir has its own config.yaml).
NOT_RUNS = {HYDRA_RECORD, ".submitit", ".device_slots", "wandb", METRICS_CSV.parent.name, CHECKPOINTS, "images"}


def new_run_dir(stamped: str) -> str:
    """A folder of its own for a new run: `stamped` (logs/runs/NAME/TIME), or `stamped`_2, _3, ... when
    another run took it (two runs started in the same second). Made here, with an exclusive mkdir, so
    no two processes get the same one; conf/hydra/default.yaml names `hydra.run.dir` with it
    (`${colorgan.new_run_dir:...}`, cached: resolved once per run). A folder that cannot be made at
    all is left to the run-dir check (config_validation), which says why."""
    path, number = Path(stamped), 1
    while True:
        try:
            path.mkdir(parents=True)
            return str(path)
        except FileExistsError:
            number += 1
            path = Path(f"{stamped}_{number}")
        except OSError:
            return stamped


if not OmegaConf.has_resolver("colorgan.new_run_dir"):
    OmegaConf.register_new_resolver("colorgan.new_run_dir", new_run_dir, use_cache=True)


def run_dir_of_checkpoint(checkpoint: Path) -> Path:
    """The run directory of `<run>/checkpoints/x.ckpt`; the folder of a checkpoint kept elsewhere."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent.parent if checkpoint.parent.name == CHECKPOINTS else checkpoint.parent


class RunFileError(UserError, ValueError):
    """A file of a run directory is not what colorgan wrote there (edited, truncated, planted)."""


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True))


def write_hydra_record(run_dir: Path, task_cfg: DictConfig) -> None:
    """Hydra's record of the job, as Hydra writes it, but only once the run owns its directory
    (conf/hydra sets `output_subdir: null`): a refused run must not rewrite another run's record."""
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    folder = run_dir / HYDRA_RECORD
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "config.yaml": task_cfg,
        "hydra.yaml": OmegaConf.create({"hydra": OmegaConf.to_container(hydra_cfg, resolve=False)}),
        "overrides.yaml": hydra_cfg.overrides.task,
    }
    for name, node in record.items():
        write_text(folder / name, OmegaConf.to_yaml(node))


def write_per_image(path: Path, columns: dict[str, Any]) -> None:
    """One row per test image (`image`: its index in the test set), one column per metric."""
    names = list(columns)
    rows = zip(*(columns[n].tolist() for n in names), strict=True)
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["image", *names])
    writer.writerows([i, *(f"{v:.6g}" for v in row)] for i, row in enumerate(rows))
    write_text(path, text.getvalue())


def read_per_image(path: Path) -> dict[str, list[float]] | None:
    """test_per_image.csv as {column: values}, or None when the run has none."""
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            columns: dict[str, list[float]] = {name: [] for name in reader.fieldnames or []}
            for row in reader:
                for name, value in row.items():
                    columns[name].append(float(value))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, csv.Error) as err:
        raise RunFileError(f"{path} is not a valid per-image metrics file ({err}); delete it or re-run the test.") from err
    return columns


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as err:
        raise RunFileError(f"{path} is not valid JSON ({err}); delete it or re-run the job.") from err


def read_yaml(path: Path) -> Any:
    """A YAML file colorgan wrote, read with a safe loader (plain values only: a planted
    `!!python/object` tag is refused, never run); None when the file is absent."""
    if not path.is_file():
        return None
    try:
        return OmegaConf.load(path)
    except Exception as err:  # yaml's ConstructorError / ScannerError, OmegaConf's errors
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise RunFileError(f"{path} is not a plain YAML file colorgan wrote ({first}); it was not used. "
                           "Restore it from the run's other records, or delete the run.") from None


def override_key(override: str) -> str:
    """The key of a command-line override: `name` for `name=x`, `+name=x` and `~name`."""
    return override.split("=", 1)[0].lstrip("+~")


def read_overrides(run_dir: Path) -> list[str] | None:
    """The run's command-line overrides (.hydra/overrides.yaml) as a list of strings, read safely;
    None when the run has no record."""
    path = run_dir / HYDRA_RECORD / "overrides.yaml"
    if not path.is_file():
        return None
    try:
        overrides = yaml.safe_load(path.read_text()) or []
    except yaml.YAMLError:
        overrides = None
    if not (isinstance(overrides, list) and all(isinstance(o, str) for o in overrides)):
        raise RunFileError(f"{path} is not the list of overrides colorgan wrote, so the run's command line is "
                           "unknown; it was not used.")
    return overrides


@dataclass
class Run:
    """One run directory, read lazily."""

    path: Path

    @cached_property
    def config(self) -> DictConfig | None:
        return read_yaml(self.path / CONFIG)

    @cached_property
    def overrides(self) -> list[str] | None:
        return read_overrides(self.path)

    @cached_property
    def test_metrics(self) -> dict[str, float] | None:
        metrics = _read_json(self.path / TEST_METRICS)
        if metrics is not None and not (
            isinstance(metrics, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values())
        ):
            raise RunFileError(f"{self.path / TEST_METRICS} does not hold metric names and numbers; delete it or "
                               "test the run again.")
        return metrics

    @cached_property
    def per_image(self) -> dict[str, list[float]] | None:
        return read_per_image(self.path / TEST_PER_IMAGE)

    @cached_property
    def info(self) -> dict[str, Any]:
        return _read_json(self.path / RUN_INFO) or {}

    @cached_property
    def job_status(self) -> dict[str, Any] | None:
        return _read_json(self.path / JOB_STATUS)

    def final_metrics(self) -> dict[str, float]:
        """Every metric's last value in csv/metrics.csv, then the test metrics: what the run's job
        returned to a sweeper (its trainer's metrics when it ended), for a finished job asked again."""
        values: dict[str, float] = {}
        try:
            with open(self.path / METRICS_CSV, newline="") as f:
                for row in csv.DictReader(f):
                    for name, value in row.items():
                        try:
                            values[name] = float(value)
                        except (TypeError, ValueError):  # an empty cell: not logged at that step
                            pass
        except OSError:
            pass
        for counter in ("epoch", "step"):
            values.pop(counter, None)
        return {**values, **(self.test_metrics or {})}

    @property
    def finished(self) -> bool:
        return self.test_metrics is not None

    @property
    def failed(self) -> bool:
        return (self.job_status or {}).get("status") == "FAILED"

    def problem(self) -> str | None:
        """Why this run has no results, or None when it has."""
        if self.failed:
            return f"failed: {self.job_status.get('error', 'unknown error')}"
        if self.config is None:
            return f"no {CONFIG}: the job stopped before training started"
        if not self.finished:
            if self.config.get("test") is False:
                return f"trained with test=false, so there is no {TEST_METRICS}"
            return f"no {TEST_METRICS}: the run is still going, was killed, or its test step never ran"
        return None

    @cached_property
    def experiment(self) -> str:
        """The name given on its command line (`name=gan_recipe`: a variant of an experiment), else
        the experiment file it was launched with (unet, gan_lrelu, ...), else the run name."""
        try:
            named = [o.split("=", 1)[1] for o in self.overrides or [] if override_key(o) == "name" and "=" in o]
        except RunFileError:
            named = []
        if named:
            return named[-1]
        hydra_record = read_yaml(self.path / HYDRA_RECORD / "hydra.yaml")
        if hydra_record is not None:
            choice = OmegaConf.select(hydra_record, "hydra.runtime.choices.experiment")
            if choice:
                return str(choice)
        return str(self.config.get("name", self.path.name)) if self.config is not None else self.path.name

    def checkpoint(self) -> Path | None:
        """The best checkpoint (what was tested), else the last one, else the one file a retest copied
        there (a packed model such as the shipped photo.pt)."""
        best = sorted((self.path / CHECKPOINTS).glob("best-*.ckpt"))
        if best:
            return best[-1]
        last = self.path / CHECKPOINTS / LAST_CHECKPOINT
        if last.is_file():
            return last
        others = sorted(p for p in (self.path / CHECKPOINTS).glob("*") if p.suffix in (".ckpt", ".pt"))
        return others[0] if len(others) == 1 else None


def is_run_dir(path: Path) -> bool:
    """A run, or a sweep job refused before it started (it has only its job_status.json, saying why)."""
    return path.name not in NOT_RUNS and any((path / name).exists() for name in (CONFIG, HYDRA_RECORD, JOB_STATUS))


def find_runs(folders: Iterable[str | Path]) -> list[Run]:
    """Every run directory in or under `folders` (runs or sweep dirs), in path order, each once."""
    found: dict[Path, Run] = {}
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} is not a directory; give run or sweep directories.")
        for root, dirs, _ in os.walk(folder):
            root_path = Path(root)
            if is_run_dir(root_path):
                found.setdefault(root_path.resolve(), Run(root_path))
            dirs[:] = sorted(d for d in dirs if d not in NOT_RUNS)
    return sorted(found.values(), key=lambda run: _natural_key(run.path))


def _natural_key(path: Path) -> list:
    """Sort 2_x before 10_x (sweep job dirs start with the job number)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]
