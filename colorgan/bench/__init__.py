"""`python -m colorgan.bench`: colorgan's training path against a bare PyTorch loop (compare.py), and
the other measurements: `python -m colorgan.bench.threads` (OpenMP settings), `python -m
colorgan.bench.colorize` (peak memory of colorizing large photos), `python -m colorgan.bench.video`
(frames per second of each stage of colorizing a film). Beside them: the bare loop (bare.py), the
shared-CPU scenario (shared.py), the folder-vs-memory mode (folder.py), what else used the CPU
(cpu_usage.py) and the Markdown report (report.py)."""
