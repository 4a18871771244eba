"""Videos in and out with PyAV (FFmpeg's libraries, carried by its wheels): probe a file, stream
its frames in batches while its audio packets pass straight to the output, write H.264 in MP4.

Every video read goes through `open_video`, which refuses what cannot be colorized (not a video,
damaged, audio only, no frames, frames too large) with one line saying so, before any work.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from colorgan.errors import UserError
from colorgan.image_io import ImageReadError, readable_formats, regular_stat

# Suffixes always taken as videos (and a file with an unknown suffix is probed: see is_video).
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ogv", ".wmv",
                            ".flv", ".ts", ".mts", ".3gp"})
# Largest frame colorized by default: 4K UHD. An 8K frame takes 100 MB as 8-bit RGB and about
# 1.6 GB as the float tensors of its Lab merge, and runs at a few seconds a frame on a CPU.
MAX_FRAME_PIXELS = 3840 * 2160
# Audio an MP4 holds as it is; anything else (PCM from an AVI, Vorbis...) is re-encoded as AAC.
MP4_AUDIO = frozenset({"aac", "mp3", "alac", "opus", "ac3", "eac3", "flac"})
RAISE_LIMIT = " (or raise --max-frame-pixels if memory and time allow)"
VIDEO_CODEC, VIDEO_OPTIONS = "libx264", {"crf": "18", "preset": "veryfast"}  # visually lossless, fast
NOT_VIDEO_FORMATS = ("image2", "_pipe", "gif", "tty")  # FFmpeg demuxers of still images and text


class VideoError(UserError, ValueError):
    """A video that cannot be colorized; the message says why and what to do."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds: its frame size, rate (frames/s), frame count (0: the container does not
    say) and duration in seconds, and its audio codec (None: no sound)."""

    width: int
    height: int
    rate: Fraction
    frames: int
    duration: float
    audio: str | None


def quiet_ffmpeg() -> None:
    """FFmpeg's own log lines (e.g. "moov atom not found") would repeat what VideoError says."""
    av.logging.set_level(av.logging.PANIC)


def is_video(path: Path) -> bool:
    """True for a file with a video suffix, or one with no image suffix whose content FFmpeg opens as
    a moving picture (a film saved without a suffix). Image suffixes stay photos."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return True
    if suffix in readable_formats() or not path.is_file():
        return False
    quiet_ffmpeg()
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video) and not container.format.name.endswith(NOT_VIDEO_FORMATS)
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        return False


def _info(container, path: Path, max_frame_pixels: int | None) -> VideoInfo:
    if not container.streams.video:
        if container.streams.audio:
            raise VideoError(f"{path}: audio only (no video stream), nothing to colorize; give a video file")
        raise VideoError(f"{path}: no video stream: a zero-length or empty video, nothing to colorize")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width < 1 or height < 1:
        raise VideoError(f"{path}: its video stream has no frame size; the file is damaged")
    if max_frame_pixels is not None and width * height > max_frame_pixels:
        raise VideoError(
            f"{path}: {width}x{height} frames are {width * height:,} pixels, over the limit of {max_frame_pixels:,}; "
            f"scale the video down first{RAISE_LIMIT}")
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        raise VideoError(f"{path}: its video stream has no frame rate; the file is damaged")
    if stream.duration is not None:
        duration = float(stream.duration * stream.time_base)
    else:
        duration = (container.duration or 0) / av.time_base
    audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
    return VideoInfo(width, height, Fraction(rate), int(stream.frames or 0), duration, audio)


def open_video(path: Path, max_frame_pixels: int | None = MAX_FRAME_PIXELS):
    """The opened container and its VideoInfo; VideoError (one line) when it cannot be colorized."""
    quiet_ffmpeg()
    try:
        size = regular_stat(path).st_size
    except ImageReadError as error:
        raise VideoError(f"{path}: {error}") from None
    if size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except av.EOFError:
        raise VideoError(f"{path}: ends before its first frame: a zero-length or truncated video") from None
    except (av.FFmpegError, UnicodeDecodeError) as error:
        raise VideoError(f"{path}: not a video FFmpeg can read, or damaged/truncated ({_reason(error)})") from None
    try:
        return container, _info(container, path, max_frame_pixels)
    except BaseException:
        container.close()
        raise


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)


@dataclass
class Frames:
    """A batch of decoded frames: RGB (N, H, W, 3) uint8 and each frame's timestamp (stream time base).
    `rgb` is the reader's own buffer, overwritten by the next batch."""

    rgb: np.ndarray
    pts: list[int | None]


def read_batches(container, path: Path, batch_size: int, on_audio: Callable | None = None) -> Iterator[Frames]:
    """Decode the first video stream in batches of `batch_size` frames, in file order; each audio
    packet of the first audio stream met on the way goes to `on_audio` (muxed as it comes).
    VideoError when decoding fails (a truncated or damaged file) or no frame was decoded."""
    video = container.streams.video[0]
    video.thread_type = "AUTO"  # FFmpeg's frame threads
    streams = [video] + ([container.streams.audio[0]] if container.streams.audio and on_audio else [])
    buffer, pts, decoded = None, [], 0  # one batch of 8-bit frames, filled in place
    try:
        for packet in container.demux(*streams):
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    on_audio(packet)
                continue
            for frame in packet.decode():
                rgb = frame.to_ndarray(format="rgb24")
                if buffer is None:
                    buffer = np.empty((batch_size, *rgb.shape), np.uint8)
                elif rgb.shape != buffer.shape[1:]:
                    raise VideoError(f"{path}: the frame size changes at frame {decoded + len(pts) + 1} "
                                     f"({buffer.shape[2]}x{buffer.shape[1]} to {rgb.shape[1]}x{rgb.shape[0]}); "
                                     "colorgan writes one size a video: split it where the size changes")
                buffer[len(pts)] = rgb
                pts.append(frame.pts)
                if len(pts) == batch_size:
                    decoded += len(pts)
                    yield Frames(buffer, pts)
                    pts = []
    except av.FFmpegError as error:
        raise VideoError(f"{path}: cannot decode frame {decoded + len(pts) + 1}: {_reason(error)}; "
                         "the file is damaged or truncated") from None
    if pts:
        decoded += len(pts)
        yield Frames(buffer[: len(pts)], pts)
    if decoded == 0:
        raise VideoError(f"{path}: a zero-length video (no frames); nothing to colorize")
    declared = video.frames
    if declared and decoded < declared - max(1, declared // 100):
        raise VideoError(f"{path}: truncated: its header says {declared} frames, only {decoded} could be decoded")


class VideoWriter:
    """An MP4 being written: H.264 frames at the input's timestamps, the input's audio copied (or
    re-encoded as AAC when MP4 cannot hold its codec). Close it (or use `with`) to flush."""

    def __init__(self, path: Path, info: VideoInfo, time_base: Fraction, audio_in=None) -> None:
        """Frames come with timestamps in `time_base` (the input stream's); `audio_in` is the input's
        audio stream whose packets `write_audio` takes (None: a silent output)."""
        self.container = av.open(str(path), "w", format="mp4")
        self.video = self.container.add_stream(VIDEO_CODEC, rate=info.rate, options=dict(VIDEO_OPTIONS))
        self.video.width, self.video.height = info.width, info.height
        # x264's 4:2:0 needs even sides; an odd-sized film keeps its size in 4:4:4 instead.
        self.video.pix_fmt = "yuv420p" if info.width % 2 == 0 and info.height % 2 == 0 else "yuv444p"
        self.video.time_base = self.time_base = time_base
        self.audio = self.resampled = None
        if audio_in is not None and audio_in.codec_context.name in MP4_AUDIO:
            self.audio = self.container.add_stream_from_template(audio_in)
        elif audio_in is not None:
            rate = audio_in.codec_context.sample_rate or 48000
            self.audio = self.container.add_stream("aac", rate=rate)
            self.audio.layout = "mono" if audio_in.codec_context.channels == 1 else "stereo"
            self.resampled = True

    def write_audio(self, packet) -> None:
        if self.resampled:  # decode and re-encode; PyAV's encoder resamples and re-frames for AAC
            for frame in packet.decode():
                frame.pts = None
                self.container.mux(self.audio.encode(frame))
            return
        packet.stream = self.audio
        self.container.mux(packet)

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        """One RGB (H, W, 3) uint8 frame at `pts` (the input stream's time base)."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts, frame.time_base = pts, self.time_base
        self.container.mux(self.video.encode(frame))

    def close(self) -> None:
        try:
            self.container.mux(self.video.encode(None))
            if self.resampled:
                self.container.mux(self.audio.encode(None))
        finally:
            self.container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:  # the output is thrown away: no need to flush it
            self.container.close()


def output_path(source: Path, output_dir: Path) -> Path:
    """OUTPUT_DIR/NAME.mp4 for a video NAME.ext (H.264 in MP4 whatever the input's container)."""
    return output_dir / f"{source.stem}.mp4"


def same_file(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)
