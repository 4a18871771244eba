"""The one place a generator is built from its settings (`model.generator`, as a checkpoint's
hyper-parameters record them): the key `kind` names the kind where it is set (the hint model),
else the key `encoder` (the ImageNet-encoder U-Nets), absent for the plain U-Net. A new kind of
generator is one entry in KINDS. Training, checkpoint loading, colorize and export all
come through `build_generator`, so none of them guesses a network from which keys it finds."""

from __future__ import annotations

from typing import Any

from torch import nn

from colorgan.nets.efficientnet_lite import VARIANTS
from colorgan.nets.encoder_unet import EncoderUNet
from colorgan.nets.hint_unet import HintEncoderUNet
from colorgan.nets.unet import UNetGenerator

UNET = "unet"  # the seed's and pix2pix's U-Net, trained from scratch (no `encoder` key)
HINT_UNET = "hint_unet"  # the ImageNet-encoder U-Net that also takes colour hints (`kind: hint_unet`)
KINDS: dict[str, type[nn.Module]] = {UNET: UNetGenerator, **dict.fromkeys(VARIANTS, EncoderUNet),
                                     HINT_UNET: HintEncoderUNet}


def generator_kind(settings: dict[str, Any]) -> str:
    kind = settings.get("kind") or settings.get("encoder") or UNET
    if kind not in KINDS:
        key = "kind" if settings.get("kind") else "encoder"
        raise ValueError(f"Unknown model.generator.{key} {kind!r}; valid names: {', '.join(KINDS)}.")
    return kind


def takes_hints(generator: nn.Module) -> bool:
    """Whether a generator reads a colour hint map beside the gray input (colorgan.nets.hint_unet)."""
    return getattr(generator, "takes_hints", False)


def build_generator(in_channels: int, out_channels: int, settings: dict[str, Any],
                    from_checkpoint: bool = False) -> nn.Module:
    """The generator `settings` describe. `from_checkpoint`: its weights are about to be loaded, so a
    pretrained encoder is not read from its package (colorizing needs no ImageNet weights)."""
    settings = dict(settings)
    kind = generator_kind(settings)
    settings.pop("kind", None)
    if kind == UNET:
        settings.pop("encoder", None)
    elif from_checkpoint:  # a pretrained encoder kind: its `encoder` setting names the variant
        settings["pretrained"] = False
    return KINDS[kind](in_channels, out_channels, **settings)


def encoder_unet(generator: nn.Module) -> EncoderUNet | None:
    """The EncoderUNet in a generator (itself, or a classifier's body), or None for a plain U-Net."""
    net = getattr(generator, "body", generator)
    return net if isinstance(net, EncoderUNet) else None
