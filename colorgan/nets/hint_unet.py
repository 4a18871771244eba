"""The photo U-Net that also takes colour hints (Zhang et al. 2017, "Real-Time User-Guided Image
Colorization with Learned Deep Priors": local hints). Beside the gray photo it reads a hint map,
(B, 3, H, W): Lab ab (ColorSpace("lab") scaling) where a hint is, 0 elsewhere, and a mask that is 1
where a hint is. A small side branch per level reads the hint map, pooled to the level's resolution,
and adds its features into the decoder's four levels (strides 16 to 2) and into the full-resolution
layer: deep levels spread a hint over the region it belongs to, the full-resolution one places it.

The side branch has no biases and its last layer starts at zero, so
- with no hints (an all-zero map, or None) the network is exactly the automatic EncoderUNet under it;
- a warm start from an automatic photo model (the shipped photo.pt) starts as that model.

    model/generator=hint_unet   (conf/model/generator/hint_unet.yaml; +experiment=photo_hints trains it)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colorgan.nets.encoder_unet import EncoderUNet

HINT_CHANNELS = 3  # ab (2) where a hint is, else 0; the mask (1)


def hint_map(ab: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """ab (B, 2, H, W) and mask (B, 1, H, W) in {0, 1} -> the hint map (B, 3, H, W) a hint model reads."""
    return torch.cat([ab * mask, mask], dim=1)


def pool_hints(hints: torch.Tensor, factor: int) -> torch.Tensor:
    """The hint map at 1/factor of its resolution: in each cell, the mean ab of its hinted pixels
    and a mask of 1 where it holds any (an average would fade a one-pixel hint away)."""
    if factor == 1:
        return hints
    share = F.avg_pool2d(hints[:, 2:], factor)  # (B, 1, h, w): the share of hinted pixels
    ab = F.avg_pool2d(hints[:, :2], factor) / share.clamp_min(1e-6)
    return hint_map(ab, (share > 0).to(hints.dtype))


def hint_branch(width: int) -> nn.Sequential:
    """Hint map -> `width` features added into one level: no biases (no hint adds nothing), the last
    layer zero (a new hint model starts as the automatic one)."""
    branch = nn.Sequential(nn.Conv2d(HINT_CHANNELS, width, 3, padding=1, bias=False), nn.ReLU(),
                           nn.Conv2d(width, width, 1, bias=False))
    nn.init.zeros_(branch[2].weight)
    return branch


class HintEncoderUNet(EncoderUNet):
    """EncoderUNet that also takes a hint map: (gray (B, 1, H, W), hints (B, 3, H, W) or None) ->
    colour (B, out_channels, H, W). Takes EncoderUNet's settings; its output layer is the head.

    `forward(x)` (no hints) is the automatic colorizer, the same as an all-zero hint map.
    """

    takes_hints = True
    new_in_warm_start = ("hint_branches.",)  # absent from an automatic model's checkpoint (checkpoint_io)

    def __init__(self, in_channels: int = 1, out_channels: int = 2, **settings) -> None:
        if settings.get("output_layer", "head") != "head":
            raise ValueError("a hint model's output layer is its head (output_layer: head).")
        super().__init__(in_channels, out_channels, **settings)
        widths = [layer[0].out_channels for layer in self.decoder] + [self.full[0].out_channels]
        self.hint_branches = nn.ModuleList(hint_branch(width) for width in widths)
        self.hint_branches.keeps_init = True  # colorgan.nets.layers.init_weights leaves the zero start alone

    def steer(self, h: torch.Tensor, level: int, hints: torch.Tensor) -> torch.Tensor:
        hints = hints.to(h.dtype)
        return h + self.hint_branches[level](pool_hints(hints, hints.shape[-1] // h.shape[-1]))
