"""A tiny hint model and the photos it learns from: patchworks of flat colours of one lightness,
so that only a hint can say which colour a patch is (the gray photo cannot)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorgan.color_space import LAB
from helpers.configs import TINY, compose_train

PATCHWORK_SIDE = 64
# The tiny hint model: the shipped model's encoder kind with a narrow decoder, the encoder frozen
# (its ImageNet weights), trained from its own zero-start hint branches by the real trainer; PyTorch's
# initialisation of the decoder (N(0, 0.02) would pass a hint on too faintly for a few dozen steps).
TINY_HINT_MODEL = [
    "+experiment=photo_hints", "model.generator_init=null", "model.generator.decoder_channels=[32,16,16,16]",
    "model.generator.frozen_levels=5", "model.init=default", "model.lr=3e-3", "model.hints.p_none=0.1", "model.hints.geometric_p=0.3",
    "data.image_size=64", "data.min_size=64", "data.val_size=4", "data.test_size=4", "data.num_workers=0",
    "data.batch_size=8", "data.eval_batch_size=8", "data.cache=false",
    *[o for o in TINY if o.split("=")[0] not in ("model.generator.channels", "trainer.max_epochs", "trainer.limit_train_batches",
                                                 "data.batch_size", "data.eval_batch_size", "data.val_size")],
]


def patchwork(seed: int, side: int = PATCHWORK_SIDE) -> np.ndarray:
    """(side, side, 3) uint8: a 2x2 grid of flat, saturated colours, all of Lab lightness 60."""
    rng = np.random.default_rng(seed)
    half = side // 2
    ab = torch.zeros(1, 2, side, side)
    for top in (0, half):
        for left in (0, half):
            angle = rng.uniform(0, 2 * np.pi)
            ab[0, :, top:top + half, left:left + half] = torch.tensor([np.cos(angle), np.sin(angle)]).view(2, 1, 1) * 0.4
    rgb = LAB.merge(torch.full((1, 1, side, side), 60 / 50 - 1), ab)[0]
    return (rgb.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def write_patchworks(root: Path, count: int = 48) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(patchwork(i)).save(root / f"patchwork_{i:03d}.png")
    return root


def train_tiny_hint_model(root: Path, run: Path, steps: int = 40) -> Path:
    """last.ckpt of a tiny hint model fitted for `steps` batches on a folder of patchworks."""
    from colorgan.train import train

    overrides = [*TINY_HINT_MODEL, f"data.root={write_patchworks(root)}", f"trainer.max_steps={steps}",
                 "trainer.max_epochs=100", "test=false"]
    train(compose_train(overrides, run))
    return run / "checkpoints" / "last.ckpt"
