"""The Markdown report of `python -m colorgan.bench`: one table, a column per experiment, each
row with what it means (docs/bench.md), and the machine it ran on."""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics

import lightning as L
import torch

from colorgan.bench.cpu_usage import CPUUsage
from colorgan.system.machine import cpu_summary, machine


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def report(rows: dict[str, dict], args: argparse.Namespace, command: str, usage: CPUUsage) -> str:
    first = next(iter(rows.values()))
    names = list(rows)
    lines = [
        f"### {datetime.datetime.now().isoformat(sep=' ', timespec='minutes')}: {machine(first['device'])}",
        "",
        f"- command: `{command}`",
        f"- {cpu_summary()}",
        f"- torch {torch.__version__}, lightning {L.__version__}, Python {platform.python_version()}",
        f"- the machine during the run{' (shared scenario included)' if args.shared else ''}: {usage.describe()}",
        f"- batch {first['batch_size']}, precision {first['precision']}, {first['options']}; "
        f"{args.steps} timed steps after {args.warmup} warm-up, {args.repeats} interleaved repeats (median)",
        f"- colorgan's path: Trainer.fit with the DataModule, {first['path']}",
        "",
        "| | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]

    def line(label: str, cell) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(rows[n]) for n in names) + " |")

    def med(values: list[tuple[float, float]]) -> float:
        return statistics.median(v[0] for v in values)  # of the wall-clock rates

    def ratios(values: list[float]) -> str:
        return f"**{statistics.median(values):.3f}** ({', '.join(f'{x:.3f}' for x in values)})"

    # On a CPU, also the median CPU time of a step over every timed step of every repeat: what a
    # step costs this process, the least sensitive to other processes and to load that changes.
    on_cpu = first["device"].type == "cpu"
    for path, label in (("colorgan", "colorgan"), ("bare", "bare loop")):
        line(f"training, {label} (img/s{'; per CPU-second of the median step' if on_cpu else ''})",
             lambda r, p=path: f"{med(r[p]):.1f}"
             + (f"; {r['batch_size'] / statistics.median(r[p + '_steps']):.1f}" if on_cpu else ""))
    line("ratio colorgan / bare, wall clock (each repeat)", lambda r: ratios(r["ratio"]))
    if on_cpu:
        line("ratio colorgan / bare, median CPU time per step",
             lambda r: f"**{statistics.median(r['bare_steps']) / statistics.median(r['colorgan_steps']):.3f}** "
                       f"({len(r['bare_steps'])} steps each)")
    def extra_ms(r) -> float:
        """colorgan's extra time per step: median CPU time on a CPU, from wall-clock rates on a GPU."""
        if on_cpu:
            return 1e3 * (statistics.median(r["colorgan_steps"]) - statistics.median(r["bare_steps"]))
        return 1e3 * r["batch_size"] * (1 / med(r["colorgan"]) - 1 / med(r["bare"]))

    line("colorgan's extra time per step; the data pipeline's share",
         lambda r: f"{extra_ms(r):.1f} ms; {1e3 * r['batch_size'] / r['pipeline'][0]:.1f} ms")
    line("peak memory, colorgan / bare", lambda r: f"{r['colorgan_memory']} / {r['bare_memory']}")
    line("train-step FLOPs per image; achieved by colorgan", lambda r: f"{r['flops'] / 1e9:.2f} GFLOP; "
         f"{r['flops'] * med(r['colorgan']) / 1e12:.3g} TFLOP/s")
    line("operators per step (~kernel launches in eager GPU mode): bare step + data transform",
         lambda r: f"{r['ops'][0]:,} + {r['ops'][1]:,}")
    line("data pipeline alone (img/s)", lambda r: f"{r['pipeline'][0]:,.0f}")
    line("validation with all metrics (img/s)", lambda r: f"{r['validation'][0]:,.0f} (batch {r['eval_batch_size']})")

    def epoch(r) -> tuple[float, float]:
        train, val, _ = r["sizes"]
        return train / med(r["colorgan"]), val / r["validation"][0]

    line("one epoch: train + validation (sizes below)",
         lambda r: f"{duration(sum(epoch(r)))} ({duration(epoch(r)[0])} + {duration(epoch(r)[1])})")
    line("50,000 training images", lambda r: duration(50_000 / med(r["colorgan"])))
    line("the seed's study: max_epochs epochs + test",
         lambda r: f"{duration(r['epochs'] * sum(epoch(r)) + r['sizes'][2] / r['validation'][0])} ({r['epochs']} epochs)")
    if args.shared:
        line("**shared/idle** wall time per step while a second `colorgan.train` of the model runs",
             lambda r: f"**{r['shared']['ratio']:.2f}x** ({r['shared']['shared']:.2f} s against "
                       f"{r['shared']['idle']:.2f} s alone{'' if r['shared']['competitor_ran_throughout'] else '; the second training ended early'})")
    sizes = first["sizes"]
    lines += ["", f"Data: {sizes[0]:,} train, {sizes[1]:,} validation, {sizes[2]:,} test images."]
    return "\n".join(lines) + "\n"
