"""Colorize photos of any size with a trained generator: `Colorizer.from_checkpoint(path)(image)`, or
the shipped photo colorizer: `Colorizer.pretrained()(image)`.

The network sees the photo at a small working resolution (by default the size it was trained on)
and predicts only colour: Lab ab, or for RGB models the ab of its RGB prediction. That colour is
upsampled to the photo's size and merged with the photo's own full-resolution L, so the result is
exactly as sharp as the input and its lightness is the input's. Colours that the merge would push
out of the sRGB gamut are desaturated (at constant L) until they fit, instead of being clipped.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from colorgan.color_space import ColorSpace
from colorgan.errors import UserError
from colorgan.image_io import Photo, photo_from_pil, read_photo, to_pil
from colorgan.nets.unet import UNetGenerator
from colorgan.runs.checkpoint_io import load_generator

LAB = ColorSpace("lab")
GAMUT_TOL = 1e-3  # an unclipped merge this far outside [0, 1] (a quarter of an 8-bit level) still fits
GAMUT_STEPS = 6  # bisection steps on the chroma scale: 1/64 of the predicted chroma at worst
GAMUT_MODES = ("fit", "clip")  # fit: merge_in_gamut; clip: ColorSpace.merge, as training's evaluation
BAND_PIXELS = 1 << 18  # a full-resolution photo is shrunk and merged this many pixels at a time


def best_device() -> torch.device:
    """CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _fits(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """(B, 1, ...) mask of the pixels whose colour (L, ab) is inside the sRGB gamut."""
    rgb = LAB.merge(lightness, ab, clip=False)
    return ((rgb >= -GAMUT_TOL) & (rgb <= 1.0 + GAMUT_TOL)).all(dim=1, keepdim=True)


def _chroma_scale(lightness: torch.Tensor, ab: torch.Tensor, steps: int) -> torch.Tensor:
    """Per pixel, the largest s in [0, 1] (to 1/2**steps) with (L, s * ab) inside the sRGB gamut.
    s = 1 when the colour fits as it is; s = 0 (gray) always fits; bisection keeps `low` fitting."""
    low, high = torch.zeros_like(lightness), torch.ones_like(lightness)
    for _ in range(steps):
        mid = (low + high) / 2
        ok = _fits(lightness, ab * mid)
        low, high = torch.where(ok, mid, low), torch.where(ok, high, mid)
    return torch.where(_fits(lightness, ab), torch.ones_like(low), low)


def merge_in_gamut(lightness: torch.Tensor, ab: torch.Tensor, steps: int = GAMUT_STEPS) -> torch.Tensor:
    """Lab input (B, 1, H, W) and ab (B, 2, H, W), ColorSpace("lab") scaling -> RGB (B, 3, H, W)
    whose L is the input's: colours outside the sRGB gamut lose chroma, never lightness (clipping
    RGB instead would change both lightness and hue).

    Only the pixels that do not fit are bisected, so a photo costs about two Lab -> RGB conversions.
    """
    rgb = LAB.merge(lightness, ab, clip=False)
    bad = ((rgb < -GAMUT_TOL) | (rgb > 1.0 + GAMUT_TOL)).any(dim=1)  # (B, H, W)
    rgb = rgb.clamp(0.0, 1.0)
    if not bad.any():
        return rgb
    # The bad pixels as one (1, C, 1, N) strip: every conversion works pixel by pixel.
    strip_l = lightness.permute(0, 2, 3, 1)[bad].T[None, :, None]
    strip_ab = ab.permute(0, 2, 3, 1)[bad].T[None, :, None]
    scale = _chroma_scale(strip_l, strip_ab, steps)
    rgb = rgb.permute(0, 2, 3, 1).clone()
    rgb[bad] = LAB.merge(strip_l, strip_ab * scale)[0, :, 0].T  # (N, 3)
    return rgb.permute(0, 3, 1, 2)


def merge_in_gamut_dense(lightness: torch.Tensor, ab: torch.Tensor, steps: int = GAMUT_STEPS) -> torch.Tensor:
    """merge_in_gamut without data-dependent shapes (every pixel bisected): what ONNX export traces."""
    return LAB.merge(lightness, ab * _chroma_scale(lightness, ab, steps))


class TemperatureError(UserError, ValueError):
    """A temperature for a model that has none, or a negative one."""


def set_temperature(generator: nn.Module, temperature: float, source: str | Path) -> None:
    """Set a classification generator's annealed-mean temperature (colorgan.nets.color_classifier)."""
    if not hasattr(generator, "temperature"):
        raise TemperatureError(f"{source} is a regression model: a temperature applies to classification models "
                               "(+experiment=classify) only. Leave --temperature out.")
    if temperature < 0:
        raise TemperatureError(f"The temperature must be >= 0 (1: the mean colour, 0: the most likely one), got {temperature}.")
    generator.temperature = float(temperature)


class ColorNet(nn.Module):
    """Generator and its colour space: RGB or gray-as-RGB (B, 3, h, w) in [0, 1], h and w multiples
    of `stride` -> predicted colour as Lab ab (B, 2, h, w) in ColorSpace("lab") scaling.

    Colour inputs are turned to grayscale (L or luma) first, exactly as in training.
    """

    def __init__(self, generator: UNetGenerator, color_space: ColorSpace) -> None:
        super().__init__()
        self.generator, self.color_space = generator, color_space

    @property
    def stride(self) -> int:
        return self.generator.stride

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        inputs, _ = self.color_space.split(rgb)
        prediction = self.generator(inputs)
        if self.color_space.name == "lab":
            return prediction
        return LAB.split(self.color_space.merge(inputs, prediction))[1]  # (B, 2, h, w)


class WorkingResolutionColorizer(nn.Module):
    """RGB (B, 3, h, w) in [0, 1] -> colorized RGB at the same size, its L kept: what Colorizer
    does to a photo already at its working resolution. The module `colorgan.export` writes."""

    def __init__(self, net: ColorNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        lightness, _ = LAB.split(rgb)
        return merge_in_gamut_dense(lightness, self.net(rgb))


def row_bands(width: int, height: int) -> list[tuple[int, int]]:
    """(top, bottom) of the bands of rows, about BAND_PIXELS each, that a photo is processed in."""
    step = max(1, BAND_PIXELS // max(1, width))
    return [(top, min(top + step, height)) for top in range(0, height, step)]


def shrink_photo(photo: Photo, shape: tuple[int, int]) -> torch.Tensor:
    """The photo resized to `shape` (h, w) as RGB (3, h, w) in [0, 1] (antialiased bilinear, as
    F.interpolate on the whole photo), never holding the full-size photo as floats: each band of
    rows is narrowed to width w, then the (3, H, w) strip is resized to height h."""
    width, height = photo.size
    if (height, width) == tuple(shape):
        return photo.rgb
    bands = []
    for top, bottom in row_bands(width, height):
        band = photo.rows(top, bottom)[None]
        if band.shape[-1] != shape[1]:
            band = F.interpolate(band, size=(bottom - top, shape[1]), mode="bilinear", align_corners=False,
                                 antialias=True)
        bands.append(band)
    strip = torch.cat(bands, dim=2)
    if height != shape[0]:
        strip = F.interpolate(strip, size=tuple(shape), mode="bilinear", align_corners=False, antialias=True)
    return strip[0].clamp(0.0, 1.0)


def upsample_rows(wide: torch.Tensor, top: int, bottom: int, height: int) -> torch.Tensor:
    """Rows top:bottom of `wide` (B, C, h, W) resized to height `height`, as F.interpolate's
    bilinear (align_corners=False) would give them, without making the other rows."""
    h = wide.shape[-2]
    if h == height:
        return wide[:, :, top:bottom]
    y = torch.arange(top, bottom, device=wide.device, dtype=torch.float32)
    source = ((y + 0.5) * (h / height) - 0.5).clamp(min=0.0)
    y0 = source.long()
    y1 = (y0 + 1).clamp(max=h - 1)
    t = (source - y0).view(1, 1, -1, 1)
    return wide[:, :, y0] * (1 - t) + wide[:, :, y1] * t


def working_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """The photo's shape scaled so its longer side is `size`, aspect ratio kept, sides >= 1."""
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


class Colorizer:
    """Colorizes photos of any size and shape with a trained generator.

    Args:
        net: the generator and its colour space.
        size: longer side of the working resolution, in pixels (default: the training size).
        device: where the network runs (default: best_device()).
        train_image_size: (H, W) the generator was trained on; sets the default `size`.
        gamut: "fit" (default) desaturates colours outside sRGB so the input's L is kept exactly;
            "clip" clips RGB like ColorSpace.merge, which training's evaluation uses.
    """

    def __init__(
        self,
        net: ColorNet,
        size: int | None = None,
        device: str | torch.device | None = None,
        train_image_size: tuple[int, int] = (32, 32),
        gamut: str = "fit",
    ) -> None:
        if gamut not in GAMUT_MODES:
            raise ValueError(f"Unknown gamut mode {gamut!r}; valid choices: {', '.join(GAMUT_MODES)}.")
        self.gamut = gamut
        self.device = torch.device(device) if device is not None else best_device()
        self.net = net.to(self.device).eval()
        self.train_image_size = tuple(train_image_size)
        self.size = int(size) if size is not None else max(self.train_image_size)
        if self.size < 1:
            raise ValueError(f"The working size must be a positive number of pixels, got {size}.")

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, size: int | None = None, device: str | torch.device | None = None, gamut: str = "fit",
        temperature: float | None = None,
    ) -> Colorizer:
        """A Colorizer for any U-Net, GAN or classification checkpoint colorgan writes (Lab or RGB).
        `temperature` replaces a classification model's annealed-mean temperature."""
        loaded = load_generator(path)
        if temperature is not None:
            set_temperature(loaded.generator, temperature, path)
        return cls(ColorNet(loaded.generator, loaded.color_space), size, device, loaded.train_image_size, gamut)

    @classmethod
    def pretrained(
        cls,
        size: int | None = None,
        device: str | torch.device | None = None,
        gamut: str = "fit",
        directory: str | Path | None = None,
        temperature: float | None = None,
    ) -> Colorizer:
        """The photo colorizer shipped with colorgan (colorgan/pretrained/photo.pt, or `directory`, or
        $COLORGAN_PRETRAINED_DIR), loaded like any checkpoint once its sha256 is verified."""
        from colorgan.pretrained import verified_weights

        return cls.from_checkpoint(verified_weights(directory), size, device, gamut, temperature)

    @property
    def color_space(self) -> ColorSpace:
        return self.net.color_space

    def __call__(self, image: Image.Image | str | Path) -> Image.Image:
        """A Pillow image or an image file -> the colorized Pillow image, same size, alpha kept."""
        photo = read_photo(image) if isinstance(image, (str, Path)) else photo_from_pil(image)
        ab = self.predict_ab([self.working_input(photo)])[0]
        return self.colorize_photo(photo, ab, in_place=True)

    def working_input(self, photo: Photo) -> torch.Tensor:
        """The photo at its working shape, RGB (3, h, w) in [0, 1]: what predict_ab is given."""
        width, height = photo.size
        return shrink_photo(photo, working_shape(height, width, self.size))

    @torch.no_grad()
    def colorize_photo(self, photo: Photo, ab: torch.Tensor, in_place: bool = False) -> Image.Image:
        """The photo and its predicted ab (2, h, w) -> the colorized 8-bit RGB image (RGBA with the
        photo's alpha), same size: ab upsampled and merged with the photo's own L one band of rows
        at a time, so memory is the photo's 8-bit pixels plus a constant. `in_place` writes the
        result into photo.image when it is RGB (the photo is then spent)."""
        width, height = photo.size
        wide = ab.to(self.device, torch.float32)[None]  # (1, 2, h, w)
        if wide.shape[-1] != width:  # only the columns now; the rows band by band below
            wide = F.interpolate(wide, size=(wide.shape[-2], width), mode="bilinear", align_corners=False)
        output = photo.image if in_place and photo.image.mode == "RGB" else Image.new("RGB", photo.size)
        for top, bottom in row_bands(width, height):
            lightness, _ = LAB.split(photo.rows(top, bottom).to(self.device)[None])  # (1, 1, rows, W)
            ab_rows = upsample_rows(wide, top, bottom, height)
            merged = merge_in_gamut(lightness, ab_rows) if self.gamut == "fit" else LAB.merge(lightness, ab_rows)
            output.paste(to_pil(merged[0]), (0, top))
        if photo.alpha is not None:
            output.putalpha(photo.alpha)
        return output

    @torch.no_grad()
    def colorize(self, images: list[torch.Tensor]) -> list[torch.Tensor]:
        """RGB (3, H, W) tensors in [0, 1], any sizes -> colorized RGB (3, H, W) on the CPU.

        Colour inputs are treated as grayscale: only their L (and the network's gray input) is used.
        """
        return [self.apply_ab(rgb, ab) for rgb, ab in zip(images, self.predict_ab(images), strict=True)]

    @torch.no_grad()
    def apply_ab(self, rgb: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """The photo (3, H, W) and its predicted ab (2, h, w) -> colorized RGB (3, H, W) on the CPU:
        ab upsampled to the photo's size and merged with the photo's own L."""
        rgb = rgb.to(self.device, torch.float32)[None]
        lightness, _ = LAB.split(rgb)  # (1, 1, H, W), full resolution
        ab = ab.to(self.device)[None]
        if ab.shape[-2:] != rgb.shape[-2:]:
            ab = F.interpolate(ab, size=rgb.shape[-2:], mode="bilinear", align_corners=False)
        merged = merge_in_gamut(lightness, ab) if self.gamut == "fit" else LAB.merge(lightness, ab)
        return merged[0].cpu()

    @torch.no_grad()
    def predict_ab(self, images: list[torch.Tensor]) -> list[torch.Tensor]:
        """RGB (3, H, W) tensors -> predicted ab (2, h, w) at each one's working shape.

        Images are resized to the working shape, padded (edge pixels repeated) to multiples of the
        network's stride, batched by padded shape, and the padding is cropped off the prediction.
        A photo's result does not depend on what it is batched with.
        """
        stride = self.net.stride
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        inputs = []
        for i, rgb in enumerate(images):
            if rgb.ndim != 3 or rgb.shape[0] != 3 or rgb.shape[1] < 1 or rgb.shape[2] < 1:
                raise ValueError(f"Expected an RGB image tensor (3, H, W), got shape {tuple(rgb.shape)}.")
            h, w = working_shape(rgb.shape[1], rgb.shape[2], self.size)
            x = rgb.to(self.device, torch.float32)[None]
            if (h, w) != tuple(x.shape[-2:]):
                x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
                x = x.clamp(0.0, 1.0)
            padded = (math.ceil(h / stride) * stride, math.ceil(w / stride) * stride)
            if padded != (h, w):
                x = F.pad(x, (0, padded[1] - w, 0, padded[0] - h), mode="replicate")
            inputs.append((x, h, w))
            groups[padded].append(i)
        results: list[torch.Tensor | None] = [None] * len(images)
        for indices in groups.values():
            ab = self.net(torch.cat([inputs[i][0] for i in indices]))
            for i, prediction in zip(indices, ab, strict=True):
                _, h, w = inputs[i]
                results[i] = prediction[:, :h, :w]
        return results
