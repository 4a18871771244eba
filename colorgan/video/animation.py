"""Animated images (GIF, PNG, WebP) colorized frame by frame into an animation of the same format.

An animation is a short film without sound: each frame's colour is predicted at the working size,
smoothed over time by the video stabilizer (so a still background does not flicker from frame to
frame), and laid on the frame's own full-resolution lightness. Each frame's duration, the loop count
and transparency are kept. Frames are held in memory (animations are small); colorize's engine
checks the memory they need before decoding.

    colorize_animation(colorizer, Path("clip.gif"), Path("out/clip.gif"), "GIF")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, ImageSequence

from colorgan.image_io import ImageReadError, open_regular, photo_from_pil
from colorgan.inference import Colorizer, Hint
from colorgan.inference.engine import gray_image
from colorgan.inference.gamut import LAB
from colorgan.system.atomic_io import atomic_path
from colorgan.video.stabilize import DEFAULT_STRENGTH, Stabilizer

# The formats an animation is written back in, with Pillow's save options for many frames.
SAVE_ALL = {"GIF": {"optimize": False}, "PNG": {}, "WEBP": {"quality": 95, "method": 4}}
FRAMES_PER_BATCH = 16
DEFAULT_DURATION_MS = 100  # a frame without a duration (Pillow's and browsers' usual 10 frames/s)


@dataclass
class Animation:
    """An animated image's frames (RGB or RGBA Pillow images, all one size) and timing."""

    frames: list[Image.Image]
    durations: list[int]  # milliseconds per frame
    loop: int | None  # 0: forever; None: the file said nothing (played once)

    @property
    def size(self) -> tuple[int, int]:
        return self.frames[0].size


def read_animation(path: Path) -> Animation:
    """Every frame of an animated image, composed as a viewer shows it; ImageReadError says why not."""
    try:
        with open_regular(path) as file, Image.open(file) as image:
            loop = image.info.get("loop")
            frames, durations = [], []
            for frame in ImageSequence.Iterator(image):
                frame.load()  # a WebP frame's duration is known once it is decoded
                has_alpha = frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info
                frames.append(frame.convert("RGBA" if has_alpha else "RGB"))
                durations.append(int(frame.info.get("duration") or DEFAULT_DURATION_MS))
    except ImageReadError:
        raise
    except (OSError, ValueError, EOFError) as err:
        raise ImageReadError(f"cannot read its frames ({type(err).__name__}: {err})") from err
    if not frames:
        raise ImageReadError("an animated image without frames")
    return Animation(frames, durations, loop)


def save_animation(frames: list[Image.Image], animation: Animation, path: Path, fmt: str) -> None:
    """Write frames with the animation's timing, atomically (an interrupted run leaves no half file)."""
    options = dict(SAVE_ALL[fmt], save_all=True, append_images=frames[1:], duration=animation.durations)
    if animation.loop is not None:
        options["loop"] = animation.loop
    if fmt == "GIF":
        options["disposal"] = 2  # each frame whole: a transparent pixel must not show the frame before
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format=fmt, **options)


@torch.no_grad()
def colorize_frames(colorizer: Colorizer, animation: Animation, hints: Sequence[Hint] = (),
                    strength: float = DEFAULT_STRENGTH) -> list[Image.Image]:
    """The animation's frames colorized (same sizes, alpha kept), their colour stabilized over time."""
    stabilizer = Stabilizer(strength) if strength > 0 else None
    out = []
    for start in range(0, len(animation.frames), FRAMES_PER_BATCH):
        photos = [photo_from_pil(frame) for frame in animation.frames[start : start + FRAMES_PER_BATCH]]
        working = [colorizer.working_input(photo) for photo in photos]
        hint_maps = [colorizer.working_hints(hints, photo.size, rgb.shape[-2:]) for photo, rgb in zip(photos, working, strict=True)]
        ab = torch.stack(colorizer.predict_working(working, hint_maps))  # (B, 2, h, w), ColorSpace("lab") scaling
        if stabilizer is not None:
            lightness = (LAB.split(torch.stack(working).to(ab.device))[0] + 1.0) * 50.0  # L in [0, 100]
            ab = stabilizer(lightness, ab * 110.0) / 110.0
        out.extend(colorizer.colorize_photo(photo, frame_ab, in_place=True) for photo, frame_ab in zip(photos, ab, strict=True))
    return out


def gray_frames(animation: Animation) -> list[Image.Image]:
    """The animation's gray input, frame by frame (alpha kept): the page's "before"."""
    return [gray_image(photo_from_pil(frame)) for frame in animation.frames]


def colorize_animation(colorizer: Colorizer, source: Path, output: Path, fmt: str, hints: Sequence[Hint] = (),
                       gray: Path | None = None) -> int:
    """Colorize an animated image into `output` (in `fmt`: GIF, PNG or WEBP), and its gray input into
    `gray` (an animated PNG) when given; returns the number of frames."""
    if fmt not in SAVE_ALL:
        raise ValueError(f"an animation is written as GIF, PNG or WEBP, not {fmt}")
    animation = read_animation(source)
    outputs = [(colorize_frames(colorizer, animation, hints), output, fmt)]
    if gray is not None:
        outputs.append((gray_frames(animation), gray, "PNG"))
    for frames, path, form in outputs:
        try:
            save_animation(frames, animation, path, form)
        except OSError as err:  # named by the file it was for, not by its temporary file
            raise OSError(err.errno, err.strerror or str(err), str(path)) from err
    return len(animation.frames)
