"""Pack a trained checkpoint as the shipped photo colorizer:
`python -m colorgan.pretrained pack CHECKPOINT [--out DIR]`, and check one:
`python -m colorgan.pretrained verify [--dir DIR]`.

Only what inference needs is kept: the generator's weights (parameters in half precision,
buffers such as BatchNorm statistics or colour bins as they were), the LightningModule's
hyper-parameters, its class path and the training image size. Whatever the model (U-Net, GAN,
classification colorizer), the packed file is read back by the same `load_generator` that reads
its checkpoint, and the packer checks that the two predict the same colours (to fp16 rounding).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from colorgan.errors import user_command
from colorgan.nets.color_net import ColorNet
from colorgan.pretrained.bundle import (
    CARD_NAME,
    CHECKSUM_NAME,
    WEIGHTS_NAME,
    PretrainedError,
    checksum_line,
    file_sha256,
    pretrained_dir,
    verified_weights,
)
from colorgan.runs.checkpoint_io import (
    GENERATOR_PREFIX,
    MODEL_CLASS_KEY,
    MODEL_CLASSES,
    load_generator,
    model_class,
    read_checkpoint,
)
from colorgan.runs.run_dir import CONFIG, run_dir_of_checkpoint
from colorgan.system.atomic_io import atomic_path, write_text

FORMAT = 1
MAX_BYTES = 20 * 1000 * 1000  # the package's budget for shipped weights
FP16_MAX = 65504.0
BEGIN = "<!-- packed: written by `python -m colorgan.pretrained pack`; edits between these markers are replaced -->"
END = "<!-- end packed -->"
CARD_TEMPLATE = """# colorgan photo colorizer

{block}

## Training data and command

(to write: the photo sets, their splits, and the command that trained this model)

## Metrics on the test photos

(to write: MAE, PSNR, colourfulness with intervals, against the grayscale input)

## What it gets wrong

(to write)
"""


@dataclass
class Packed:
    """What `pack` wrote and how close the packed model is to the checkpoint's."""

    path: Path
    sha256: str
    size: int
    module: str
    max_ab_difference: float


def module_class(checkpoint: Path, raw: dict[str, Any]) -> str:
    """The LightningModule's class path: the run's config.yaml says it (model._target_) when the
    checkpoint sits in its run directory; otherwise the checkpoint's own record (model_class)."""
    config = run_dir_of_checkpoint(checkpoint.resolve()) / CONFIG
    if config.is_file():
        from omegaconf import OmegaConf

        target = OmegaConf.select(OmegaConf.load(config), "model._target_", default=None)
        if isinstance(target, str):
            return target
    return MODEL_CLASSES.get(model_class(raw), model_class(raw))


def inference_state(generator: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The generator's state dict under `generator.`: floating parameters in fp16, buffers as they are."""
    parameters = {name for name, _ in generator.named_parameters()}
    state = {}
    for name, tensor in generator.state_dict().items():
        tensor = tensor.detach().cpu()
        if name in parameters and tensor.is_floating_point():
            if tensor.abs().max() > FP16_MAX:
                raise PretrainedError(f"Weight {name} exceeds half precision's range ({FP16_MAX:g}); it cannot be packed.")
            tensor = tensor.half()
        state[GENERATOR_PREFIX + name] = tensor.clone()
    return state


def ab_difference(original: Path, packed: Path) -> float:
    """Largest |ab| difference between the two files' colour predictions on a seeded input."""
    nets = [load_generator(p) for p in (original, packed)]
    h, w = nets[0].train_image_size
    stride = nets[0].generator.stride
    shape = (2, 3, -(-h // stride) * stride, -(-w // stride) * stride)
    rgb = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = (ColorNet(n.generator, n.color_space)(rgb) for n in nets)
    return float((a - b).abs().max())


def pack(checkpoint: str | Path, out: str | Path | None = None) -> Packed:
    """Write WEIGHTS_NAME, CHECKSUM_NAME and the model card's packed block into `out`."""
    checkpoint, folder = Path(checkpoint), pretrained_dir(out)
    loaded = load_generator(checkpoint)  # every failure of a bad checkpoint is said here
    raw = read_checkpoint(checkpoint)
    hparams = dict(loaded.hyper_parameters)
    module = module_class(checkpoint, raw)
    packed = {
        "hyper_parameters": hparams,
        "state_dict": inference_state(loaded.generator),
        "train_image_size": list(loaded.train_image_size),
        MODEL_CLASS_KEY: model_class(raw),
        "colorgan_pretrained": {
            "format": FORMAT, "module": module, "source": checkpoint.name,
            "epoch": raw.get("epoch"), "global_step": raw.get("global_step"),
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS_NAME
    with atomic_path(weights) as tmp:
        torch.save(packed, tmp)
        size = tmp.stat().st_size
        if size > MAX_BYTES:
            raise PretrainedError(
                f"The packed generator of {checkpoint} takes {size / 1e6:.1f} MB, over the {MAX_BYTES / 1e6:.0f} MB "
                "the package ships. Train a narrower generator (model.generator.channels) and pack that."
            )
        difference = ab_difference(checkpoint, tmp)
    sha256 = file_sha256(weights)
    write_text(folder / CHECKSUM_NAME, checksum_line(sha256))
    result = Packed(weights, sha256, size, module, difference)
    refresh_card(folder / CARD_NAME, card_block(result, packed))
    return result


def card_block(result: Packed, packed: dict[str, Any]) -> str:
    """The model card's facts about the packed file, between the markers."""
    hp = packed["hyper_parameters"]
    meta = packed["colorgan_pretrained"]
    others = {k: v for k, v in hp.items() if k in ("temperature", "rebalance", "loss", "gan_loss", "lambda_l1")}
    h, w = packed["train_image_size"]
    rows = [
        ("file", f"`{WEIGHTS_NAME}` ({result.size / 1e6:.1f} MB; parameters in float16)"),
        ("sha256", f"`{result.sha256}`"),
        ("model", f"`{result.module}`"),
        ("colour space", hp.get("color_space")),
        ("training size", f"{h} x {w} px"),
        ("generator", f"`{json.dumps(hp.get('generator') or {}, sort_keys=True)}`"),
        ("other hyper-parameters", f"`{json.dumps(others, sort_keys=True)}`" if others else "none"),
        ("packed from", f"`{meta['source']}`, epoch {meta['epoch']}, step {meta['global_step']}"),
        ("largest ab difference from the checkpoint", f"{result.max_ab_difference:.1e} (fp16 rounding)"),
    ]
    table = "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])
    return f"{BEGIN}\n{table}\n{END}"


def refresh_card(card: Path, block: str) -> None:
    """Replace the packed block of the model card (kept text around it), or start a card."""
    if not card.is_file():
        write_text(card, CARD_TEMPLATE.format(block=block))
        return
    text = card.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        lines = text.splitlines(keepends=True)
        at = 1 if lines and lines[0].startswith("#") else 0
        text = "".join(lines[:at]) + "\n" + block + "\n\n" + "".join(lines[at:])
    write_text(card, text)


@user_command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.pretrained", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="pack a trained .ckpt as the shipped photo colorizer")
    packing.add_argument("checkpoint", type=Path, help="a .ckpt written by `python -m colorgan.train`")
    packing.add_argument("--out", type=Path, default=None,
                         help="folder to write into (default: $COLORGAN_PRETRAINED_DIR, else the package's own)")
    verify = commands.add_parser("verify", help="check the shipped weights' sha256 and that they load")
    verify.add_argument("--dir", type=Path, default=None, help="folder holding photo.pt (default: as pack --out)")
    args = parser.parse_args(argv)
    if args.command == "pack":
        result = pack(args.checkpoint, args.out)
        print(f"wrote {result.path} ({result.size / 1e6:.1f} MB, {result.module}), "
              f"{result.path.with_name(CHECKSUM_NAME)} and {result.path.with_name(CARD_NAME)}'s packed block")
        print(f"sha256 {result.sha256}; largest ab difference from the checkpoint {result.max_ab_difference:.1e}")
    else:
        weights = verified_weights(args.dir)
        loaded = load_generator(weights)
        h, w = loaded.train_image_size
        print(f"{weights}: sha256 ok, {loaded.color_space.name} model trained at {h}x{w} px, loads")
    return 0
