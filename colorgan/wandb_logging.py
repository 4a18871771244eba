"""Weights & Biases without surprises: offline when there are no credentials, never a prompt,
and every run finished when its job ends."""

from __future__ import annotations

import netrc
import os
import re
from pathlib import Path

from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger


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
