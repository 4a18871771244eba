"""What `python -m colorgan.train` returns to a sweeper: the value of `optimized_metric`, one
metric name, or a list of names for a multi-objective search (the Optuna sweeper of
`+search=gan_recipe` takes one value per direction, in the same order).

Besides every logged metric, `<stage>/colorfulness_gap` can be asked for: |colorfulness -
colorfulness_true|, how far the output's vividness is from the truth's. MAE and false colour alone
are both lowest for a sepia U-Net; the gap is what makes a search look for vivid colour too."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)


def objective(metrics: Mapping[str, float], optimized: str | Sequence[str] | None) -> float | list[float] | None:
    """`metrics[name]` for one name, a list of them for several, None when nothing is asked for.

    A name this run did not log (a typo, a metric of another model, validation switched off) gives
    None and a warning that lists what was logged: the run's results stay as they are, and a
    sweeper records the trial as failed with that warning in the job's log.
    """
    if not optimized:
        return None
    names = [optimized] if isinstance(optimized, str) else [str(name) for name in optimized]
    metrics = {**metrics, **colorfulness_gaps(metrics)}
    missing = [name for name in names if name not in metrics]
    if missing:
        log.warning("optimized_metric %s was not logged by this run, so no value goes to a sweeper; logged: %s",
                    ", ".join(missing), ", ".join(sorted(metrics)) or "nothing")
        return None
    values = [float(metrics[name]) for name in names]
    return values[0] if isinstance(optimized, str) else values


def colorfulness_gaps(metrics: Mapping[str, float]) -> dict[str, float]:
    """`<stage>/colorfulness_gap` for every stage that logged colorfulness and the truth's."""
    gaps = {}
    for name in metrics:
        stage, _, metric = str(name).rpartition("/")
        if metric == "colorfulness" and f"{stage}/colorfulness_true" in metrics:
            gaps[f"{stage}/colorfulness_gap"] = abs(float(metrics[name]) - float(metrics[f"{stage}/colorfulness_true"]))
    return gaps
