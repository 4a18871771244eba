"""Export a colorizer for use outside Python: `python -m colorgan.export [CHECKPOINT] --format onnx`
(no checkpoint, or --pretrained: the photo colorizer shipped with colorgan, verified first).

The exported graph is `WorkingResolutionColorizer`: RGB (or gray repeated on 3 channels)
(N, 3, H, W) float32 in [0, 1] -> colorized RGB (N, 3, H, W) in [0, 1] with the input's L kept,
H and W any multiples of the generator's stride (batch, height and width are dynamic; with
--fixed-shape the graph takes exactly (1, 3, S, S), S = --size rounded up to the stride, and
exports several times faster). Resizing a photo to a working resolution and back, which
`colorgan.colorize` does, is left to the caller.
ONNX only: TorchScript is deprecated in PyTorch 2.13. Needs `pip install 'colorgan[export]'`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from colorgan.errors import UserError, user_command
from colorgan.inference import ColorNet, WorkingResolutionColorizer
from colorgan.quiet import silence_library_noise
from colorgan.runs.checkpoint_io import load_generator

FORMATS = ("onnx",)
INPUT_NAME, OUTPUT_NAME = "rgb", "colorized"
PRETRAINED_ONNX = "colorgan_photo.onnx"  # in the working directory, never inside the installed package


class ExportError(UserError, RuntimeError):
    """The export could not be done or did not reproduce PyTorch's output."""


def build_module(checkpoint: str | Path) -> tuple[WorkingResolutionColorizer, dict[str, str]]:
    """The module to export (eval, CPU) and the metadata written beside its graph."""
    loaded = load_generator(checkpoint)
    net = ColorNet(loaded.generator, loaded.color_space)
    metadata = {
        "colorgan.checkpoint": Path(checkpoint).name,
        "colorgan.color_space": loaded.color_space.name,
        "colorgan.stride": str(net.stride),
        "colorgan.train_image_size": json.dumps(list(loaded.train_image_size)),
        "colorgan.io": f"{INPUT_NAME}: (N, 3, H, W) float32 RGB in [0, 1], H and W multiples of stride -> "
        f"{OUTPUT_NAME}: (N, 3, H, W) float32 RGB in [0, 1], lightness of the input kept",
    }
    return WorkingResolutionColorizer(net).eval(), metadata


def export_onnx(checkpoint: str | Path, path: str | Path, size: int | None = None, fixed_shape: bool = False) -> Path:
    """Write the ONNX graph of a checkpoint's colorizer to `path`, traced at size x size (rounded up
    to the stride; default the training size); dynamic batch, height and width unless fixed_shape."""
    try:
        import onnxscript  # noqa: F401  (torch.onnx's exporter needs it)
    except ImportError:
        raise ExportError("ONNX export needs onnx and onnxscript: pip install 'colorgan[export]'.") from None
    module, metadata = build_module(checkpoint)
    stride = module.net.stride
    side = math.ceil((size or int(json.loads(metadata["colorgan.train_image_size"])[0])) / stride) * stride
    # Batch 2 when dynamic: the exporter would fix a dimension of size 1 to 1.
    example = torch.rand(1 if fixed_shape else 2, 3, side, side)
    dynamic = None if fixed_shape else {"rgb": {0: "batch", 2: "height", 3: "width"}}
    with torch.no_grad():
        program = torch.onnx.export(
            module, (example,), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_shapes=dynamic, dynamo=True, verbose=False,
        )
    program.model.metadata_props.update(metadata)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path))
    return path


def run_onnx(path: str | Path, rgb: torch.Tensor) -> torch.Tensor:
    """Run an exported graph with onnxruntime on (N, 3, H, W) RGB."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (output,) = session.run([OUTPUT_NAME], {INPUT_NAME: rgb.float().numpy()})
    return torch.from_numpy(np.asarray(output))


def check_onnx(checkpoint: str | Path, path: str | Path, shape: tuple[int, int, int, int]) -> float:
    """Largest |ONNX - PyTorch| over a random input of `shape`; raises ExportError above 1e-4."""
    module, _ = build_module(checkpoint)
    rgb = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = module(rgb)
    error = float((run_onnx(path, rgb) - expected).abs().max())
    if not error <= 1e-4:
        raise ExportError(f"The ONNX graph {path} differs from PyTorch by up to {error:.2e} on a {shape} input.")
    return error


def check_shape(checkpoint: str | Path, path: str | Path, fixed_shape: bool) -> tuple[int, int, int, int]:
    """The traced shape for a fixed-shape graph; otherwise another batch and shape than traced."""
    if fixed_shape:
        import onnx

        dims = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
        return tuple(int(d.dim_value) for d in dims)
    stride = build_module(checkpoint)[0].net.stride
    return (3, 3, 3 * stride, 2 * stride)


@user_command
def main(argv: list[str] | None = None) -> int:
    silence_library_noise()
    parser = argparse.ArgumentParser(
        prog="python -m colorgan.export",
        description="Export a colorgan checkpoint's colorizer (working resolution, RGB in -> RGB out, "
        "input lightness kept) for use outside Python.",
    )
    parser.add_argument(
        "checkpoint", type=Path, nargs="?", default=None,
        help="a .ckpt written by `python -m colorgan.train` (default: the shipped photo colorizer)",
    )
    parser.add_argument("--pretrained", action="store_true", help="export the shipped photo colorizer")
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="export format (default: onnx)")
    parser.add_argument(
        "-o", "--output", type=Path, default=None,
        help=f"output file (default: CHECKPOINT.onnx, or {PRETRAINED_ONNX} for the shipped model)",
    )
    parser.add_argument(
        "--size", type=int, default=None,
        help="side of the traced input, rounded up to the stride (default: the training size)",
    )
    parser.add_argument(
        "--fixed-shape", action="store_true",
        help="take exactly (1, 3, SIZE, SIZE) instead of any batch and multiple-of-stride sides (exports faster)",
    )
    parser.add_argument(
        "--no-check", action="store_true", help="skip running the export with onnxruntime against PyTorch"
    )
    args = parser.parse_args(argv)
    if args.pretrained and args.checkpoint is not None:
        parser.error("give a checkpoint or --pretrained, not both")
    if args.checkpoint is None:
        from colorgan.pretrained import verified_weights

        args.checkpoint = verified_weights()
        output = args.output or Path(PRETRAINED_ONNX)
    else:
        output = args.output or args.checkpoint.with_suffix(".onnx")
    export_onnx(args.checkpoint, output, args.size, args.fixed_shape)
    print(f"wrote {output}")
    if not args.no_check:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            print("onnxruntime is not installed: skipped the check against PyTorch")
            return 0
        shape = check_shape(args.checkpoint, output, args.fixed_shape)
        error = check_onnx(args.checkpoint, output, shape)
        print(f"onnxruntime matches PyTorch on a {shape} input (max abs difference {error:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
