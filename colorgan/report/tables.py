"""The model-vs-grayscale-baseline table that train, colorize and evaluate print: one layout, so
the three commands' results read alike."""

from __future__ import annotations

import rich
import rich.table
from rich.console import Console

COLUMNS = ("metric", "model", "grayscale baseline")


def comparison_table(title: str, model: dict[str, float], baseline: dict[str, float]) -> rich.table.Table:
    """One row a model metric, its baseline beside it (blank when the baseline lacks it)."""
    table = rich.table.Table(title=title)
    for column in COLUMNS:
        table.add_column(column)
    for name, value in model.items():
        other = baseline.get(name)
        table.add_row(name, f"{value:.4f}", "" if other is None else f"{other:.4f}")
    return table


def print_comparison(
    title: str, model: dict[str, float], baseline: dict[str, float], console: Console | None = None
) -> None:
    """Print comparison_table on `console` (default: rich's global one, stdout)."""
    (console or rich.get_console()).print(comparison_table(title, model, baseline))


def logged_comparison(metrics: dict[str, float], stage: str = "test") -> tuple[dict[str, float], dict[str, float]]:
    """Lightning's logged {"test/mae": .., "test_baseline/mae": ..} -> ({"mae": ..}, {"mae": ..})."""
    model = {k.removeprefix(f"{stage}/"): v for k, v in metrics.items() if k.startswith(f"{stage}/")}
    baseline = {k.removeprefix(f"{stage}_baseline/"): v for k, v in metrics.items() if k.startswith(f"{stage}_baseline/")}
    return model, baseline
