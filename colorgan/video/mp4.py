"""Videos out with PyAV: H.264 in MP4 written frame by frame at given times (VideoWriter), and the
join of the written parts with every audio stream of the input (join); a file that cannot be
written is one line (WriteError) naming it."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from colorgan.video.streams import VideoError, reason_of

# Visually lossless and fast; no B-frames, so every packet's dts is its pts and parts written one
# after another join into one stream in order (join).
VIDEO_CODEC, VIDEO_OPTIONS = "libx264", {"crf": "18", "preset": "veryfast", "bf": "0"}
# Audio an MP4 holds as it is; anything else (PCM from an AVI, Vorbis...) is re-encoded as AAC.
MP4_AUDIO = frozenset({"aac", "mp3", "alac", "opus", "ac3", "eac3", "flac"})


class WriteError(VideoError):
    """An output file could not be written (no space, no permission...); the message names it."""


def writing(path: Path, error: BaseException) -> WriteError:
    return WriteError(f"cannot write {path}: {reason_of(error)}")


class VideoWriter:
    """A silent H.264 MP4 being written, frames at given times (no B-frames: see VIDEO_OPTIONS).
    Close it (or use `with`) to flush; WriteError (one line) when the file cannot be written."""

    def __init__(self, path: Path, width: int, height: int, rate: Fraction, time_base: Fraction) -> None:
        """Frames come with times in `time_base`; `rate` is the nominal frame rate (for x264's rate control)."""
        self.path = path
        try:
            self.container = av.open(str(path), "w", format="mp4")
        except (av.FFmpegError, OSError) as error:
            raise writing(path, error) from None
        self.video = self.container.add_stream(VIDEO_CODEC, rate=rate, options=dict(VIDEO_OPTIONS))
        self.video.width, self.video.height = width, height
        # x264's 4:2:0 needs even sides; an odd-sized film keeps its size in 4:4:4 instead.
        self.video.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        # The encoder's own clock too: PyAV rebases each frame's time into it, and a coarser one (1 / rate)
        # would round two close frames of a variable-rate clip onto one time.
        self.video.time_base = self.video.codec_context.time_base = self.time_base = time_base

    def write(self, rgb: np.ndarray, pts: int) -> None:
        """One RGB (H, W, 3) uint8 frame at `pts` (in the writer's time base)."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts, frame.time_base = pts, self.time_base
        try:
            self.container.mux(self.video.encode(frame))
        except (av.FFmpegError, OSError) as error:
            raise writing(self.path, error) from None

    def close(self) -> None:
        try:
            self.container.mux(self.video.encode(None))
            self.container.close()
        except (av.FFmpegError, OSError) as error:
            self.abandon()
            raise writing(self.path, error) from None

    def abandon(self) -> None:
        """Close without flushing, the file being thrown away; a failure to close is not news then."""
        try:
            self.container.close()
        except (av.FFmpegError, OSError):
            pass

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.abandon()


class AudioOut:
    """One audio stream of the input carried into the output: its packets copied when MP4 holds its
    codec, else decoded and re-encoded as AAC. MP4 needs strictly increasing times: a packet whose
    time does not move on (a broken file) is dropped, and when the times jump back by a second or
    more (joined recordings) the packets after the jump are shifted to follow on."""

    def __init__(self, container, stream) -> None:
        self.container, self.source, self.last_dts = container, stream, None
        self.dropped = self.jumps = self.offset = 0
        self.encoder = None
        if stream.codec_context.name in MP4_AUDIO:
            self.stream = container.add_stream_from_template(stream)
        else:
            rate = stream.codec_context.sample_rate or 48000
            self.stream = self.encoder = container.add_stream("aac", rate=rate)
            self.encoder.layout = "mono" if stream.codec_context.channels == 1 else "stereo"
        if stream.language:
            self.stream.metadata["language"] = stream.language

    def write(self, packet) -> None:
        if self.encoder is not None:  # PyAV's encoder resamples and re-frames for AAC
            for frame in packet.decode():
                frame.pts = None
                self.container.mux(self.encoder.encode(frame))
            return
        dts = packet.dts + self.offset
        if self.last_dts is not None and dts <= self.last_dts:
            if (self.last_dts - dts) * packet.time_base < 1:  # a packet out of step: dropped
                self.dropped += 1
                return
            self.jumps += 1  # the times start again (joined recordings): follow on, as the frames do
            self.offset += self.last_dts + (packet.duration or 1) - dts
            dts = packet.dts + self.offset
        packet.dts, packet.pts = dts, None if packet.pts is None else packet.pts + self.offset
        self.last_dts = dts
        packet.stream = self.stream
        self.container.mux(packet)

    def close(self) -> None:
        if self.encoder is not None:
            self.container.mux(self.encoder.encode(None))


def _seconds(packet) -> float:
    return float(packet.dts * packet.time_base)


def _packets(parts: list[Path]) -> Iterator:
    """The video packets of each part in turn (each part's file open while it is read)."""
    for part in parts:
        with av.open(str(part)) as container:
            for packet in container.demux(container.streams.video[0]):
                if packet.dts is not None:
                    yield packet


def join(parts: list[Path], source: Path, output: Path) -> list[str]:
    """Write `output` (MP4): the video packets of `parts` (VideoWriter's files, in order: one stream,
    copied) and every audio stream of `source` (copied, or AAC: AudioOut), interleaved by time so
    memory does not grow with the length. Returns notes of what was left out or changed."""
    notes = []
    try:
        with av.open(str(output), "w", format="mp4") as out, av.open(str(source)) as src:
            with av.open(str(parts[0])) as first:
                video = out.add_stream_from_template(first.streams.video[0])
            audio = {}
            for stream in src.streams.audio:
                try:
                    audio[stream.index] = AudioOut(out, stream)
                except (av.FFmpegError, ValueError) as error:  # e.g. a stream with no sample rate
                    notes.append(f"audio stream {stream.index} left out: {reason_of(error)}")
            sound = (p for p in src.demux(*[src.streams[i] for i in audio]) if p.dts is not None) if audio else iter(())
            for packet in heapq.merge(_packets(parts), sound, key=_seconds):
                if packet.stream.type == "video":
                    packet.stream = video
                    out.mux(packet)
                else:
                    audio[packet.stream.index].write(packet)
            for carried in audio.values():
                carried.close()
    except av.FFmpegError as error:
        if isinstance(error, OSError) and error.errno is not None:
            raise writing(output, error) from None
        raise VideoError(f"{source}: cannot copy its sound: {reason_of(error)}") from None
    except OSError as error:
        raise writing(output, error) from None
    dropped = sum(carried.dropped for carried in audio.values())
    if dropped:
        notes.append(f"{dropped} audio packet(s) whose times did not move on were dropped")
    return notes
