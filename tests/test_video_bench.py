"""`python -m colorgan.bench.video`: the old-film copy docs/video.md measures the stabilizer on, and
the frames/s table of BENCHMARKS.md, on a clip this test makes."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.video import decoded, probe, write_clip

from colorgan.bench.video import main


def test_age_writes_a_grainy_flickering_copy_of_the_clip(tmp_path, capsys):
    clip = write_clip(tmp_path / "clip.mp4", 12)
    assert main([str(clip), "--age", str(tmp_path / "aged.mp4")]) == 0
    assert probe(tmp_path / "aged.mp4")["frames"] == 12
    before, after = np.stack(decoded(clip)).astype(float), np.stack(decoded(tmp_path / "aged.mp4")).astype(float)
    assert np.abs(after - before).mean() > 2  # grain of std 4 and a 3% exposure change
    assert "wrote" in capsys.readouterr().out


def test_the_bench_prints_frames_per_second_by_stage(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    clip = write_clip(tmp_path / "clip.mp4", 8, audio=None)
    assert main([str(clip), "--heights", "48", "--frames", "8", "--batch-size", "4"]) == 0
    out = capsys.readouterr().out
    for row in ("| end to end |", "| network (torch) |", "| network (onnxruntime) |", "| encode (H.264) |"):
        assert row in out
