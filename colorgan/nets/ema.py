"""An exponential moving average (EMA) of a network's weights: a frozen copy whose every
floating-point parameter and buffer (batch norm's running statistics too) follows the network's,
`average = decay * average + (1 - decay) * network`, after each update of the network.

The GAN's generator wanders from step to step around a good solution; the average of its recent
weights is steadier (Yazici et al. 2019; StyleGAN, BigGAN). A hand loop rather than
torch.optim.swa_utils.AveragedModel: that one reads a counter back from the device at every update
(`n_averaged == 0`), a host synchronisation per step on a GPU, and it would average the integer
batch counters of batch norm too. The arithmetic is its (`get_ema_multi_avg_fn`).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.optim.swa_utils import get_ema_multi_avg_fn


def check_ema_decay(decay: float | None) -> None:
    """Raise ValueError unless decay is None or 0 (no average: an average with decay 0 is the
    network itself, so a search can say "off" with a number) or a number in (0, 1) (also run by
    colorgan.config_validation)."""
    if decay is None:
        return
    if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0 <= decay < 1:
        raise ValueError(f"ema_decay must be null or 0 (no average) or a number in (0, 1), e.g. 0.999; got {decay!r}.")


def ema_copy(network: nn.Module) -> nn.Module:
    """A copy of `network` that no optimizer or gradient reaches (DDP's reducer skips it too)."""
    average = copy.deepcopy(network)
    average.requires_grad_(False)
    return average


def _state(module: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Its parameters and buffers, floating-point and the rest, in a fixed order."""
    tensors = [t.detach() for t in (*module.parameters(), *module.buffers())]
    return [t for t in tensors if t.is_floating_point()], [t for t in tensors if not t.is_floating_point()]


@torch.no_grad()
def update_ema(average: nn.Module, network: nn.Module, decay: float) -> None:
    """One EMA step of `average` towards `network`; integer buffers (batch counts) are copied."""
    (avg_float, avg_other), (net_float, net_other) = _state(average), _state(network)
    get_ema_multi_avg_fn(decay)(avg_float, net_float, None)
    for mine, theirs in zip(avg_other, net_other, strict=True):
        mine.copy_(theirs)


@torch.no_grad()
def reset_ema(average: nn.Module, network: nn.Module) -> None:
    """Start the average again at the network's weights (a warm-started generator's)."""
    (avg_float, avg_other), (net_float, net_other) = _state(average), _state(network)
    for mine, theirs in zip([*avg_float, *avg_other], [*net_float, *net_other], strict=True):
        mine.copy_(theirs)
