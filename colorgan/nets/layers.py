"""String -> layer factories, so activation and normalization are config values a sweep can vary."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": partial(nn.ReLU, inplace=True),
    "lrelu": partial(nn.LeakyReLU, 0.2, inplace=True),
    "elu": partial(nn.ELU, inplace=True),
    "gelu": nn.GELU,
    "silu": partial(nn.SiLU, inplace=True),
    "mish": partial(nn.Mish, inplace=True),
}

NORMS: dict[str, Callable[[int], nn.Module]] = {
    "batch": nn.BatchNorm2d,
    # Affine instance norm as in pix2pix; no running stats, so eval behaves like training.
    "instance": partial(nn.InstanceNorm2d, affine=True),
    "group": lambda channels: nn.GroupNorm(min(32, channels), channels),
    "none": lambda channels: nn.Identity(),
}


def _lookup(registry: dict, kind: str, name: str):
    if name not in registry:
        raise ValueError(f"Unknown {kind} {name!r}; valid names: {', '.join(registry)}.")
    return registry[name]


def get_act_layer(name: str) -> nn.Module:
    """A new activation module for `name` (one of ACTIVATIONS)."""
    return _lookup(ACTIVATIONS, "activation", name)()


def get_norm_layer(name: str, channels: int) -> nn.Module:
    """A new normalization module for `name` (one of NORMS) over `channels` channels."""
    return _lookup(NORMS, "normalization", name)(channels)


def check_layer_names(activation: str, norm: str) -> None:
    """Fail early, before any data is loaded, on an unknown activation or norm name."""
    _lookup(ACTIVATIONS, "activation", activation)
    _lookup(NORMS, "normalization", norm)


INITS = ("default", "normal")


def init_weights(module: nn.Module, scheme: str) -> None:
    """Initialise `module`'s convolutions and norms in place.

    "default" keeps PyTorch's (Kaiming-uniform); "normal" is pix2pix's and the seed paper's:
    convolution weights ~ N(0, 0.02), norm scales ~ N(1, 0.02), biases 0. Sub-modules marked
    `is_pretrained` (an ImageNet encoder, colorgan.nets.encoder_unet) keep the weights they loaded,
    and those marked `keeps_init` their own start (a hint branch's zeros, colorgan.nets.hint_unet).
    """
    _lookup({name: name for name in INITS}, "init", scheme)
    if scheme == "default":
        return
    kept = [name + "." for name, layer in module.named_modules()
            if getattr(layer, "is_pretrained", False) or getattr(layer, "keeps_init", False)]
    for name, layer in module.named_modules():
        if any((name + ".").startswith(prefix) for prefix in kept):
            continue
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d | nn.InstanceNorm2d | nn.GroupNorm) and layer.weight is not None:
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)
