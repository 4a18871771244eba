"""Atomic file writes: the one way colorgan replaces a file, so a reader (another rank, a report, a
resumed job) sees the old file or the new one, never half of one.

    with atomic_path(target) as tmp:  # a hidden file beside target
        write(tmp)                    # any writer: torch.save, Image.save, np.memmap, open(tmp, "w")
    # renamed over target (os.replace, atomic on POSIX); on an error tmp is removed, target untouched
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_beside(path: Path) -> Path:
    """A hidden name beside `path`, this process's own (processes writing one file may race; the last wins)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextmanager
def atomic_path(path: str | Path, tmp: Path | None = None, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path` (default `temporary_beside(path)`) to write; when the block
    ends without error it is renamed over `path`; whatever happens, no temporary file is left.
    durable: also fsync the folder, so that a crash right after the rename cannot undo it (the
    writer fsyncs its own file)."""
    path = Path(path)
    tmp = temporary_beside(path) if tmp is None else tmp
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if durable:
        fsync_dir(path.parent)


def check_writable(path: str | Path) -> None:
    """Create and remove this process's temporary file beside `path`: the OSError a write there would
    meet, now (before hours of work) rather than at the end."""
    tmp = temporary_beside(Path(path))
    tmp.open("wb").close()
    tmp.unlink()


def write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_figure(figure, path: Path, dpi: int = 110) -> None:
    """Write a matplotlib figure to `path` as PNG atomically (its folder made if need be), then close
    it (pyplot keeps every open figure otherwise)."""
    import matplotlib.pyplot as plt  # the caller drew with it: already imported

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    plt.close(figure)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some filesystems cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def process_alive(pid: int) -> bool:
    """True when a process of this id runs (on this machine; another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_temporaries(folder: Path, name: str | None = None) -> list[Path]:
    """Remove the temporary files of `temporary_beside` in `folder` (of `name` only, when given) whose
    process is gone (killed, or the machine restarted): a live process's are left alone. Returns
    what was removed."""
    removed = []
    pattern = f".{name}.*.tmp" if name is not None else ".*.tmp"
    for tmp in Path(folder).glob(pattern):
        pid = tmp.name[: -len(".tmp")].rsplit(".", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed
