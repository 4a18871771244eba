"""Colorize a video, streamed: `colorize_video(colorizer, "film.mp4", "out/film.mp4")`.

Frames are decoded `batch_size` at a time (8-bit RGB), shrunk one by one to the network's working
resolution, colorized as one batch, stabilized (colorgan.video.stabilize), and each frame's colour
is upsampled and merged with its own full-resolution lightness (as Colorizer.apply_ab does for
photos, the lightness read through a table) and encoded before the next. So memory is one batch
of 8-bit frames, one frame's float tensors, the encoder's look-ahead and the network: the same for
a ten-second clip as for a feature film (BENCHMARKS.md, "video: peak memory").

The frames are written in parts of about a minute (colorgan.video.parts), joined at the end with
the input's sound into a hidden file beside the output, renamed there only when complete: an error
leaves nothing; an interruption leaves the finished parts, which the same command resumes from.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from kornia.color import rgb_to_linear_rgb

from colorgan.color_space import ab_length
from colorgan.inference import LAB, Colorizer, merge_in_gamut, row_bands, upsample_rows, working_shape
from colorgan.system.atomic_io import atomic_path, check_writable, remove_dead_temporaries
from colorgan.video.flicker import GRAY_CHROMA, Drift, Flicker, measured, warp_error_if_possible
from colorgan.video.mp4 import join, writing
from colorgan.video.parts import PART_SECONDS, Parts, weights_digest
from colorgan.video.stabilize import ColourMemory, Stabilizer
from colorgan.video.streams import MAX_FRAME_PIXELS, FrameClock, VideoInfo, open_video, read_batches, video_stream

DEFAULT_BATCH = 16  # frames per batch, as colorize's --batch-size: 16 frames of 1080p are 100 MB as 8-bit RGB


@dataclass
class VideoResult:
    """What colorize_video did: the input's VideoInfo, frames colorized by this run and by the
    stopped run it resumed, seconds taken, notes of what was normalised or left out (one line each)
    and, with compare, the metrics of the prediction against the colour original."""

    info: VideoInfo
    frames: int = 0
    resumed: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    metrics: dict | None = None


@dataclass
class Comparison:
    """--compare on a video: colorgan's photo metrics, frame by frame, of the prediction and (beside
    it) of the gray input, against the colour original; the flicker, drift and (with OpenCV) warp
    error of the prediction and of the original (the gray input has none); all at
    flicker.MEASURE_SIDE px. A video whose
    original has no colour (mean chroma under GRAY_CHROMA in every frame) is not measured."""

    model_flicker: Flicker = field(default_factory=Flicker)
    original_flicker: Flicker = field(default_factory=Flicker)
    model_drift: Drift = field(default_factory=Drift)
    original_drift: Drift = field(default_factory=Drift)
    frames: int = 0
    chroma: float = 0.0  # the most colourful original frame's mean chroma

    def __post_init__(self) -> None:
        from colorgan.metrics import AgainstGray  # torchmetrics: only when comparing

        self.against_gray = AgainstGray()
        self.warp_error = warp_error_if_possible(("model", "original"))

    def update(self, prediction: torch.Tensor, original: torch.Tensor) -> None:
        """Full-resolution RGB (1, 3, H, W) in [0, 1] of one frame, in order."""
        prediction, original = measured(prediction), measured(original)
        self.model_flicker.update(prediction)
        self.original_flicker.update(original)
        self.model_drift.update(prediction)
        self.original_drift.update(original)
        if self.warp_error is not None:
            self.warp_error.update(original, {"model": prediction, "original": original})
        self.chroma = max(self.chroma, float(ab_length(LAB.split(original)[1].mul(110.0)).mean()))
        self.against_gray.update(prediction, LAB.gray_of(original), original)
        self.frames += 1

    def compute(self) -> dict | None:
        """{frames, model, baseline, original} as metrics.json holds them; None for a gray original."""
        if self.chroma < GRAY_CHROMA:
            return None
        model, baseline = self.against_gray.compute()
        model.update(flicker=self.model_flicker.compute(), drift=self.model_drift.compute())
        baseline.update(flicker=0.0, drift=0.0)
        original = {"flicker": self.original_flicker.compute(), "drift": self.original_drift.compute()}
        if self.warp_error is not None:
            warped = self.warp_error.compute()
            model["warp_error"], baseline["warp_error"], original["warp_error"] = warped["model"], 0.0, warped["original"]
        return {"frames": self.frames, "model": model, "baseline": baseline, "original": original}


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

    def __init__(self, colorizer: Colorizer, stabilizer: Stabilizer | None, comparison: Comparison | None,
                 memory: ColourMemory | None = None) -> None:
        self.colorizer, self.stabilizer, self.comparison, self.memory = colorizer, stabilizer, comparison, memory

    @torch.no_grad()
    def __call__(self, frames: np.ndarray) -> list[np.ndarray]:
        """8-bit RGB frames (B, H, W, 3) -> their colorized 8-bit frames, same size."""
        frames = torch.from_numpy(frames)
        small = working_inputs(frames, self.colorizer.size).to(self.colorizer.device)
        ab = torch.stack(self.colorizer.predict_working(list(small)))  # (B, 2, h, w), ColorSpace("lab") scaling
        if self.stabilizer is not None or self.memory is not None:
            lightness = (LAB.split(small)[0] + 1.0) * 50.0  # (B, 1, h, w), L in [0, 100]
            ab = ab * 110.0  # Lab units
            if self.stabilizer is not None:
                ab = self.stabilizer(lightness, ab)
            if self.memory is not None:
                ab = self.memory(lightness, ab)
            ab = ab / 110.0
        out = []
        for frame, frame_ab in zip(frames, ab, strict=True):
            colour = self.merge(frame, frame_ab)
            if self.comparison is not None:  # the 8-bit frame as written, against the original
                as_float = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255.0 for f in (colour, frame.numpy())]
                self.comparison.update(*as_float)
            out.append(colour)
        return out

    def state(self) -> dict:
        """What the next frame's colour depends on (the stabilizer's memory of the frame before)."""
        return {name: None if stage is None else stage.state()
                for name, stage in (("stabilizer", self.stabilizer), ("memory", self.memory))}

    def load(self, state: dict) -> None:
        for stage, saved in ((self.stabilizer, state.get("stabilizer")), (self.memory, state.get("memory"))):
            if stage is not None and saved is not None:
                stage.load(saved)

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


def prepare_output(output: Path) -> None:
    """Make the output's folder, remove temporary files of dead processes beside the output, and
    check that a file can be written there: WriteError (one line) now, not after the model loads."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        remove_dead_temporaries(output.parent, output.name)
        check_writable(output)
    except OSError as error:
        raise writing(output.parent, error) from None


def settings_of(source: Path, colorizer: Colorizer, frame_colorizer: FrameColorizer, part_seconds: float) -> dict:
    """What the pictures of a run depend on: a stopped run's parts are resumed only when all agree."""
    stat = source.stat()
    stabilizer = frame_colorizer.stabilizer
    return {
        "input": os.path.realpath(source), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns,
        "weights": weights_digest(colorizer.net), "size": colorizer.size, "gamut": colorizer.gamut,
        "temperature": getattr(colorizer, "temperature", None), "part_seconds": part_seconds,
        "stabilizer": None if stabilizer is None else [stabilizer.strength, stabilizer.motion, stabilizer.cut,
                                                       stabilizer.follow_motion],
        "memory": None if frame_colorizer.memory is None else [frame_colorizer.memory.weight, frame_colorizer.memory.cut],
    }


def colorize_video(
    colorizer: Colorizer,
    source: str | Path,
    output: str | Path,
    batch_size: int = DEFAULT_BATCH,
    stabilizer: Stabilizer | None = None,
    memory: ColourMemory | None = None,
    compare: bool = False,
    max_frame_pixels: int | None = MAX_FRAME_PIXELS,
    on_start: Callable[[VideoInfo, int], None] | None = None,
    on_frames: Callable[[int], None] | None = None,
    part_seconds: float = PART_SECONDS,
) -> VideoResult:
    """Colorize the video `source` into the MP4 `output` (frames upright, each at its own time, and
    every audio stream), resuming the parts of a stopped run with the same settings.

    VideoError (a UserError) when the input cannot be colorized or the output cannot be written;
    then, or on any other error, nothing is left at or beside `output`. On KeyboardInterrupt (or
    another BaseException that is not an Exception) the finished parts are kept for a resume.
    `on_start(info, resumed_frames)` is called once the input is probed and `on_frames(n)` after each
    batch of n frames is written (a progress bar's hooks)."""
    source, output = Path(source), Path(output)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    started = time.perf_counter()
    container, info = open_video(source, max_frame_pixels)
    with container:
        result = VideoResult(info)
        comparison = Comparison() if compare else None
        colorize_frames = FrameColorizer(colorizer, stabilizer, comparison, memory)
        prepare_output(output)
        parts = Parts(output, settings_of(source, colorizer, colorize_frames, part_seconds))
        part, turned = None, []
        try:
            state = parts.resume()
            video = video_stream(container)
            clock = FrameClock(video.time_base, info.rate)
            if state is not None:
                clock.load(state["clock"])
                colorize_frames.load(state["frames"])
                result.resumed = state["done"]
            if on_start is not None:
                on_start(info, result.resumed)
            for batch in read_batches(container, source, batch_size, clock, skip=result.resumed, turned=turned):
                colours = colorize_frames(batch.rgb)
                if part is None:
                    part = parts.start(batch.rgb.shape[2], batch.rgb.shape[1], info.rate, clock.time_base)
                for rgb, pts in zip(colours, batch.pts, strict=True):
                    part.write(rgb, pts)
                result.frames += len(batch.pts)
                if (batch.pts[-1] - part.first) * clock.time_base >= part_seconds:
                    parts.finish(part, {"done": result.resumed + result.frames, "clock": clock.state(),
                                        "frames": colorize_frames.state()})
                    part = None
                if on_frames is not None:
                    on_frames(len(batch.pts))
            if part is not None:
                parts.finish(part, {"done": result.resumed + result.frames, "clock": clock.state(),
                                    "frames": colorize_frames.state()})
                part = None
            with atomic_path(output) as tmp:
                result.notes = turned + clock.notes() + join(parts.files, source, tmp)
        except Exception:
            if part is not None:
                part.discard()
            parts.remove()
            raise
        except BaseException:  # Ctrl-C, SIGTERM: the finished parts stay for the same command to resume
            if part is not None:
                part.discard()
            if not parts.files:
                parts.remove()
            raise
    parts.remove()
    if info.subtitle_streams:
        result.notes.append(f"{info.subtitle_streams} subtitle stream(s) not carried over (MP4 output has "
                            "the video and every audio stream)")
    result.seconds = time.perf_counter() - started
    if comparison is not None:
        result.metrics = comparison.compute()
    return result
