"""How much memory this process may still take (Linux's MemAvailable, capped by a cgroup limit):
what colorize checks before decoding a photo."""

from __future__ import annotations

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


def gigabytes(count: int) -> str:
    return f"{count / 2**30:.1f} GiB"
