"""`python -m colorgan.export --format onnx`: onnxruntime gives PyTorch's output (skipped without the
`export` extra: pip install 'colorgan[export]')."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("onnxscript", reason="ONNX export needs: pip install 'colorgan[export]'")
pytest.importorskip("onnxruntime", reason="the ONNX check needs: pip install 'colorgan[export]'")
import onnx  # noqa: E402

from colorgan.export import build_module, main, run_onnx  # noqa: E402
from colorgan.inference import Colorizer  # noqa: E402


def test_fixed_shape_onnx_matches_pytorch_and_the_colorizer(tiny_checkpoint, tmp_path, capsys):
    checkpoint = tiny_checkpoint("lab")
    path = tmp_path / "colorizer.onnx"
    assert main([str(checkpoint), "--format", "onnx", "--fixed-shape", "-o", str(path)]) == 0
    assert "onnxruntime matches PyTorch" in capsys.readouterr().out
    model = onnx.load(str(path))
    metadata = {p.key: p.value for p in model.metadata_props}
    assert metadata["colorgan.color_space"] == "lab" and json.loads(metadata["colorgan.train_image_size"]) == [32, 32]
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 32, 32]

    rgb = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    exported = run_onnx(path, rgb)
    module, _ = build_module(checkpoint)
    with torch.no_grad():
        torch.testing.assert_close(exported, module(rgb), atol=1e-4, rtol=0)
    # At its working size, the Python colorizer gives the same picture.
    colorizer = Colorizer.from_checkpoint(checkpoint, device="cpu")
    torch.testing.assert_close(exported[0], colorizer.colorize([rgb[0]])[0], atol=1e-4, rtol=0)


def test_a_side_that_is_no_multiple_of_the_stride_is_padded_inside_the_graph(tiny_checkpoint, tmp_path, capsys):
    """150 x 150 (the tiny U-Net's stride is 8): the graph pads, colorizes and crops back, as PyTorch does
    on the padded input, and the summary says what was written and the rule."""
    checkpoint = tiny_checkpoint("lab")
    path = tmp_path / "colorizer.onnx"
    assert main([str(checkpoint), "--fixed-shape", "--size", "150", "-o", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {path} (" in out and "input rgb (1, 3, 150, 150) float32 RGB in [0, 1]" in out
    assert "sides padded to multiples of 8 inside the graph" in out and "onnxruntime matches PyTorch" in out
    rgb = torch.rand(1, 3, 150, 150, generator=torch.Generator().manual_seed(1))
    exported = run_onnx(path, rgb)
    assert exported.shape == rgb.shape
    padded = torch.nn.functional.pad(rgb, (0, 2, 0, 2), mode="replicate")  # 152 = 19 x 8
    with torch.no_grad():
        torch.testing.assert_close(exported, build_module(checkpoint)[0].colorizer(padded)[..., :150, :150],
                                   atol=1e-4, rtol=0)


def test_bad_checkpoint_exits_2(tmp_path, capsys):
    (tmp_path / "bad.ckpt").write_text("nope")
    assert main([str(tmp_path / "bad.ckpt")]) == 2
    assert "not a PyTorch checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "bad.onnx").exists()


@pytest.mark.slow
@pytest.mark.parametrize("space", ["lab", "rgb"])
def test_dynamic_onnx_takes_other_batches_and_shapes(space, tiny_checkpoint, tmp_path, capsys):
    checkpoint = tiny_checkpoint(space)
    path = tmp_path / "colorizer.onnx"
    assert main([str(checkpoint), "-o", str(path), "--no-check"]) == 0
    module, _ = build_module(checkpoint)
    for shape in [(1, 3, 32, 32), (3, 3, 24, 56), (1, 3, 150, 150)]:  # 150: no multiple of the stride, padded
        rgb = torch.rand(shape, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            torch.testing.assert_close(run_onnx(path, rgb), module(rgb), atol=1e-4, rtol=0)


def test_no_checkpoint_exports_the_shipped_colorizer(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    from colorgan.pretrained import ENV_DIR
    from colorgan.pretrained.pack import pack

    pack(tiny_checkpoint("lab"), tmp_path / "pretrained")
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "pretrained"))
    monkeypatch.chdir(tmp_path)
    assert main(["--fixed-shape"]) == 0  # default output in the working directory
    assert "onnxruntime matches PyTorch" in capsys.readouterr().out
    metadata = {p.key: p.value for p in onnx.load("colorgan_photo.onnx").metadata_props}
    assert metadata["colorgan.checkpoint"] == "photo.pt"
    assert main(["--pretrained", "--fixed-shape", "--no-check", "-o", "b.onnx"]) == 0 and (tmp_path / "b.onnx").is_file()
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "elsewhere"))
    assert main(["--pretrained"]) == 2
    assert "No pretrained photo colorizer" in capsys.readouterr().err
