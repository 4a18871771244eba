"""Checkpoint files that are always whole: written to a temporary file in the same folder,
fsynced and renamed over the target (atomic on POSIX), so a kill or a full disk during a save
never leaves half a checkpoint where the previous good one was; read through colorgan's one
safe reader (colorgan.runs.checkpoint_io)."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from colorgan.errors import UserError
from colorgan.runs.checkpoint_io import read_checkpoint
from colorgan.runs.run_dir import run_dir_of_checkpoint
from colorgan.system.atomic_io import atomic_path

log = logging.getLogger(__name__)


# -- atomic files ------------------------------------------------------------------------------
class CheckpointSaveError(UserError, RuntimeError):
    """A checkpoint could not be written; the message names the file and what to do."""


_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
_NO_ACCESS = {errno.EACCES, errno.EPERM, errno.EROFS}


def describe_save_error(err: OSError, path: Path) -> str:
    reason = err.strerror or str(err)
    if err.errno in _NO_SPACE:
        advice = f"Free space on the disk that holds {path.parent}, or write runs to a larger one (hydra.run.dir=...)"
    elif err.errno in _NO_ACCESS:
        advice = f"Make {path.parent} writable, or write runs elsewhere (hydra.run.dir=...)"
    else:
        advice = "Fix the cause"
    from colorgan.runs.resume import resume_command  # resume reads checkpoints: imported when needed

    run_dir = run_dir_of_checkpoint(path)
    return (
        f"Could not save checkpoint {path}: {reason} [errno {err.errno}]. The previous checkpoint at that path, "
        f"if any, is intact. {advice}, then continue with `{resume_command(run_dir)}`."
    )


def _os_error_in(err: BaseException | None) -> OSError | None:
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def partial_path(path: Path) -> Path:
    """Where a checkpoint is written before it is renamed to `path` (hidden, never *.ckpt)."""
    return path.with_name(f".{path.name}.partial")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's TorchCheckpointIO writes straight into the target file, so a kill or a full disk
    during a save leaves a truncated file where the previous good checkpoint was. This one writes a
    hidden temporary file in the same folder, fsyncs it and renames it over the target (atomic on
    POSIX): the target is always the old or the new checkpoint, never half of one. Write errors
    (disk full, permissions) become a CheckpointSaveError that names the file."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if "://" in str(path):  # remote (fsspec) storage: no rename there; Lightning's own writer
            return super().save_checkpoint(checkpoint, path, storage_options)
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options.")
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path, partial_path(path), durable=True) as tmp, open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
        except (OSError, RuntimeError) as err:
            # torch.save's zip writer turns a failed write into a RuntimeError ("unexpected pos");
            # the OSError behind it (disk full, ...) is in its context.
            cause = _os_error_in(err)
            if cause is None:
                raise CheckpointSaveError(f"Could not save checkpoint {path}: {err}") from err
            raise CheckpointSaveError(describe_save_error(cause, path)) from err

    def load_checkpoint(self, path, map_location=None, weights_only: bool | None = None) -> dict[str, Any]:
        """Through colorgan's one reader: weights only (never code), and every failure said the same
        way as by colorize or evaluate (missing, truncated, not a checkpoint, carrying code)."""
        if "://" in str(path):
            return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)
        return read_checkpoint(path)
