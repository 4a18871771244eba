"""Videos in with PyAV (FFmpeg's libraries, carried by its wheels): probe a file, stream its frames
in batches, turned upright, each with its presentation time. (Out: colorgan.video.mp4.)

Every video read goes through `open_video`, which refuses what cannot be colorized (not a video,
damaged, audio only, no frames, frames too large) with one line saying so, before any work.
Every decoded frame goes through `read_batches`: its display matrix applied (a phone's portrait
clip comes out upright, as players show it) and its time made strictly increasing (FrameClock).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
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
RAISE_LIMIT = " (or raise --max-frame-pixels if memory and time allow)"
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
    audio_streams: int = 0
    subtitle_streams: int = 0


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


def video_stream(container):
    """The first video stream that is a moving picture (not a cover image), or None."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _info(container, path: Path, max_frame_pixels: int | None) -> VideoInfo:
    stream = video_stream(container)
    if stream is None:
        if container.streams.audio:
            raise VideoError(f"{path}: audio only (no video stream), nothing to colorize; give a video file")
        raise VideoError(f"{path}: no video stream: a zero-length or empty video, nothing to colorize")
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
    return VideoInfo(width, height, Fraction(rate), int(stream.frames or 0), duration, audio,
                     len(container.streams.audio), len(container.streams.subtitles))


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
        raise VideoError(f"{path}: not a video FFmpeg can read, or damaged/truncated ({reason_of(error)})") from None
    try:
        return container, _info(container, path, max_frame_pixels)
    except BaseException:
        container.close()
        raise


def reason_of(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)


class FrameClock:
    """Each decoded frame's presentation time, in `time_base` ticks (the input stream's, split to
    at most 1 ms a tick), made strictly increasing as MP4 needs:

    - a frame with a time keeps it exactly (variable frame rate, dropped frames, late starts);
    - a frame without one is placed one nominal frame (1 / rate) after the frame before;
    - a frame whose time does not follow the frame before's (a duplicated or broken timestamp) is
      placed 1 tick after it (one nominal frame after it when the one before was placed too);
    - when the times jump back by more than a frame (joined recordings, a reset counter), the
      frames after the jump are shifted to follow on one nominal frame later.

    `notes()` says what was changed, for the command to print."""

    def __init__(self, time_base: Fraction, rate: Fraction) -> None:
        self.scale = max(1, math.ceil(time_base * 1000))
        self.time_base = Fraction(time_base) / self.scale
        self.step = max(1, round(1 / (Fraction(rate) * self.time_base)))  # one nominal frame, in ticks
        self.last: int | None = None
        self.offset = self.missing = self.moved = self.jumps = 0
        self.placed = False  # the frame before was placed by this clock, not by its own time

    def __call__(self, pts: int | None) -> int:
        placed = True
        if pts is None:
            self.missing += 1
            time = 0 if self.last is None else self.last + self.step
        else:
            time = pts * self.scale + self.offset
            if self.last is None or time > self.last:
                placed = False
            elif time < self.last - self.step:  # the timestamps start again: follow on
                self.jumps += 1
                self.offset += self.last + self.step - time
                time = self.last + self.step
            else:
                self.moved += 1
                time = self.last + (self.step if self.placed else 1)
        self.last, self.placed = time, placed
        return time

    def state(self) -> dict:
        return {name: getattr(self, name) for name in ("last", "offset", "missing", "moved", "jumps", "placed")}

    def load(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def notes(self) -> list[str]:
        """What the clock changed, one line each (none when every frame kept its time)."""
        step_ms = float(self.step * self.time_base) * 1000
        notes = []
        if self.missing:
            notes.append(f"{self.missing} frame(s) had no timestamp: each was placed one frame ({step_ms:.1f} ms) "
                         "after the frame before")
        if self.moved:
            notes.append(f"{self.moved} frame(s) had a timestamp at or before the frame before's (duplicated or "
                         f"broken): each was placed just after it ({float(self.time_base) * 1000:.2f} ms)")
        if self.jumps:
            notes.append(f"the timestamps jumped back {self.jumps} time(s): the frames after each jump were shifted "
                         "to follow on; the sound may be out of step after it")
        return notes


# The display matrix's quarter turns and flips, as FFmpeg's players apply them (fftools' autorotate):
# theta is the clockwise rotation in degrees; m[0], m[3], m[4] entries of the 3x3 matrix.
def _clockwise(rgb):
    return np.rot90(rgb, -1)


def _anticlockwise(rgb):
    return np.rot90(rgb, 1)


def display_matrix(frame) -> np.ndarray | None:
    """The frame's display matrix (9 int32, 16.16 fixed point), or None."""
    for key in frame.side_data:  # PyAV 18.1.0 iterates the side data, 18.1.1 their types (a Mapping's keys)
        side = key if hasattr(key, "type") else frame.side_data[key]
        if side.type.name == "DISPLAYMATRIX":
            return np.frombuffer(bytes(side), np.int32)[:9]
    return None


def upright(rgb: np.ndarray, matrix: np.ndarray | None) -> tuple[np.ndarray, str | None]:
    """The (H, W, 3) frame turned as its display matrix says players show it, and a note of what was
    done (None: nothing). Rotations other than quarter turns are taken to the nearest quarter turn."""
    if matrix is None:
        return rgb, None
    a, b, c, d = (float(v) for v in (matrix[0], matrix[1], matrix[3], matrix[4]))
    scale = math.hypot(a, c) or 1.0
    theta = math.degrees(math.atan2(b / scale, a / scale))  # -av_display_rotation_get: the clockwise turn
    quarter = round(theta / 90) % 4
    said = "as its display matrix says players show it"
    if abs(theta - round(theta / 90) * 90) > 1:
        said = f"the nearest quarter turn to the {theta:.0f} degrees its display matrix says"
    if quarter == 1:
        rgb, done = (rgb.transpose(1, 0, 2), "turned 90 degrees clockwise and mirrored") if c > 0 else \
            (_clockwise(rgb), "turned 90 degrees clockwise")
    elif quarter == 3:
        rgb, done = (_clockwise(rgb)[::-1], "turned 90 degrees counterclockwise and mirrored") if c < 0 else \
            (_anticlockwise(rgb), "turned 90 degrees counterclockwise")
    else:
        mirror, upside = quarter == 2 and a < 0, d < 0
        rgb = rgb[::-1 if upside else 1, ::-1 if mirror else 1]
        done = {(True, True): "turned 180 degrees", (True, False): "mirrored left to right",
                (False, True): "flipped upside down", (False, False): None}[mirror, upside]
    if done is None and said.startswith("the nearest"):
        done = "kept as decoded"
    return rgb, None if done is None else f"{done}, {said}"


@dataclass
class Frames:
    """A batch of decoded frames, upright: RGB (N, H, W, 3) uint8 and each frame's time in the
    clock's time base. `rgb` is the reader's own buffer, overwritten by the next batch."""

    rgb: np.ndarray
    pts: list[int]


def read_batches(container, path: Path, batch_size: int, clock: FrameClock | None = None, skip: int = 0,
                 turned: list[str] | None = None) -> Iterator[Frames]:
    """Decode the video stream in batches of `batch_size` frames, in presentation order, each turned
    upright (its note, once, appended to `turned`) and timed by `clock` (default: a new FrameClock
    of the stream). The first `skip` frames are decoded but not returned (a resumed run; the
    clock's state is then the one it had after them). VideoError when decoding fails (a truncated
    or damaged file), no frame was decoded, or the frame size changes."""
    video = video_stream(container)
    video.thread_type = "AUTO"  # FFmpeg's frame threads
    if clock is None:
        clock = FrameClock(video.time_base, video.average_rate or video.guessed_rate or video.base_rate)
    buffer, pts, decoded, seen_notes, last = None, [], 0, set(), None
    try:
        for packet in container.demux(video):
            for frame in packet.decode():
                if decoded + len(pts) < skip:
                    decoded += 1
                    continue
                rgb, note = upright(frame.to_ndarray(format="rgb24"), display_matrix(frame))
                if note is not None and note not in seen_notes and turned is not None:
                    seen_notes.add(note)
                    turned.append(note)
                if buffer is None:
                    buffer = np.empty((batch_size, *rgb.shape), np.uint8)
                elif rgb.shape != buffer.shape[1:]:
                    raise VideoError(f"{path}: the frame size changes at frame {decoded + len(pts) + 1} "
                                     f"({buffer.shape[2]}x{buffer.shape[1]} to {rgb.shape[1]}x{rgb.shape[0]}); "
                                     "colorgan writes one size a video: split it where the size changes")
                buffer[len(pts)] = rgb
                time = frame.pts if frame.pts is not None else frame.dts
                last = time if time is not None and (last is None or time > last) else last
                pts.append(clock(time))
                if len(pts) == batch_size:
                    decoded += len(pts)
                    yield Frames(buffer, pts)
                    pts = []
    except av.FFmpegError as error:
        raise VideoError(f"{path}: cannot decode frame {decoded + len(pts) + 1}: {reason_of(error)}; "
                         "the file is damaged or truncated") from None
    if pts:
        decoded += len(pts)
        yield Frames(buffer[: len(pts)], pts)
    if decoded == 0:
        raise VideoError(f"{path}: a zero-length video (no frames); nothing to colorize")
    declared = video.frames
    if declared and decoded < declared - max(1, declared // 100) and _ends_early(video, last):
        raise VideoError(f"{path}: truncated: its header says {declared} frames, only {decoded} could be decoded")


def _ends_early(video, last: int | None) -> bool:
    """True when the last decoded frame (at `last`, the stream's time base) is more than two frames
    and 1% before the end the stream declares: frames are missing at the end (cut short), not in
    between (a variable-rate clip whose header counts the gaps, as AVI's does)."""
    if last is None or not video.duration:
        return True
    end = ((video.start_time or 0) + video.duration) * video.time_base
    rate = video.average_rate or video.guessed_rate or video.base_rate
    return last * video.time_base + 2 / rate + end / 100 < end


def output_path(source: Path, output_dir: Path) -> Path:
    """OUTPUT_DIR/NAME.mp4 for a video NAME.ext (H.264 in MP4 whatever the input's container)."""
    return output_dir / f"{source.stem}.mp4"


def same_file(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)
