"""Small clips with sound, made with PyAV, for the video tests: a photo panned across, with film
grain and exposure flicker when asked, and a sine tone as long as the picture."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from helpers.configs import REPO

PHOTO = REPO / "docs/images/chelsea_bw.jpg"  # a real photo; its colour original is not shipped, gray is enough


def photo_frames(count: int, width: int, height: int, pan: int = 1, grain: float = 0.0, exposure: float = 0.0,
                 seed: int = 0, photo: Path = PHOTO) -> list[np.ndarray]:
    """`count` RGB (height, width, 3) uint8 frames of `photo` (made colourful by a fixed tint, so a
    colour original exists), a window moving `pan` px a frame; `grain` (std of per-pixel noise, 0-255)
    and `exposure` (std of a per-frame gain) make it flicker like old film."""
    rng = np.random.default_rng(seed)
    image = Image.open(photo).convert("RGB").resize((width * 2, height * 2))
    base = np.asarray(image, dtype=np.float32) * np.array([1.0, 0.85, 0.7], dtype=np.float32)  # a warm tint
    frames = []
    for i in range(count):
        x = (i * pan) % (width + 1)
        frame = base[height // 2 : height // 2 + height, x : x + width]
        frame = frame * (1.0 + exposure * rng.standard_normal()) + grain * rng.standard_normal(frame.shape[:2])[..., None]
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def write_clip(path: Path, frames: list[np.ndarray] | int, rate: int = 12, audio: str | None = "aac",
               fmt: str | None = None, codec: str = "libx264", width: int = 64, height: int = 48,
               times: list[int] | None = None, time_base: Fraction | None = None, rotation: float | None = None,
               audio_streams: int = 1, subtitles: bool = False) -> Path:
    """Write `frames` (or that many panned photo frames of width x height) at `rate` frames/s, with a
    440 Hz tone as long as the picture in `audio` ("aac", "pcm_s16le"; None: silent).

    times: each frame's timestamp in `time_base` (default 1 / rate), as phones and screen recorders
    write a variable frame rate (the encoder is given them; x264 keeps them). rotation: a display
    matrix turning the picture that many degrees counterclockwise (PyAV's set_display_rotation: -90 is
    a phone held upright). audio_streams: that many tones (an octave apart). subtitles: one SubRip cue
    (Matroska)."""
    if isinstance(frames, int):
        frames = photo_frames(frames, width, height)
    height, width = frames[0].shape[:2] if frames else (height, width)
    time_base = time_base or Fraction(1, rate)
    with av.open(str(path), "w", format=fmt) as container:
        video = container.add_stream(codec, rate=rate)
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        if times is not None:
            video.time_base = video.codec_context.time_base = time_base
        if rotation is not None:
            video.set_display_rotation(rotation)
        sounds = []
        for _ in range(audio_streams if audio is not None else 0):
            sounds.append(container.add_stream(audio, rate=48000))
            sounds[-1].layout = "mono"
        if subtitles:
            cue = container.add_mux_stream("subrip", time_base=Fraction(1, 1000))
        for i, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            if times is not None:
                picture.pts, picture.time_base = times[i], time_base
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
        if subtitles:
            packet = av.Packet(b"a subtitle")
            packet.stream, packet.pts, packet.dts, packet.duration, packet.time_base = cue, 0, 0, 500, Fraction(1, 1000)
            container.mux(packet)
        end = len(frames) / rate if times is None else float((times[-1] - times[0]) * time_base) + 1 / rate
        for octave, sound in enumerate(sounds):
            samples = int(48000 * end)
            tone = (0.3 * np.sin(2 * np.pi * 440 * 2**octave * np.arange(samples) / 48000)).astype(np.float32)
            chunk = 1024
            for start in range(0, samples, chunk):
                piece = tone[start : start + chunk][None]
                frame = av.AudioFrame.from_ndarray(piece, format="flt", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 48000, start, Fraction(1, 48000)
                container.mux(sound.encode(frame))
            container.mux(sound.encode(None))
    return path


def frame_times(path: Path) -> list[Fraction]:
    """Each frame's presentation time in seconds, exactly, in decoding order's presentation order."""
    with av.open(str(path)) as container:
        return [frame.pts * frame.time_base for frame in container.decode(video=0)]


def probe(path: Path) -> dict:
    """Frame count (decoded), rate, size, the video's duration (from its frames' timestamps) and the
    audio's, in seconds (None: no audio)."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        rate, size = video.average_rate, (video.codec_context.width, video.codec_context.height)
        times = [float(frame.pts * frame.time_base) for frame in container.decode(video=0)]
        frames = len(times)
        duration = max(times) - min(times) + 1 / float(rate) if times else 0.0  # first frame shown to last one's end
    with av.open(str(path)) as container:
        audio = None
        if container.streams.audio:
            stream = container.streams.audio[0]
            last = [p for p in container.demux(stream) if p.pts is not None]
            end = max(p.pts + p.duration for p in last)
            audio = float((end - (stream.start_time or 0)) * stream.time_base)
        return {"frames": frames, "rate": rate, "size": size, "duration": duration, "audio": audio,
                "audio_codec": container.streams.audio[0].codec_context.name if audio is not None else None,
                "audio_streams": len(container.streams.audio)}


def decoded(path: Path) -> list[np.ndarray]:
    """Every frame of `path` as RGB (H, W, 3) uint8."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
