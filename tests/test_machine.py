"""What measurements ran on: the CPU's widest vector instructions from /proc/cpuinfo, and torch's kernels."""

from __future__ import annotations

import pytest
import torch

from colorgan.system.machine import cpu_summary, torch_cpu_capability, vector_instructions

EPYC_AVX512 = "model name\t: AMD EPYC 9R14\nflags\t\t: fpu sse4_2 avx avx2 avx512f avx512bw avx512vl avx512_bf16\n"
EPYC_AVX2 = "model name\t: AMD EPYC 7B13\nflags\t\t: fpu sse4_2 avx avx2 fma\n"


@pytest.mark.parametrize(
    ("cpuinfo", "expected"),
    [
        (EPYC_AVX512, "AVX-512 (avx512f, avx512bw, avx512vl, avx512_bf16)"),
        (EPYC_AVX2, "AVX2 (no AVX-512)"),
        ("flags\t\t: fpu sse4_2 avx\n", "AVX (no AVX2)"),
        ("flags\t\t: fpu sse2 sse4_2\n", "none of AVX, AVX2, AVX-512"),
        ("Features\t: fp asimd evtstrm sve\n", "SVE"),
        ("Features\t: fp asimd\n", "NEON"),
        ("", "unknown (no /proc/cpuinfo flags)"),
    ],
)
def test_vector_instructions_from_cpuinfo_flags(cpuinfo, expected):
    assert vector_instructions(cpuinfo) == expected


def test_this_machine_is_described():
    summary = cpu_summary()
    assert "cores; vector instructions " in summary and f"torch CPU kernels {torch_cpu_capability()}" in summary
    assert torch_cpu_capability() == torch.backends.cpu.get_cpu_capability()
