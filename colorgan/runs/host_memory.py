"""How much memory this process may still take (Linux's MemAvailable, capped by a cgroup limit),
and the peak it took: what colorize checks before decoding a photo, and what its benchmark reports."""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().split()[0]
    except (OSError, IndexError):
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> int | None:
    """Bytes that can be allocated without swapping or hitting the container's limit (None when
    the system does not say, e.g. off Linux)."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    limit, used = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        found.append(max(0, limit - used))
    return min(found) if found else None


def peak_rss() -> int:
    """This process's peak resident memory so far, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def gigabytes(count: int) -> str:
    return f"{count / 2**30:.1f} GiB"
