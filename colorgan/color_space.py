"""Colour spaces: the one place that knows how an RGB image becomes (input, target) and back.

Lab (the paper's choice): input L/50 - 1 in [-1, 1], target ab/110 in about [-1, 1].
RGB (the seed's choice): input grayscale*2 - 1, target RGB*2 - 1.
Conversions run in float32 even under autocast: Lab's cube roots lose too much in bf16.

`rgb_to_lab` and `lab_to_rgb` are kornia's (same formulas, same constants), except that kornia
builds its matrices and white point with `torch.tensor([...], device=...)` on every call: a
blocking host-to-device copy on a GPU, several per training step. Here they are made once per
device and dtype (tests/test_color_space.py holds them to kornia's results).
"""

from __future__ import annotations

import torch
from kornia.color import linear_rgb_to_rgb, rgb_to_grayscale, rgb_to_linear_rgb

COLOR_SPACES = ("lab", "rgb")

AB_SCALE = 110.0  # |a|, |b| of sRGB colours stay under ~110 in kornia's Lab (D65).

# kornia.color's constants (D65 white point, 2 degree observer): linear RGB -> XYZ and back.
_RGB_TO_XYZ = ((0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169), (0.019334, 0.119193, 0.950227))
_XYZ_TO_RGB = (
    (3.2404813432005266, -1.5371515162713185, -0.4985363261688878),
    (-0.9692549499965682, 1.8759900014898907, 0.0415559265582928),
    (0.0556466391351772, -0.2040413383665112, 1.0573110696453443),
)
_WHITE = (0.95047, 1.0, 1.08883)
_CONSTANTS: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}


def _lab_constants(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(RGB->XYZ (3, 3), XYZ->RGB (3, 3), white (3, 1, 1)) on `like`'s device and dtype, made once."""
    key = (like.device, like.dtype)
    if key in _CONSTANTS:
        return _CONSTANTS[key]
    made = (torch.tensor(_RGB_TO_XYZ), torch.tensor(_XYZ_TO_RGB), torch.tensor(_WHITE).view(3, 1, 1))
    made = tuple(c.to(like.device, like.dtype) for c in made)
    # While a graph is traced (torch.compile, torch.export, ONNX export) the tensors made here are
    # the tracer's (fake or functional): keep only real ones, or later eager calls would get a fake.
    if type(like) is torch.Tensor and not torch.compiler.is_compiling() and all(type(c) is torch.Tensor for c in made):
        _CONSTANTS[key] = made
    return made


def _apply_matrix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """(3, 3) @ the channels of (*, 3, H, W), as kornia's linear transformation; contiguous result."""
    return (matrix @ image.flatten(-2)).view(image.shape)


def _check_images(image: torch.Tensor) -> None:
    if image.dim() < 3 or image.shape[-3] != 3 or not image.is_floating_point():
        raise ValueError(f"Expected float images of shape (*, 3, H, W), got {tuple(image.shape)} {image.dtype}.")


def ab_length(ab: torch.Tensor, dim: int = 1, keepdim: bool = False) -> torch.Tensor:
    """The length of (a, b) vectors along `dim`: chroma, or how far one colour is from another.
    Written out as the root of the sum of squares: Tensor.norm over a dimension of two is 50-100
    times slower on a CPU (torch 2.13), which made `colorize --compare` on a video 4.5x its run."""
    return ab.square().sum(dim=dim, keepdim=keepdim).sqrt()


def rgb_to_lab(image: torch.Tensor) -> torch.Tensor:
    """kornia.color.rgb_to_lab with cached constants: (*, 3, H, W) sRGB in [0, 1] -> L in [0, 100], a, b."""
    _check_images(image)
    to_xyz, _, white = _lab_constants(image)
    xyz = _apply_matrix(to_xyz, rgb_to_linear_rgb(image)) / white
    threshold = 0.008856
    f = torch.where(xyz > threshold, xyz.clamp(min=threshold).pow(1 / 3.0), 7.787 * xyz + 4.0 / 29.0)
    x, y, z = f.unbind(dim=-3)
    return torch.stack([116.0 * y - 16.0, 500.0 * (x - y), 200.0 * (y - z)], dim=-3)


def lab_to_rgb(image: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """kornia.color.lab_to_rgb with cached constants: (*, 3, H, W) Lab -> sRGB (in [0, 1] with `clip`)."""
    _check_images(image)
    _, to_rgb, white = _lab_constants(image)
    lightness, a, b = image.unbind(dim=-3)
    fy = (lightness + 16.0) / 116.0
    f = torch.stack([a / 500.0 + fy, fy, (fy - b / 200.0).clamp(min=0.0)], dim=-3)
    xyz = torch.where(f > 0.2068966, f.pow(3.0), (f - 4.0 / 29.0) / 7.787) * white
    rgb = linear_rgb_to_rgb(_apply_matrix(to_rgb, xyz))
    return rgb.clamp(0.0, 1.0) if clip else rgb


class ColorSpace:
    """Split RGB images into network (input, target) and merge predictions back to RGB.

    Images are float tensors (B, 3, H, W) with values in [0, 1].
    """

    def __init__(self, name: str = "lab") -> None:
        if name not in COLOR_SPACES:
            raise ValueError(f"Unknown colour space {name!r}; valid choices: {', '.join(COLOR_SPACES)}.")
        self.name = name

    def __repr__(self) -> str:
        return f"ColorSpace({self.name!r})"

    @property
    def in_channels(self) -> int:
        return 1

    @property
    def out_channels(self) -> int:
        return 2 if self.name == "lab" else 3

    @torch.autocast("cuda", enabled=False)
    @torch.autocast("cpu", enabled=False)
    def split(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) RGB in [0, 1] -> input (B, 1, H, W), target (B, C, H, W), both in [-1, 1]."""
        rgb = rgb.float()
        if self.name == "lab":
            lab = rgb_to_lab(rgb)
            return lab[:, :1] / 50.0 - 1.0, lab[:, 1:] / AB_SCALE
        return rgb_to_grayscale(rgb) * 2.0 - 1.0, rgb * 2.0 - 1.0

    @torch.autocast("cuda", enabled=False)
    @torch.autocast("cpu", enabled=False)
    def merge(self, inputs: torch.Tensor, prediction: torch.Tensor, clip: bool = True) -> torch.Tensor:
        """Network input (B, 1, H, W) and prediction (B, C, H, W) -> RGB (B, 3, H, W) in [0, 1].

        clip=False leaves out-of-gamut values outside [0, 1], so callers can see which colours do not fit.
        """
        inputs, prediction = inputs.float(), prediction.float()
        if self.name == "lab":
            lab = torch.cat([(inputs + 1.0) * 50.0, prediction * AB_SCALE], dim=1)
            return lab_to_rgb(lab, clip=clip)
        rgb = (prediction + 1.0) / 2.0
        return rgb.clamp(0.0, 1.0) if clip else rgb

    def gray_target(self, inputs: torch.Tensor) -> torch.Tensor:
        """The target that means "no colour": the grayscale baseline's answer for these inputs."""
        if self.name == "lab":
            return inputs.new_zeros(inputs.shape[0], 2, *inputs.shape[2:])
        return inputs.expand(-1, 3, -1, -1)

    def gray_rgb(self, inputs: torch.Tensor) -> torch.Tensor:
        """The grayscale baseline as RGB (B, 3, H, W): the input's lightness with no colour."""
        return self.merge(inputs, self.gray_target(inputs))

    def gray_of(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB (B, 3, H, W) -> its grayscale baseline as RGB: gray_rgb of the input split from it."""
        return self.gray_rgb(self.split(rgb)[0])


LAB = ColorSpace("lab")  # every predicted colour is merged and measured in Lab (ab in this scaling)
