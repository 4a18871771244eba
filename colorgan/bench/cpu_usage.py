"""What else used the CPU while something was measured: other processes' CPU time and the
hypervisor's steal, from /proc/stat, so a benchmark can say whether its figures come from an idle
machine. (Linux only; elsewhere the report says it could not tell.)"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")
# A machine counts as idle when others used less than this share of one core during the measurement.
IDLE_SHARE = 0.1


def _machine_times() -> tuple[float, float] | None:
    """(busy, steal) CPU seconds of the whole machine since boot, or None without /proc/stat."""
    try:
        fields = PROC_STAT.read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in (fields + ["0"] * 8)[:8])
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / hz, steal / hz


def _own_times() -> float:
    """CPU seconds of this process and the children it has waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class CPUUsage:
    """Started at construction; `stop()` freezes the figures."""

    wall: float = 0.0
    others: float | None = None  # CPU seconds used by other processes
    steal: float | None = None
    loads: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    def __post_init__(self) -> None:
        self._start = (time.perf_counter(), _machine_times(), _own_times(), os.getloadavg())

    def stop(self) -> CPUUsage:
        wall0, machine0, own0, load0 = self._start
        self.wall = time.perf_counter() - wall0
        machine1 = _machine_times()
        if machine0 is not None and machine1 is not None:
            self.others = max(0.0, (machine1[0] - machine0[0]) - (_own_times() - own0))
            self.steal = machine1[1] - machine0[1]
        self.loads = (load0, os.getloadavg())
        return self

    @property
    def shared(self) -> bool | None:
        """Whether other processes (or the hypervisor) took a noticeable share of the CPU."""
        if self.others is None or self.wall <= 0:
            return None
        return (self.others + (self.steal or 0.0)) / self.wall >= IDLE_SHARE

    def describe(self) -> str:
        loads = " / ".join(" ".join(f"{x:.1f}" for x in load) for load in self.loads or ())
        if self.shared is None:
            return f"load average at start / end {loads}; other processes' CPU time unknown (no /proc/stat)"
        verdict = ("**shared machine: other processes used the CPU, so these figures are slower than an idle "
                   "machine gives**" if self.shared else "idle machine: nothing else used the CPU noticeably")
        return (f"{verdict}. Over {self.wall:.0f} s: other processes {self.others:.1f} CPU-s "
                f"({self.others / self.wall:.2f} cores), steal {self.steal:.1f} s; load average (1, 5, 15 min) "
                f"at start / end {loads}")
