"""A hint model's ONNX graph takes the hint map beside the photo and matches PyTorch, with and without hints."""

from __future__ import annotations

import pytest
import torch

from colorgan.export import build_module, export_onnx, main, run_onnx

pytest.importorskip("onnxruntime", reason="the export extra: pip install 'colorgan[export]'")


def test_onnx_with_hints_matches_torch(tiny_hint_checkpoint, tmp_path, one_thread, capsys):
    path = export_onnx(tiny_hint_checkpoint, tmp_path / "hints.onnx", size=64, fixed_shape=True)
    module, metadata = build_module(tiny_hint_checkpoint)
    assert module.takes_hints and "hints: (N, 3, H, W)" in metadata["colorgan.io"]
    rgb, hints = module.example_inputs((1, 3, 64, 64), seed=1)
    assert hints[:, 2].sum() > 0
    with torch.no_grad():
        expected, automatic = module(rgb, hints), module(rgb)
    torch.testing.assert_close(run_onnx(path, rgb, hints), expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(run_onnx(path, rgb, torch.zeros_like(hints)), automatic, atol=1e-4, rtol=0)
    assert (expected - automatic).abs().amax() > 1e-3  # the hints input is wired to the colour
    # the command checks the graph against PyTorch with a hint map too
    assert main([str(tiny_hint_checkpoint), "--fixed-shape", "--size", "64", "-o", str(tmp_path / "cli.onnx")]) == 0
    out = capsys.readouterr().out
    assert "and hints (a hint map" in out and "onnxruntime matches PyTorch" in out
