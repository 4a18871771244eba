"""Colorize a video, streamed: `colorize_video(colorizer, "film.mp4", "out/film.mp4")`.

Frames are decoded `batch_size` at a time (8-bit RGB), shrunk one by one to the network's working
resolution, colorized as one batch, stabilized (colorgan.video.stabilize), and each frame's colour
is upsampled and merged with its own full-resolution lightness (as Colorizer.apply_ab does for
photos, the lightness read through a table) and encoded before the next. Audio packets are copied to the output as they are met. So memory is
one batch of 8-bit frames, one frame's float tensors, the encoder's look-ahead and the network:
the same for a ten-second clip as for a feature film (BENCHMARKS.md, "video: peak memory").

The output is written to a hidden file beside its path and renamed there only at the end: an
error or Ctrl-C leaves no half-written video.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from kornia.color import rgb_to_linear_rgb

from colorgan.inference import LAB, Colorizer, merge_in_gamut, row_bands, upsample_rows, working_shape
from colorgan.system.atomic_io import atomic_path
from colorgan.video.flicker import Flicker, measured
from colorgan.video.stabilize import Stabilizer
from colorgan.video.streams import MAX_FRAME_PIXELS, VideoInfo, VideoWriter, open_video, read_batches

DEFAULT_BATCH = 16  # frames per batch, as colorize's --batch-size: 16 frames of 1080p are 100 MB as 8-bit RGB


@dataclass
class VideoResult:
    """What colorize_video did: the input's VideoInfo, frames written, seconds taken and, with
    compare, the metrics of the prediction against the colour original."""

    info: VideoInfo
    frames: int = 0
    seconds: float = 0.0
    metrics: dict | None = None


@dataclass
class Comparison:
    """--compare on a video: colorgan's photo metrics, frame by frame, and the flicker of the
    prediction and of the colour original, all at flicker.MEASURE_SIDE px."""

    model_flicker: Flicker = field(default_factory=Flicker)
    original_flicker: Flicker = field(default_factory=Flicker)
    frames: int = 0

    def __post_init__(self) -> None:
        from colorgan.metrics import colorization_metrics  # torchmetrics: only when comparing

        self.model, self.baseline = colorization_metrics(), colorization_metrics()

    def update(self, prediction: torch.Tensor, original: torch.Tensor) -> None:
        """Full-resolution RGB (1, 3, H, W) in [0, 1] of one frame, in order."""
        prediction, original = measured(prediction), measured(original)
        self.model_flicker.update(prediction)
        self.original_flicker.update(original)
        self.model.update(prediction, original)
        self.baseline.update(LAB.gray_of(original), original)
        self.frames += 1

    def compute(self) -> dict:
        model = {k: float(v) for k, v in self.model.compute().items()}
        model["flicker"] = self.model_flicker.compute()
        return {
            "frames": self.frames,
            "model": model,
            "baseline": {k: float(v) for k, v in self.baseline.compute().items()},
            "original": {"flicker": self.original_flicker.compute()},
        }


def working_inputs(frames: torch.Tensor, size: int) -> torch.Tensor:
    """8-bit frames (B, H, W, 3) -> RGB (B, 3, h, w) in [0, 1] at the working resolution (longer
    side `size`), each frame shrunk alone so only one is ever held as floats at full size."""
    height, width = frames.shape[1:3]
    shape = working_shape(height, width, size)
    small = []
    for frame in frames:
        rgb = frame.permute(2, 0, 1)[None].float() / 255.0
        if shape != (height, width):
            rgb = F.interpolate(rgb, size=shape, mode="bilinear", align_corners=False, antialias=True)
        small.append(rgb.clamp(0.0, 1.0))
    return torch.cat(small)


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """RGB (3, H, W) in [0, 1] -> (H, W, 3) uint8, as Pillow rounds (rgb is overwritten)."""
    return rgb.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


# Y (relative luminance) of each 8-bit value of each channel: kornia's sRGB curve times its Y row.
_Y_OF_LEVEL = (rgb_to_linear_rgb(torch.arange(256.0).div(255.0).view(1, 1, 256).expand(3, 1, 256))
               * torch.tensor([0.212671, 0.715160, 0.072169]).view(3, 1, 1)).view(3, 256)


def lightness_of(frame: torch.Tensor) -> torch.Tensor:
    """8-bit RGB (H, W, 3) -> L (1, 1, H, W) in [0, 100], rgb_to_lab's L (to 1e-4) at a quarter of its
    cost: L depends on Y alone, and Y is a sum of three table look-ups of the 8-bit levels."""
    index = frame.long()
    y = _Y_OF_LEVEL[0][index[..., 0]] + _Y_OF_LEVEL[1][index[..., 1]] + _Y_OF_LEVEL[2][index[..., 2]]
    f = torch.where(y > 0.008856, y.clamp(min=0.008856).pow(1.0 / 3.0), 7.787 * y + 4.0 / 29.0)
    return (116.0 * f - 16.0)[None, None]


class FrameColorizer:
    """Colorizes consecutive batches of frames: network on the batch, stabilizer, then merge frame by frame."""

    def __init__(self, colorizer: Colorizer, stabilizer: Stabilizer | None, comparison: Comparison | None) -> None:
        self.colorizer, self.stabilizer, self.comparison = colorizer, stabilizer, comparison

    @torch.no_grad()
    def __call__(self, frames: np.ndarray) -> list[np.ndarray]:
        """8-bit RGB frames (B, H, W, 3) -> their colorized 8-bit frames, same size."""
        frames = torch.from_numpy(frames)
        small = working_inputs(frames, self.colorizer.size).to(self.colorizer.device)
        ab = torch.stack(self.colorizer.predict_working(list(small)))  # (B, 2, h, w), ColorSpace("lab") scaling
        if self.stabilizer is not None:
            lightness = (LAB.split(small)[0] + 1.0) * 50.0  # (B, 1, h, w), L in [0, 100]
            ab = self.stabilizer(lightness, ab * 110.0) / 110.0
        out = []
        for frame, frame_ab in zip(frames, ab, strict=True):
            colour = self.merge(frame, frame_ab)
            if self.comparison is not None:  # the 8-bit frame as written, against the original
                as_float = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255.0 for f in (colour, frame.numpy())]
                self.comparison.update(*as_float)
            out.append(colour)
        return out

    def merge(self, frame: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
        """One 8-bit frame (H, W, 3) and its ab (2, h, w) -> the colorized 8-bit frame (H, W, 3):
        Colorizer.colorize_photo's merge (ab upsampled bilinearly, the frame's own L, --gamut), one
        band of rows at a time so a frame is never whole as floats, L read by lightness_of."""
        height, width = frame.shape[:2]
        device = self.colorizer.device
        wide = ab[None].to(device, torch.float32)  # (1, 2, h, w): its columns now, its rows band by band
        if wide.shape[-1] != width:
            wide = F.interpolate(wide, size=(wide.shape[-2], width), mode="bilinear", align_corners=False)
        output = np.empty((height, width, 3), np.uint8)
        for top, bottom in row_bands(width, height):
            lightness = lightness_of(frame[top:bottom].to(device)) / 50.0 - 1.0  # ColorSpace("lab") scaling
            ab_rows = upsample_rows(wide, top, bottom, height)
            merged = merge_in_gamut(lightness, ab_rows) if self.colorizer.gamut == "fit" else LAB.merge(lightness, ab_rows)
            output[top:bottom] = to_uint8(merged[0].cpu())
        return output


def colorize_video(
    colorizer: Colorizer,
    source: str | Path,
    output: str | Path,
    batch_size: int = DEFAULT_BATCH,
    stabilizer: Stabilizer | None = None,
    compare: bool = False,
    max_frame_pixels: int | None = MAX_FRAME_PIXELS,
    on_start: Callable[[VideoInfo], None] | None = None,
    on_frames: Callable[[int], None] | None = None,
) -> VideoResult:
    """Colorize the video `source` into the MP4 `output` (same frame size, timestamps and audio).

    VideoError (a UserError) when the input cannot be colorized; then, or on any other error or
    Ctrl-C, nothing is left at `output`. `on_start(info)` is called once the input is probed and
    `on_frames(n)` after each batch of n frames is written (a progress bar's hooks)."""
    source, output = Path(source), Path(output)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    started = time.perf_counter()
    container, info = open_video(source, max_frame_pixels)
    result = VideoResult(info)
    comparison = Comparison() if compare else None
    colorize_frames = FrameColorizer(colorizer, stabilizer, comparison)
    if on_start is not None:
        on_start(info)
    output.parent.mkdir(parents=True, exist_ok=True)
    audio = container.streams.audio[0] if container.streams.audio else None
    time_base = container.streams.video[0].time_base
    with container, atomic_path(output) as tmp, VideoWriter(tmp, info, time_base, audio) as writer:
        for batch in read_batches(container, source, batch_size, writer.write_audio):
            for rgb, pts in zip(colorize_frames(batch.rgb), batch.pts, strict=True):
                writer.write(rgb, pts)
            result.frames += len(batch.pts)
            if on_frames is not None:
                on_frames(len(batch.pts))
    result.seconds = time.perf_counter() - started
    if comparison is not None:
        result.metrics = comparison.compute()
    return result
