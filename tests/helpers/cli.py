"""Run `python -m colorgan.train` / `python -m colorgan.report` as a user would: a fresh process,
this checkout's code, the tiny settings on the command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from colorgan.bench.hint_page import PageDidNotStart, free_port, running_page  # noqa: F401 (free_port: the tests' import)
from helpers.configs import REPO, TINY


def run_module(module: str, *args: str, env: dict[str, str] | None = None, timeout: int = 600):
    environment = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "offline", "WANDB_SILENT": "true", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, env=environment, capture_output=True, text=True, timeout=timeout
    )


def train_cli(*overrides: str, data_dir: Path, log_dir: Path, tiny: list[str] = TINY, env: dict[str, str] | None = None,
              timeout: int = 600):
    """`python -m colorgan.train <tiny> <overrides>` writing under log_dir (later overrides win)."""
    return run_module(
        "colorgan.train", *tiny, *overrides, f"paths.data_dir={data_dir}", f"paths.log_dir={log_dir}",
        f"paths.cache_dir={log_dir / 'cache'}", env=env, timeout=timeout,
    )


def fresh_clone(folder: Path) -> Path:
    """`folder`/colorgan holding this checkout's files as a fresh clone has them: tracked and new files,
    nothing git ignores (no .venv, logs, data, build outputs)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode()
    clone = folder / "colorgan"
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():  # a tracked file deleted in the checkout is not there
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, clone / name)
    return clone


def readme_block(paragraph_start: str) -> list[str]:
    """The lines of README.md's first ```bash block after the paragraph that starts with `paragraph_start`."""
    text = (REPO / "README.md").read_text()
    after = text[text.index("\n" + paragraph_start):]
    block = after[after.index("```bash\n") + len("```bash\n"):]
    return block[:block.index("```")].strip().splitlines()


def only_sweep_dir(log_dir: Path, sweep: str) -> Path:
    """The single launch of `sweep` under log_dir/sweeps/<sweep>/<time>."""
    launches = sorted((log_dir / "sweeps" / sweep).iterdir())
    assert len(launches) == 1, launches
    return launches[0]


def job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted((d for d in sweep_dir.iterdir() if d.is_dir() and not d.name.startswith(".")), key=lambda d: int(d.name.split("_")[0]))


def failure_text(result) -> str:
    """The end of a failed process's output, for assertion messages."""
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-5000:]}"


@contextmanager
def running_app(checkpoint: str | Path, log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python -m colorgan.app CHECKPOINT --device cpu` on a free local port, one torch thread, its output
    in `log`; yields (URL, process) once it serves, then stops it (the page benchmark's own helper)."""
    import pytest

    try:
        with running_page(checkpoint, log, "--device", "cpu", env={"OMP_NUM_THREADS": "1"}, cwd=REPO,
                          start_s=120) as started:
            yield started
    except PageDidNotStart as error:
        pytest.fail(str(error))
