"""Which OpenMP waiting suits a shared CPU: `python -m colorgan.bench.threads [--steps 14] [--cli]`.

For each candidate setting (libgomp's default spin, the passive wait policy, shorter spin counts,
one thread) it times a bare training step of the default U-Net (batch 128) in a fresh process,
alone and then as one of two identical processes started together, and prints the median seconds
per step and the shared/idle ratio. colorgan/system/threads.py picked its setting from this table
(BENCHMARKS.md, "A shared CPU"). Settings are environment variables read when torch loads its
OpenMP runtime, hence one process per measurement.

With `--cli` it times the real command instead, with colorgan's own setting: `python -m
colorgan.train +experiment=EXPERIMENT` for a short and a long number of steps, alone and two
started side by side; seconds per step are the difference of the two fit times (run_info.json)
over the difference of steps, so start-up and the first steps' allocations cancel.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CANDIDATES = {
    "libgomp default (spin 300,000)": {"GOMP_SPINCOUNT": "300000"},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "GOMP_SPINCOUNT=100000": {"GOMP_SPINCOUNT": "100000"},
    "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000"},
    "GOMP_SPINCOUNT=1000 (colorgan's)": {"GOMP_SPINCOUNT": "1000"},
    "1 thread, default spin": {"GOMP_SPINCOUNT": "300000", "OMP_NUM_THREADS": "1"},
}
OWN = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")


def step_times(steps: int) -> None:
    """In the child: time `steps` bare U-Net training steps, print the median of all but the first 2."""
    import torch
    import torch.nn.functional as F

    from colorgan.nets.unet import UNetGenerator

    torch.manual_seed(0)
    net = UNetGenerator(1, 2, output_layer="upconv")
    optimizer = torch.optim.Adam(net.parameters(), 2e-4)
    inputs, targets = torch.randn(128, 1, 32, 32), torch.randn(128, 2, 32, 32).tanh()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = F.l1_loss(net(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    print(statistics.median(times[2:]))


def measure(env: dict[str, str], steps: int, processes: int) -> list[float]:
    """Median seconds per step of each of `processes` children started together with `env`."""
    environment = {k: v for k, v in os.environ.items() if k not in OWN}
    environment.update(env, COLORGAN_BENCH_CHILD="1")
    command = [sys.executable, "-m", "colorgan.bench.threads", "--child", "--steps", str(steps)]
    children = [subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    return [float(child.communicate()[0].strip().splitlines()[-1]) for child in children]


def cli_fit_seconds(experiment: str, steps: int, processes: int, overrides: list[str]) -> list[float]:
    """fit_seconds of `processes` `python -m colorgan.train` runs of `steps` steps started together."""
    import json
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="colorgan-bench-threads-") as tmp:
        dirs = [Path(tmp) / f"run{i}" for i in range(processes)]
        command = [sys.executable, "-m", "colorgan.train", f"+experiment={experiment}", *overrides,
                   f"trainer.max_steps={steps}", "trainer.max_epochs=1", "trainer.limit_val_batches=0",
                   "trainer.num_sanity_val_steps=0", "test=false", "logger=csv", "print_config=false",
                   "callbacks.progress_bar=null"]
        children = [subprocess.Popen([*command, f"hydra.run.dir={d}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL) for d in dirs]
        if any(child.wait() for child in children):
            raise RuntimeError(f"`{' '.join(command)}` failed; run it alone to see why.")
        from colorgan.runs.run_dir import RUN_INFO

        return [json.loads((d / RUN_INFO).read_text())["fit_seconds"] for d in dirs]


def cli_table(experiments: list[str], short: int, long: int, overrides: list[str]) -> list[str]:
    from colorgan.system.machine import cpu_summary  # imports torch: only in the parent's report

    lines = [f"`python -m colorgan.train` with colorgan's threading, seconds per step from a {long}- and a "
             f"{short}-step run (python -m colorgan.bench.threads --cli)", "",
             f"{cpu_summary()}.", "",
             "| experiment | alone | two commands side by side (each) | shared / alone |", "|---|---|---|---|"]
    for experiment in experiments:
        per_step = []
        for processes in (1, 2):
            longs, shorts = (cli_fit_seconds(experiment, n, processes, overrides) for n in (long, short))
            per_step.append([(a - b) / (long - short) for a, b in zip(longs, shorts, strict=True)])
        (alone,), shared = per_step
        lines.append(f"| {experiment} | {alone:.3f} | {' / '.join(f'{s:.3f}' for s in shared)} | "
                     f"{statistics.mean(shared) / alone:.2f}x |")
        print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m colorgan.bench.threads", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=14, help="steps per process (the first 2 are not counted)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cli", action="store_true", help="time `python -m colorgan.train` instead, alone and two at once")
    parser.add_argument("--experiments", nargs="+", default=["unet_lrelu", "gan_lrelu"], help="with --cli")
    parser.add_argument("--short", type=int, default=10, help="with --cli: steps of the short run")
    parser.add_argument("--long", type=int, default=70, help="with --cli: steps of the long run")
    parser.add_argument("overrides", nargs="*", help="with --cli: Hydra overrides for every run")
    args = parser.parse_intermixed_args(argv)
    if args.child:
        step_times(args.steps)
        return ""
    if args.cli:
        text = "\n".join(cli_table(args.experiments, args.short, args.long, args.overrides))
        print("\n" + text)
        return text
    from colorgan.system.machine import cpu_summary  # imports torch: only in the parent's report

    lines = [f"Bare U-Net training step (batch 128), {os.cpu_count()} cores; median s/step "
             f"(python -m colorgan.bench.threads --steps {args.steps})", "", f"{cpu_summary()}.", "",
             "| setting | alone | two processes at once (each) | shared / alone |", "|---|---|---|---|"]
    for name, env in CANDIDATES.items():
        alone = measure(env, args.steps, 1)[0]
        shared = measure(env, args.steps, 2)
        ratio = statistics.mean(shared) / alone
        lines.append(f"| {name} | {alone:.3f} | {' / '.join(f'{s:.3f}' for s in shared)} | {ratio:.2f}x |")
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    print("\n" + text)
    return text


if __name__ == "__main__":
    from colorgan.errors import exit_on_user_error

    exit_on_user_error(main)
