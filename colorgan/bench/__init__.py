"""`python -m colorgan.bench`: colorgan's training path against a bare PyTorch loop (compare.py), and
the other measurements: `python -m colorgan.bench.threads` (OpenMP settings), `python -m
colorgan.bench.colorize` (peak memory of colorizing large photos), `python -m colorgan.bench.video`
(frames per second of each stage of colorizing a film)."""
