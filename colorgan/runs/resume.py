"""Continue an interrupted run: `python -m colorgan.train resume=<run dir or checkpoint> [overrides]`.

A resumed run uses its original command line (read from `<run dir>/.hydra/overrides.yaml`, with
any overrides given now on top), writes into the same run directory, continues the same W&B run
and appends to the same metrics.csv (colorgan.runs.loggers). Lightning restores the rest from the checkpoint.
"""

from __future__ import annotations

import logging
import re
import shlex
from pathlib import Path
from typing import Any

import yaml
from lightning.fabric.plugins.environments import SLURMEnvironment

from colorgan.errors import UserError
from colorgan.runs.run_dir import (
    CHECKPOINTS,
    HYDRA_RECORD,
    LAST_CHECKPOINT,
    MULTIRUN_RECORD,
    OVERRIDES,
    RunFileError,
    override_key,
)
from colorgan.runs.run_dir import read_overrides as run_dir_overrides

log = logging.getLogger(__name__)

LAST = Path(CHECKPOINTS) / LAST_CHECKPOINT
HPC_PATTERN = "hpc_ckpt_*.ckpt"  # Lightning's SLURM requeue checkpoints, in the run dir
_RESUME_ARG = re.compile(r"^\+{0,2}resume=(.*)$")


class ResumeError(UserError, ValueError):
    """`resume=` points at nothing resumable; the message says what was looked for."""


# -- which run, which checkpoint -----------------------------------------------------------------
def run_dir_of(target: str | Path) -> Path | None:
    """The run directory a `resume=` target belongs to: the folder itself, or for a checkpoint
    `<run>/checkpoints/x.ckpt` (or Lightning's `<run>/hpc_ckpt_N.ckpt`) its run. None when the
    target is a checkpoint outside any colorgan run (then it starts a new run from those weights)."""
    path = Path(target).expanduser().resolve()
    if path.is_dir():
        return path
    for candidate in (path.parent.parent, path.parent):
        if (candidate / HYDRA_RECORD / OVERRIDES).is_file():
            return candidate
    return None


def is_sweep_dir(path: str | Path) -> bool:
    return (Path(path).expanduser() / MULTIRUN_RECORD).is_file()


def sweep_overrides(sweep_dir: Path) -> list[str]:
    """The sweep's command-line overrides (hydra.overrides.task of its multirun.yaml), without the
    resume= and hydra.sweep.dir that finishing it adds."""
    path = sweep_dir / MULTIRUN_RECORD
    try:
        record = yaml.safe_load(path.read_text())
        task = record["hydra"]["overrides"]["task"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        task = None
    if not (isinstance(task, list) and all(isinstance(o, str) for o in task)):
        raise ResumeError(f"resume={sweep_dir}: {path} does not hold the sweep's command line, so its jobs are "
                          "unknown. Resume each job with resume=<job dir> instead.")
    return [o for o in task if override_key(o) not in ("resume", "hydra.sweep.dir")]


def checkpoints_in(run_dir: Path) -> list[Path]:
    """Resumable checkpoints of a run, newest first."""
    found = [p for p in [run_dir / LAST, *run_dir.glob(HPC_PATTERN)] if p.is_file()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def resolve_checkpoint(target: str | Path) -> Path:
    """`resume=` value -> the checkpoint file to continue from (a run's newest one)."""
    path = Path(target).expanduser().resolve()
    if path.is_file():
        return path
    if path.is_dir():
        found = checkpoints_in(path)
        if found:
            return found[0]
        raise ResumeError(
            f"resume={target}: no checkpoint in that run directory (looked for {path / LAST} and "
            f"{path / HPC_PATTERN}). A run writes last.ckpt every few minutes; this one stopped before its first, "
            f"so there is nothing to continue: run it again from the start with\n    {original_command(path)}"
        )
    raise ResumeError(f"resume={target}: not found: no such run directory or checkpoint file. Give a run directory "
                      "(logs/runs/<name>/<time>) or a .ckpt file in one.")


def read_overrides(run_dir: Path) -> list[str]:
    """The run's command-line overrides (run_dir.read_overrides); [] when it has no record."""
    try:
        return run_dir_overrides(run_dir) or []
    except RunFileError as err:
        raise ResumeError(f"{err} Start the run again with its original command instead of resume=.") from None


def resume_command(target: str | Path) -> str:
    """`python -m colorgan.train resume=<target>`, quoted so that it can be pasted into a POSIX shell
    whatever the path holds (spaces, quotes, $, unicode)."""
    return f"python -m colorgan.train {shlex.quote(f'resume={target}')}"


def original_command(run_dir: Path) -> str:
    """The command line that started `run_dir` (from .hydra/overrides.yaml), into the same directory."""
    overrides = read_overrides(run_dir)
    if not overrides:
        return f"python -m colorgan.train <its overrides> hydra.run.dir={run_dir}"
    return " ".join(["python -m colorgan.train", *map(shlex.quote, overrides),
                     shlex.quote(f"hydra.run.dir={_hydra_value(str(run_dir))}")])


def checkpoint_to_resume(cfg: Any, output_dir: Path) -> Path | None:
    """The checkpoint this job continues from: `resume`, else `ckpt_path`, else, on a SLURM job
    requeued into the same run directory, that directory's newest checkpoint."""
    if cfg.get("resume"):
        if is_sweep_dir(cfg.resume):  # finishing a sweep: this job continues its own run, or starts it
            found = checkpoints_in(output_dir)
            return found[0] if found else None
        return resolve_checkpoint(cfg.resume)
    if cfg.get("ckpt_path"):
        return Path(cfg.ckpt_path)
    if SLURMEnvironment.detect():
        found = checkpoints_in(output_dir)
        if found:
            log.info("SLURM job continues from %s (requeued into its run directory).", found[0])
            return found[0]
    return None


# -- the command line of a resumed run -----------------------------------------------------------
def _prefix(override: str) -> str:
    return override[: len(override) - len(override.lstrip("+~"))]


def _quote(value: str) -> str:
    """A value as one Hydra override string, whatever it holds."""
    return "'" + value.replace("'", "\\'") + "'"


def _hydra_value(value: str) -> str:
    """The value as it is when Hydra reads it unchanged (paths of plain characters), else quoted."""
    return value if re.fullmatch(r"[\w./:@+~-]+", value, flags=re.ASCII) else _quote(value)


def _unquote(value: str) -> str:
    """A value as the shell handed it over: Hydra's quotes (and its \\' escapes) taken off, if any."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1].replace("\\" + value[0], value[0])
    return value


def merge_overrides(original: list[str], given: list[str]) -> list[str]:
    """The original run's overrides with today's on top: one for the same key replaces the original
    in place (keeping its `+`, so `+callbacks.x.step=7` then `callbacks.x.step=-1` works), `~key`
    drops it, others are appended."""
    merged = list(original)
    for arg in given:
        same = [i for i, o in enumerate(merged) if override_key(o) == override_key(arg)]
        if not same:
            merged.append(arg)
            continue
        for i in same[1:]:
            merged[i] = None
        old = merged[same[0]]
        if _prefix(arg) == "~":
            merged[same[0]] = None if _prefix(old).startswith("+") else arg
        else:
            merged[same[0]] = arg if _prefix(arg) else _prefix(old) + arg
        merged = [o for o in merged if o is not None]
    return merged


def resume_command_line(argv: list[str]) -> list[str]:
    """argv of `python -m colorgan.train resume=<run> [overrides]` -> the run's original overrides
    with today's on top, then `hydra.run.dir=<run>`. Other command lines come back unchanged.

    Done before Hydra parses the command line, because the run directory is fixed by then.
    """
    targets = [m.group(1) for arg in argv[1:] if (m := _RESUME_ARG.match(arg))]
    if not targets:
        return argv
    given = [arg for arg in argv[1:] if "=" in arg and not arg.startswith("-")]
    flags = [arg for arg in argv[1:] if arg not in given and arg not in ("-m", "--multirun")]
    value = _unquote(targets[-1])
    given = [arg for arg in given if not _RESUME_ARG.match(arg)] + [f"resume={_hydra_value(value)}"]  # one, as Hydra reads it
    target = Path(value).expanduser()
    if is_sweep_dir(target):  # the sweep again, into its own folder: finished jobs kept, the others done
        sweep_dir = target.resolve()
        merged = merge_overrides(sweep_overrides(sweep_dir), [a for a in given if override_key(a) != "resume"])
        return [argv[0], "-m", *flags, *merged, f"resume={_quote(str(sweep_dir))}",
                f"hydra.sweep.dir={_quote(str(sweep_dir))}"]
    if any(arg in ("-m", "--multirun") for arg in argv[1:]):
        raise SystemExit("resume= continues one run or one sweep (a folder holding multirun.yaml); drop -m/--multirun.")
    run_dir = run_dir_of(target)
    if run_dir is None:  # a foreign checkpoint or a typo: train() continues or explains
        return [argv[0], *flags, *given]
    original = read_overrides(run_dir)
    merged = merge_overrides(original, given)
    if not any(override_key(arg) == "hydra.run.dir" for arg in given):
        merged.append(f"hydra.run.dir={_quote(str(run_dir))}")
    if any(override_key(o) in ("sweep", "search") for o in merged):  # they set MULTIRUN; a job continues as one run
        merged.append("hydra.mode=RUN")
    return [argv[0], *flags, *merged]
