"""Colorizer: one photo of any size, any shape, at the network's working resolution; its colour laid
on the photo's own full-resolution lightness band by band (the package's docstring says why)."""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from colorgan.color_space import ColorSpace
from colorgan.errors import UserError
from colorgan.image_io import Photo, photo_from_pil, read_photo, to_pil
from colorgan.inference.gamut import GAMUT_MODES, LAB, merge_in_gamut, merge_in_gamut_dense
from colorgan.inference.hint_edges import predict_hinted
from colorgan.inference.hints import Hint, HintError, check_inside, render_hints
from colorgan.nets.color_net import ColorNet
from colorgan.nets.generators import takes_hints
from colorgan.runs.checkpoint_io import load_generator

BAND_PIXELS = 1 << 18  # a full-resolution photo is shrunk and merged this many pixels at a time


def best_device() -> torch.device:
    """CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class DeviceError(UserError, RuntimeError):
    """The device asked for cannot run the network (no CUDA, an unknown name)."""


class TemperatureError(UserError, ValueError):
    """A temperature for a model that has none, or a negative one."""


class ChromaError(UserError, ValueError):
    """A chroma factor that is not a number from 0 up."""


MAX_CHROMA = 4.0


def check_chroma(chroma: float) -> float:
    """The chroma factor, once it is a number in [0, MAX_CHROMA]."""
    if not 0.0 <= chroma <= MAX_CHROMA:
        raise ChromaError(f"--chroma must be between 0 (gray) and {MAX_CHROMA:g}; 1 is the colour as the model "
                          f"predicts it, above 1 bolder, below 1 safer. Got {chroma:g}.")
    return float(chroma)


def set_temperature(generator: nn.Module, temperature: float, source: str | Path) -> None:
    """Set a classification generator's annealed-mean temperature (colorgan.nets.color_classifier)."""
    if not hasattr(generator, "temperature"):
        raise TemperatureError(f"{source} is a regression model: a temperature applies to classification models "
                               "(+experiment=classify) only. Leave --temperature out.")
    if temperature < 0:
        raise TemperatureError(f"The temperature must be >= 0 (1: the mean colour, 0: the most likely one), got {temperature}.")
    generator.temperature = float(temperature)


class WorkingResolutionColorizer(nn.Module):
    """RGB (B, 3, h, w) in [0, 1] -> colorized RGB at the same size, its L kept: what Colorizer
    does to a photo already at its working resolution. The module `colorgan.export` writes."""

    def __init__(self, net: ColorNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, rgb: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        """`hints`: a hint model's hint map (B, 3, h, w) (colorgan.nets.hint_unet), None for none."""
        lightness, _ = LAB.split(rgb)
        return merge_in_gamut_dense(lightness, self.net(rgb, hints))


def row_bands(width: int, height: int) -> list[tuple[int, int]]:
    """(top, bottom) of the bands of rows, about BAND_PIXELS each, that a photo is processed in."""
    step = max(1, BAND_PIXELS // max(1, width))
    return [(top, min(top + step, height)) for top in range(0, height, step)]


def paint_bands(photo: Photo, output: Image.Image, rows_rgb) -> Image.Image:
    """Fill `output` (the photo's size) one band of rows at a time with `rows_rgb(top, bottom)`, RGB
    (3, rows, W) in [0, 1], then put the photo's alpha back: a full-size image made while holding only
    one band as floats."""
    width, height = photo.size
    for top, bottom in row_bands(width, height):
        output.paste(to_pil(rows_rgb(top, bottom)), (0, top))
    if photo.alpha is not None:
        output.putalpha(photo.alpha)
    return output


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


def check_rgb(rgb: torch.Tensor) -> None:
    """A ValueError unless `rgb` is one RGB image tensor (3, H, W) with H, W >= 1."""
    if rgb.ndim != 3 or rgb.shape[0] != 3 or rgb.shape[1] < 1 or rgb.shape[2] < 1:
        raise ValueError(f"Expected an RGB image tensor (3, H, W), got shape {tuple(rgb.shape)}.")


def working_size(size: int) -> int:
    """`size` as the longer side of a working resolution; a ValueError unless it is positive."""
    if int(size) < 1:
        raise ValueError(f"The working size must be a positive number of pixels, got {size}.")
    return int(size)


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
        chroma: the predicted colour's saturation, as a factor on its ab (1: as the model predicts;
            above 1 a bolder colour, below 1 a safer one; 0 gray); colours pushed outside sRGB are
            then brought back by `gamut`.
    """

    def __init__(
        self,
        net: ColorNet,
        size: int | None = None,
        device: str | torch.device | None = None,
        train_image_size: tuple[int, int] = (32, 32),
        gamut: str = "fit",
        chroma: float = 1.0,
    ) -> None:
        if gamut not in GAMUT_MODES:
            raise ValueError(f"Unknown gamut mode {gamut!r}; valid choices: {', '.join(GAMUT_MODES)}.")
        self.gamut = gamut
        self.chroma = check_chroma(chroma)
        self.device = torch.device(device) if device is not None else best_device()
        self.net = net.to(self.device).eval()
        self.train_image_size = tuple(train_image_size)
        self.size = working_size(size if size is not None else max(self.train_image_size))

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, size: int | None = None, device: str | torch.device | None = None, gamut: str = "fit",
        temperature: float | None = None, chroma: float = 1.0,
    ) -> Colorizer:
        """A Colorizer for any U-Net, GAN or classification checkpoint colorgan writes (Lab or RGB).
        `temperature` replaces a classification model's annealed-mean temperature."""
        loaded = load_generator(path)
        if temperature is not None:
            set_temperature(loaded.generator, temperature, path)
        return cls(ColorNet(loaded.generator, loaded.color_space), size, device, loaded.train_image_size, gamut, chroma)

    @classmethod
    def pretrained(
        cls,
        size: int | None = None,
        device: str | torch.device | None = None,
        gamut: str = "fit",
        directory: str | Path | None = None,
        temperature: float | None = None,
        chroma: float = 1.0,
    ) -> Colorizer:
        """The photo colorizer shipped with colorgan (colorgan/pretrained/photo.pt, or `directory`, or
        $COLORGAN_PRETRAINED_DIR), loaded like any checkpoint once its sha256 is verified."""
        from colorgan.pretrained import verified_weights

        return cls.from_checkpoint(verified_weights(directory), size, device, gamut, temperature, chroma)

    @property
    def color_space(self) -> ColorSpace:
        return self.net.color_space

    @property
    def takes_hints(self) -> bool:
        """Whether the model reads colour hints (a hint model, colorgan.nets.hint_unet)."""
        return takes_hints(self.net.generator)

    def __call__(self, image: Image.Image | str | Path, hints: Sequence[Hint] = (), hint_edges: bool = False) -> Image.Image:
        """A Pillow image or an image file -> the colorized Pillow image, same size, alpha kept;
        `hints` in the photo's pixels (a hint model only), their colour as far as the model spreads
        it; hint_edges=True: stopped at the photo's lightness edges (colorgan.inference.hint_edges)."""
        photo = read_photo(image) if isinstance(image, (str, Path)) else photo_from_pil(image)
        working = self.working_input(photo)
        hint_map = self.working_hints(hints, photo.size, working.shape[-2:])
        ab = predict_hinted(self, [photo], [working], [hint_map], hint_edges)[0]
        return self.colorize_photo(photo, ab, in_place=True)

    def require_hint_model(self) -> None:
        """A HintError unless this model takes hints: what giving hints to an automatic model gets."""
        if not self.takes_hints:
            raise HintError("this model takes no colour hints: give them to a hint model "
                            "(+experiment=photo_hints, docs/hints.md), or leave the hints out.")

    def working_hints(self, hints: Sequence[Hint], photo_size: tuple[int, int],
                      shape: tuple[int, int]) -> torch.Tensor | None:
        """The hint map (3, h, w) of a photo's hints at its working shape; None without hints."""
        if not hints:
            return None
        self.require_hint_model()
        check_inside(hints, *photo_size)
        return render_hints(hints, photo_size, tuple(shape))

    def at_size(self, size: int | None) -> Colorizer:
        """This colorizer (the same network, shared) at another working size; None: this one."""
        if size is None:
            return self
        other = copy.copy(self)
        other.size = working_size(size)
        return other

    def with_chroma(self, chroma: float | None) -> Colorizer:
        """This colorizer (the same network, shared) with another chroma factor; None: this one."""
        if chroma is None or float(chroma) == self.chroma:
            return self
        other = copy.copy(self)
        other.chroma = check_chroma(float(chroma))
        return other

    def working_input(self, photo: Photo) -> torch.Tensor:
        """The photo shrunk once to its working shape, RGB (3, h, w) in [0, 1]: what predict_working takes."""
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

        def merged_rows(top: int, bottom: int) -> torch.Tensor:
            lightness, _ = LAB.split(photo.rows(top, bottom).to(self.device)[None])  # (1, 1, rows, W)
            ab_rows = upsample_rows(wide, top, bottom, height)
            merged = merge_in_gamut(lightness, ab_rows) if self.gamut == "fit" else LAB.merge(lightness, ab_rows)
            return merged[0]

        return paint_bands(photo, output, merged_rows)

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
        """RGB (3, H, W) tensors of any sizes -> predicted ab (2, h, w) at each one's working shape:
        each image is resized to its working shape (antialiased bilinear), then predict_working."""
        inputs = []
        for rgb in images:
            check_rgb(rgb)
            h, w = working_shape(rgb.shape[1], rgb.shape[2], self.size)
            x = rgb.to(self.device, torch.float32)[None]
            if (h, w) != tuple(x.shape[-2:]):
                x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
                x = x.clamp(0.0, 1.0)
            inputs.append(x[0])
        return self.predict_working(inputs)

    @torch.no_grad()
    def predict_working(self, inputs: list[torch.Tensor],
                        hints: Sequence[torch.Tensor | None] | None = None) -> list[torch.Tensor]:
        """RGB (3, h, w) tensors already at their working shapes (working_input's) -> predicted ab
        (2, h, w), with no resizing. `hints`: per input, its hint map (3, h, w) (working_hints') or
        None (a hint model then colorizes on its own).

        Inputs are padded (edge pixels repeated; hint maps with zeros: no hint) to multiples of the
        network's stride, batched by padded shape, and the padding is cropped off the prediction. A
        photo's result does not depend on what it is batched with.
        """
        stride = self.net.stride
        hints = list(hints) if hints is not None else [None] * len(inputs)
        with_hints = any(h is not None for h in hints)
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        padded_inputs = []
        for i, rgb in enumerate(inputs):
            check_rgb(rgb)
            h, w = rgb.shape[1:]
            x = rgb.to(self.device, torch.float32)[None]
            hint = hints[i].to(self.device, torch.float32)[None] if hints[i] is not None else x.new_zeros(1, 3, h, w)
            padded = (math.ceil(h / stride) * stride, math.ceil(w / stride) * stride)
            if padded != (h, w):
                x = F.pad(x, (0, padded[1] - w, 0, padded[0] - h), mode="replicate")
                hint = F.pad(hint, (0, padded[1] - w, 0, padded[0] - h))
            padded_inputs.append((x, h, w, hint))
            groups[padded].append(i)
        if with_hints:
            self.require_hint_model()
        results: list[torch.Tensor | None] = [None] * len(inputs)
        for indices in groups.values():
            batch = torch.cat([padded_inputs[i][0] for i in indices])
            hint_maps = torch.cat([padded_inputs[i][3] for i in indices]) if with_hints else None
            ab = self.net(batch, hint_maps)
            for i, prediction in zip(indices, ab, strict=True):
                _, h, w, _ = padded_inputs[i]
                results[i] = prediction[:, :h, :w] * self.chroma if self.chroma != 1.0 else prediction[:, :h, :w]
        return results


def open_colorizer(
    checkpoint: str | Path | None, size: int | None = None, device: str | torch.device | None = None,
    gamut: str = "fit", temperature: float | None = None, chroma: float = 1.0,
) -> Colorizer:
    """The checkpoint's Colorizer, or the shipped photo colorizer when `checkpoint` is None: what the
    colorize command and the page load. A UserError when the checkpoint or the shipped weights are
    missing, damaged or not a colorizer, or when the device cannot be used."""
    try:
        if checkpoint is None:
            return Colorizer.pretrained(size, device, gamut, temperature=temperature, chroma=chroma)
        return Colorizer.from_checkpoint(checkpoint, size, device, gamut, temperature, chroma)
    except UserError:
        raise
    except (RuntimeError, ValueError, AssertionError) as error:  # e.g. --device cuda without CUDA
        raise DeviceError(f"cannot use device {device!r}: {error}") from None
