"""A run directory is written by one process only: the one holding `<run dir>/.colorgan.lock`.

The lock file says who holds it (pid, host, process start, SLURM job), so a second
`colorgan.train` aimed at the same directory (a resume started while the run is alive, a repeated
command) is refused with a message naming the holder, before it changes anything there. A lock
left by a process that died (kill -9, a crashed node) is taken over when that can be known: same
host and the process is gone, or the same SLURM job requeued.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from colorgan.errors import UserError, user_error_in
from colorgan.runs.run_dir import LOCK, Run

log = logging.getLogger(__name__)

_RANK_VARIABLES = ("LOCAL_RANK", "RANK", "SLURM_PROCID")


class RunLocked(UserError):
    """Another process is writing this run directory."""


class RunDirUnwritable(UserError):
    """The run directory cannot be written at all (a full disk, no permission): said before any work."""

    def __init__(self, run_dir: Path, error: OSError) -> None:
        reason = os.strerror(error.errno) if error.errno else str(error)
        hint = "Free some space on that disk" if error.errno in (errno.ENOSPC, errno.EDQUOT) else "Fix that"
        super().__init__(f"Cannot write in the run directory {run_dir}: {reason}. {hint}, or write the run "
                         "elsewhere (hydra.run.dir=... or paths.log_dir=...), and run the command again; "
                         "nothing was written.")


def first_process() -> bool:
    """True in the process that owns a job's run directory; False in the other DDP ranks
    (Lightning's re-launched scripts, srun tasks), which write into the directory it owns."""
    return all(os.environ.get(name, "0") in ("", "0") for name in _RANK_VARIABLES)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


@dataclass
class Owner:
    pid: int
    host: str
    started: str | None
    since: float
    slurm_job: str | None

    @classmethod
    def me(cls) -> Owner:
        pid = os.getpid()
        return cls(pid, socket.gethostname(), _start_time(pid), time.time(), os.environ.get("SLURM_JOB_ID"))

    def gone(self) -> bool:
        """True when this owner can be known to have ended (so its lock is stale)."""
        me = Owner.me()
        if self.slurm_job and self.slurm_job == me.slurm_job:
            return True  # our own SLURM job, requeued: its previous incarnation is over
        if self.host != me.host:
            return False  # cannot look at another machine's processes
        if self.pid == me.pid:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # alive, another user's
        return self.started is not None and _start_time(self.pid) not in (None, self.started)

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        job = f", SLURM job {self.slurm_job}" if self.slurm_job else ""
        return f"process {self.pid} on {self.host}{job} (since {when})"


def read_owner(lock: Path) -> Owner | None:
    """The lock's owner, or None when the file is unreadable or half-written."""
    try:
        return Owner(**json.loads(lock.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def acquire(run_dir: Path) -> Path:
    """Take the run directory's lock (creating the directory), or raise RunLocked naming its holder."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunDirUnwritable(run_dir, err) from None
    lock = run_dir / LOCK
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = read_owner(lock)
            if owner is not None and owner.gone():
                log.warning("Taking over the lock of %s: %s has ended.", run_dir, owner.describe())
                lock.unlink(missing_ok=True)
                continue
            holder = owner.describe() if owner else "a process whose lock file cannot be read"
            raise RunLocked(
                f"Run directory {run_dir} is being written by {holder}. Wait for it to end (or stop it), "
                f"or write this run elsewhere (hydra.run.dir=...). If that process is certainly gone, "
                f"delete {lock}."
            ) from None
        except OSError as err:
            raise RunDirUnwritable(run_dir, err) from None
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(asdict(Owner.me()), f)
        except OSError as err:  # a full disk: leave nothing behind
            lock.unlink(missing_ok=True)
            raise RunDirUnwritable(run_dir, err) from None
        return lock
    raise RunLocked(f"Could not take the lock {lock}: other processes keep taking it. Try again.")


def release(lock: Path) -> None:
    """Remove the lock if this process holds it (never another's)."""
    owner = read_owner(lock)
    if owner is not None and owner.pid == os.getpid() and owner.host == socket.gethostname():
        lock.unlink(missing_ok=True)


_claimed: set[Path] = set()


def claimed(run_dir: Path) -> bool:
    """True when this process took `run_dir` as its own (so it may record how the job ended there)."""
    return Path(run_dir).resolve() in _claimed


@contextmanager
def own_run_dir(run_dir: Path, accept: Callable[[], None], keep_parents_of: Path | None = None) -> Iterator[None]:
    """Make `run_dir` this process's for the block: take its lock, then `accept()` (which checks
    the config and records it, raising to refuse). A refusal releases the lock and removes the
    directory when it is empty (Hydra made it for this job), with its empty parents inside
    `keep_parents_of`; a directory with anything in it is left exactly as it was.

    A new run (its directory was empty when taken) that the block then refuses with a user error
    before any checkpoint (a photo folder with no usable photo once scanned) is removed whole, the
    same way: a refusal leaves no run folder behind."""
    if not first_process():  # other ranks write into the directory rank 0 owns
        yield
        return
    lock = None
    new_run = not run_dir.is_dir() or not any(run_dir.iterdir())
    try:
        lock = acquire(run_dir)
        accept()
    except BaseException:
        if lock is not None:
            release(lock)
        _remove_if_empty(run_dir, keep_parents_of)
        raise
    _claimed.add(run_dir.resolve())
    try:
        yield
    except Exception as error:
        if new_run and user_error_in(error) is not None and Run(run_dir).checkpoint() is None:
            release(lock)
            _claimed.discard(run_dir.resolve())
            shutil.rmtree(run_dir, ignore_errors=True)
            _remove_if_empty(run_dir, keep_parents_of)
        raise
    finally:
        release(lock)


def _remove_if_empty(folder: Path, root: Path | None) -> None:
    root = root.resolve() if root is not None else None
    folder = folder.resolve()
    while True:
        try:
            folder.rmdir()  # only ever removes an empty directory
        except FileNotFoundError:
            pass  # removed already (a refused run's folder): its empty parents go too
        except OSError:
            return
        folder = folder.parent
        if root is None or folder == root or root not in folder.parents:
            return
