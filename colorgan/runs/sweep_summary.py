"""A Hydra callback that records how every job ended and writes `<sweep dir>/sweep_summary.md`.

Hydra runs every job of a batch even when one fails, then raises the first failure, so the
multirun's own end hook never runs after a failed job. The summary is therefore written at the
end of the multirun *or* when the launching process exits, whichever comes first; each job's
`job_status.json` (written in the job's own process, so it also works with joblib and SLURM) says
whether it finished and, if not, why.
"""

from __future__ import annotations

import atexit
import logging
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from colorgan.framework_internals import job_exception
from colorgan.runs.run_dir import JOB_STATUS, Run, find_runs, is_run_dir, write_json
from colorgan.runs.run_lock import claimed
from colorgan.system.atomic_io import write_text

log = logging.getLogger(__name__)

SUMMARY = "sweep_summary.md"


def _error_text(error: BaseException) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= 300 else text[:297] + "..."


def write_job_status(output_dir: Path, num: int | None, overrides: list[str] | None,
                     error: BaseException | None = None) -> None:
    """`<run dir>/job_status.json`: COMPLETED, or FAILED with the error."""
    status: dict[str, Any] = {"status": "FAILED" if error else "COMPLETED", "num": num, "overrides": list(overrides or [])}
    if error is not None:
        status["error"] = _error_text(error)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(output_dir / JOB_STATUS, status)


class SweepSummary(Callback):
    """`hydra.callbacks.sweep_summary: {_target_: colorgan.runs.sweep_summary.SweepSummary}`."""

    def __init__(self) -> None:
        self.sweep_dir: Path | None = None

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        output_dir = Path(config.hydra.runtime.output_dir)
        if not claimed(output_dir) and (config.hydra.mode != RunMode.MULTIRUN or is_run_dir(output_dir)):
            return  # a refused run: the directory is another run's, or was removed with nothing in it
        error = job_exception(job_return) if job_return.status == JobStatus.FAILED else None  # .return_value re-raises
        write_job_status(output_dir, config.hydra.job.get("num"), job_return.overrides, error)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.sweep_dir = Path(config.hydra.sweep.dir)
        atexit.register(self._write)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        atexit.unregister(self._write)
        self._write()

    def _write(self) -> None:
        if self.sweep_dir is None or not self.sweep_dir.is_dir():
            return
        path = write_summary(self.sweep_dir)
        log.info("Sweep summary: %s", path)


def _status(run: Run) -> str:
    if run.failed:
        return "FAILED"
    return "finished" if run.finished else "unfinished"


def write_summary(sweep_dir: Path) -> Path:
    """Write `<sweep_dir>/sweep_summary.md`: one line per job, failed ones with their error."""
    runs = find_runs([sweep_dir])
    counts = {s: sum(_status(r) == s for r in runs) for s in ("finished", "FAILED", "unfinished")}
    lines = [
        f"# Sweep summary: {sweep_dir}",
        "",
        f"{len(runs)} jobs: {counts['finished']} finished, {counts['FAILED']} failed, "
        f"{counts['unfinished']} unfinished.",
        "",
        "| job | status | test MAE | fit time (s) | problem |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        mae = (run.test_metrics or {}).get("test/mae")
        seconds = run.info.get("fit_seconds")
        lines.append(
            f"| {run.path.relative_to(sweep_dir)} | {_status(run)} | {'' if mae is None else f'{mae:.3f}'} "
            f"| {'' if seconds is None else f'{seconds:.1f}'} | {(run.problem() or '').replace('|', '/')} |"
        )
    if counts["FAILED"] or counts["unfinished"]:
        lines += ["", "Runs without results are left out of `python -m colorgan.report`; their logs are in their dirs."]
    path = sweep_dir / SUMMARY
    write_text(path, "\n".join(lines) + "\n")
    for line in lines[2:3] + [f"  {r.path.name}: {r.problem()}" for r in runs if r.problem()]:
        log.info(line)
    return path
