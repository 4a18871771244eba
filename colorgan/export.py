"""Export a colorizer for use outside Python: `python -m colorgan.export [CHECKPOINT] --format onnx`
(no checkpoint, or --pretrained: the photo colorizer shipped with colorgan, verified first).

The exported graph is `PaddedColorizer`: RGB (or gray repeated on 3 channels) (N, 3, H, W) float32
in [0, 1] -> colorized RGB (N, 3, H, W) in [0, 1] with the input's L kept, for any H and W: the
graph pads the input (edge pixels repeated) to multiples of the generator's stride and crops the
prediction back (batch, height and width are dynamic; with --fixed-shape the graph takes exactly
(1, 3, S, S), S = --size, and exports several times faster). Resizing a photo to a working
resolution near the training size and back, which `colorgan.colorize` does, is left to the caller.
A hint model's graph (docs/hints.md) also takes `hints` (N, 3, H, W): Lab ab / 110 where a hint
is and 0 elsewhere, then a mask of 1 where a hint is (all zeros: no hints, the automatic colorizer).
ONNX only: TorchScript is deprecated in PyTorch 2.13. Needs `pip install 'colorgan[export]'`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from colorgan.errors import UserError, user_command
from colorgan.inference import WorkingResolutionColorizer
from colorgan.nets.color_net import ColorNet
from colorgan.nets.generators import takes_hints
from colorgan.nets.hint_unet import HINT_CHANNELS
from colorgan.quiet import silence_library_noise
from colorgan.runs.checkpoint_io import load_generator

FORMATS = ("onnx",)
INPUT_NAME, OUTPUT_NAME = "rgb", "colorized"
HINTS_NAME = "hints"  # a hint model's second input
PRETRAINED_ONNX = "colorgan_photo.onnx"  # in the working directory, never inside the installed package


class ExportError(UserError, RuntimeError):
    """The export could not be done or did not reproduce PyTorch's output."""


class PaddedColorizer(nn.Module):
    """WorkingResolutionColorizer for any H and W: the U-Net takes multiples of its stride only, so the
    input is padded (edge pixels repeated, right and bottom) up to them and the output cropped back."""

    def __init__(self, net: ColorNet) -> None:
        super().__init__()
        self.colorizer = WorkingResolutionColorizer(net)
        self.net, self.stride = net, net.stride

    @property
    def takes_hints(self) -> bool:
        return takes_hints(self.net.generator)

    def forward(self, rgb: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:  # (N, 3, H, W) -> (N, 3, H, W)
        height, width, s = rgb.shape[-2], rgb.shape[-1], self.stride
        pad = (0, (s - width % s) % s, 0, (s - height % s) % s)
        padded = F.pad(rgb, pad, mode="replicate")
        if hints is not None:
            hints = F.pad(hints, pad)  # zeros: no hint in the padding
        return self.colorizer(padded, hints)[..., :height, :width]

    def example_inputs(self, shape: tuple[int, ...], seed: int | None = None) -> tuple[torch.Tensor, ...]:
        """(rgb,) of `shape`, and for a hint model a hint map with a few hints beside it."""
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        rgb = torch.rand(shape, generator=generator)
        if not self.takes_hints:
            return (rgb,)
        mask = (torch.rand(shape[0], 1, *shape[2:], generator=generator) < 0.02).float()
        ab = torch.rand(shape[0], 2, *shape[2:], generator=generator) * 1.2 - 0.6
        return rgb, torch.cat([ab * mask, mask], dim=1)


def build_module(checkpoint: str | Path) -> tuple[PaddedColorizer, dict[str, str]]:
    """The module to export (eval, CPU) and the metadata written beside its graph."""
    loaded = load_generator(checkpoint)
    net = ColorNet(loaded.generator, loaded.color_space)
    hints = (f" and {HINTS_NAME}: (N, {HINT_CHANNELS}, H, W) float32, Lab ab / 110 where a hint is and 0 elsewhere, "
             "then a mask of 1 where a hint is" if takes_hints(loaded.generator) else "")
    metadata = {
        "colorgan.checkpoint": Path(checkpoint).name,
        "colorgan.color_space": loaded.color_space.name,
        "colorgan.stride": str(net.stride),
        "colorgan.train_image_size": json.dumps(list(loaded.train_image_size)),
        "colorgan.io": f"{INPUT_NAME}: (N, 3, H, W) float32 RGB in [0, 1], any H and W (padded to multiples of "
        f"stride inside the graph){hints} -> {OUTPUT_NAME}: (N, 3, H, W) float32 RGB in [0, 1], lightness of the input kept",
    }
    return PaddedColorizer(net).eval(), metadata


def export_onnx(checkpoint: str | Path, path: str | Path, size: int | None = None, fixed_shape: bool = False) -> Path:
    """Write the ONNX graph of a checkpoint's colorizer to `path`, traced at size x size (default the
    training size); dynamic batch, height and width unless fixed_shape."""
    try:
        import onnxscript  # noqa: F401  (torch.onnx's exporter needs it)
    except ImportError:
        raise ExportError("ONNX export needs onnx and onnxscript: pip install 'colorgan[export]'.") from None
    module, metadata = build_module(checkpoint)
    side = size or int(json.loads(metadata["colorgan.train_image_size"])[0])
    # Batch 2 when dynamic: the exporter would fix a dimension of size 1 to 1.
    example = module.example_inputs((1 if fixed_shape else 2, 3, side, side))
    names = [INPUT_NAME, HINTS_NAME][: len(example)]
    axes = {0: "batch", 2: "height", 3: "width"}
    dynamic = None if fixed_shape else {"rgb": axes, **({"hints": axes} if module.takes_hints else {})}
    with torch.no_grad():
        program = torch.onnx.export(
            module, example, input_names=names, output_names=[OUTPUT_NAME],
            dynamic_shapes=dynamic, dynamo=True, verbose=False,
        )
    program.model.metadata_props.update(metadata)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path))
    return path


def run_onnx(path: str | Path, rgb: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
    """Run an exported graph with onnxruntime on (N, 3, H, W) RGB (and a hint model's hint map)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {INPUT_NAME: rgb.float().numpy()}
    if hints is not None:
        feed[HINTS_NAME] = hints.float().numpy()
    (output,) = session.run([OUTPUT_NAME], feed)
    return torch.from_numpy(np.asarray(output))


def check_onnx(checkpoint: str | Path, path: str | Path, shape: tuple[int, int, int, int]) -> float:
    """Largest |ONNX - PyTorch| over a random input of `shape`; raises ExportError above 1e-4."""
    module, _ = build_module(checkpoint)
    inputs = module.example_inputs(shape, seed=0)
    with torch.no_grad():
        expected = module(*inputs)
    error = float((run_onnx(path, *inputs) - expected).abs().max())
    if not error <= 1e-4:
        raise ExportError(f"The ONNX graph {path} differs from PyTorch by up to {error:.2e} on a {shape} input.")
    return error


def check_shape(checkpoint: str | Path, path: str | Path, fixed_shape: bool) -> tuple[int, int, int, int]:
    """The traced shape for a fixed-shape graph; otherwise another batch, and sides that are no
    multiples of the stride (the graph pads them)."""
    if fixed_shape:
        import onnx

        dims = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
        return tuple(int(d.dim_value) for d in dims)
    stride = build_module(checkpoint)[0].stride
    return (3, 3, 3 * stride + 1, 2 * stride - 1)


def describe_export(checkpoint: str | Path, path: Path) -> str:
    """What was written and how to call it: the summary `main` prints."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    metadata = {p.key: p.value for p in model.metadata_props}
    dims = [d.dim_param or str(d.dim_value) for d in model.graph.input[0].type.tensor_type.shape.dim]
    size = "x".join(map(str, json.loads(metadata["colorgan.train_image_size"])))
    megabytes = sum(p.stat().st_size for p in path.parent.glob(f"{path.name}*")) / 1e6  # with external data
    hints = f" and {HINTS_NAME} (a hint map, docs/hints.md)" if len(model.graph.input) > 1 else ""
    return (f"wrote {path} ({megabytes:.1f} MB, ONNX) from {checkpoint}: input {INPUT_NAME} ({', '.join(dims)}) "
            f"float32 RGB in [0, 1]{hints} -> {OUTPUT_NAME}, same shape, lightness kept; {metadata['colorgan.color_space']} "
            f"model trained at {size} px, sides padded to multiples of {metadata['colorgan.stride']} inside the graph. "
            "Resize a photo near the training size first and its colours back up, as colorize does.")


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
        help="side of the traced input (default: the training size); with --fixed-shape, the side the graph takes",
    )
    parser.add_argument(
        "--fixed-shape", action="store_true",
        help="take exactly (1, 3, SIZE, SIZE) instead of any batch and sides (exports faster)",
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
    if args.size is not None and args.size < 1:
        parser.error("--size must be a positive side in pixels")
    export_onnx(args.checkpoint, output, args.size, args.fixed_shape)
    print(describe_export(args.checkpoint, output), flush=True)
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
