"""Weights & Biases without surprises: offline when there are no credentials, never a prompt,
and every run finished when its job ends."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from lightning.pytorch.loggers import WandbLogger


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
    return f"W&B is offline (no credentials found): run written to {run_dir}; upload it later with `wandb sync {run_dir}`."


def finish_wandb() -> None:
    """Finish any open W&B run, so one job of a sweep never logs into the next job's run."""
    try:
        import wandb
    except ImportError:
        return
    if wandb.run is not None:
        wandb.finish()
