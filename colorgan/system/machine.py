"""What a measurement ran on, said the same way in every bench report and run header: the CPU, its
cores, its vector instructions (AVX-512, AVX2: machines sold as the same "AMD EPYC, 2 cores" differ
in them, and torch's speed with them) and the kernels torch chose for it, or the GPU."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

CPUINFO = Path("/proc/cpuinfo")
# (name, the /proc/cpuinfo flag that proves it), widest first.
X86_VECTORS = (("AVX-512", "avx512f"), ("AVX2", "avx2"), ("AVX", "avx"))
AVX512_EXTRAS = ("avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile")
ARM_VECTORS = (("SVE", "sve"), ("NEON", "asimd"))


def _cpuinfo_field(names: tuple[str, ...], text: str | None = None) -> str:
    """The first `name : value` of /proc/cpuinfo whose name is one of `names` ("" when there is none)."""
    if text is None:
        text = CPUINFO.read_text() if CPUINFO.exists() else ""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in names:
            return value.strip()
    return ""


def cpu_name(cpuinfo: str | None = None) -> str:
    return _cpuinfo_field(("model name",), cpuinfo) or platform.processor() or platform.machine()


def vector_instructions(cpuinfo: str | None = None) -> str:
    """The widest vector instruction set the CPU reports: "AVX-512 (avx512bw, ...)", "AVX2 (no
    AVX-512)", "AVX (no AVX2)", "SVE", "NEON", or "none of AVX, AVX2, AVX-512" / "unknown"."""
    flags = set(_cpuinfo_field(("flags", "Features"), cpuinfo).split())
    if not flags:
        return "unknown (no /proc/cpuinfo flags)"
    for i, (name, flag) in enumerate(X86_VECTORS):
        if flag in flags:
            if name == "AVX-512":
                extras = [f for f in AVX512_EXTRAS if f in flags]
                return f"AVX-512 ({', '.join(['avx512f', *extras])})"
            return f"{name} (no {X86_VECTORS[i - 1][0]})" if i else name
    for name, flag in ARM_VECTORS:
        if flag in flags:
            return name
    return "none of AVX, AVX2, AVX-512"


def torch_cpu_capability() -> str:
    """The CPU kernels torch dispatches to: "AVX512", "AVX2", "DEFAULT" (plain), ... ."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except AttributeError:  # torch < 2.1
        return "unknown"


def cpu_summary() -> str:
    """One line: "CPU <model>, N cores; vector instructions AVX2 (no AVX-512); torch CPU kernels AVX2"."""
    return (f"CPU {cpu_name()}, {os.cpu_count()} cores; vector instructions {vector_instructions()}; "
            f"torch CPU kernels {torch_cpu_capability()}")


def machine(device: torch.device) -> str:
    """The device a measurement ran on: the GPU, or the CPU with its torch threads."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return f"CPU {cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
