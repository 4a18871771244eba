"""Frames of clips of one shot, side by side, with their colour's numbers:

    python -m colorgan.video.strip gray.mp4 out/gray.mp4 out_held/gray.mp4 --frames 0 16 33 49 -o strip.png

Each clip is a row (in the order given), each chosen frame a column, scaled to --height. Printed for
each clip: its drift, flicker and (with OpenCV) warp error over the whole clip (colorgan.video.flicker;
the motion is the first clip's, the gray input's, so a black-and-white film with no colour original
is measured too) and each chosen frame's mean chroma (Lab, over pixels with L >= 10), so a figure of
colour across a shot comes with its figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from colorgan.color_space import ab_length, rgb_to_lab
from colorgan.errors import UserError, user_command
from colorgan.image_io import make_grid
from colorgan.system.atomic_io import atomic_path
from colorgan.video.flicker import Drift, Flicker, warp_error_if_possible
from colorgan.video.stabilize import DARK_L
from colorgan.video.streams import open_video, read_batches

MEASURE_HEIGHT = 240  # frames are measured at this height (drift and chroma are means: size hardly matters)
BATCH = 16  # frames decoded at a time


def read_frames(path: Path, height: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Every frame of a clip, upright, RGB (3, h, w) in [0, 1], at `height` for the figure and at
    MEASURE_HEIGHT (colorize's reader: a clip it cannot read is one line)."""
    shown, measured = [], []
    container, _ = open_video(path)
    with container:
        for batch in read_batches(container, path, BATCH):
            rgb = torch.from_numpy(batch.rgb).permute(0, 3, 1, 2).float() / 255.0
            for side, out in ((height, shown), (MEASURE_HEIGHT, measured)):
                width = max(1, round(rgb.shape[-1] * side / rgb.shape[-2]))
                out.extend(F.interpolate(rgb, size=(side, width), mode="area"))
    return shown, measured


def mean_chroma(rgb: torch.Tensor) -> float:
    lab = rgb_to_lab(rgb[None].float())[0]
    lit = lab[0] >= DARK_L
    return float(ab_length(lab[1:, lit], dim=0).mean()) if lit.any() else float("nan")


def steadiness_of(clips: list[list[torch.Tensor]]) -> list[str]:
    """Each clip's drift, flicker and warp error (the motion from the first clip's lightness; the
    warp error left out without OpenCV), as printed."""
    drifts, flickers = [Drift() for _ in clips], [Flicker() for _ in clips]
    warp = warp_error_if_possible(range(len(clips)))
    for frames in zip(*clips, strict=True):
        for drift, flicker, frame in zip(drifts, flickers, frames, strict=True):
            drift.update(frame[None])
            flicker.update(frame[None])
        if warp is not None:
            warp.update(frames[0][None], {i: frame[None] for i, frame in enumerate(frames)})
    warped = warp.compute() if warp is not None else {}
    return [f"drift {d.compute():.2f}, flicker {f.compute():.3f}"
            + (f", warp error {warped[i]:.3f}" if i in warped else ", warp error not measured (no OpenCV)")
            for i, (d, f) in enumerate(zip(drifts, flickers, strict=True))]


@user_command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.video.strip", description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", type=Path, nargs="+", help="clips of the same shot (the gray input, colorized copies)")
    parser.add_argument("--frames", type=int, nargs="+", required=True, help="frame numbers (0 first) to show")
    parser.add_argument("--height", type=int, default=180, help="height of each frame in the figure (default: 180)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the figure (PNG; JPEG when named .jpg)")
    args = parser.parse_args(argv)
    rows, clips = [], []
    for clip in args.clips:
        shown, measured = read_frames(clip, args.height)
        missing = [i for i in args.frames if not 0 <= i < len(shown)]
        if missing:
            raise UserError(f"{clip} has {len(shown)} frames: no frame {missing[0]}")
        if rows and shown[0].shape != rows[0][0].shape:
            raise UserError(f"{clip}: its frames are {tuple(shown[0].shape[1:])}, the first clip's {tuple(rows[0][0].shape[1:])}: give clips of one shot")
        if clips and len(measured) != len(clips[0]):
            raise UserError(f"{clip} has {len(measured)} frames, {args.clips[0]} {len(clips[0])}: give clips of one shot")
        clips.append(measured)
        rows.append(torch.stack([shown[i] for i in args.frames]))
    for clip, measured, steadiness in zip(args.clips, clips, steadiness_of(clips), strict=True):
        chroma = ", ".join(f"{i}: {mean_chroma(measured[i]):.1f}" for i in args.frames)
        print(f"{clip}: {len(measured)} frames, {steadiness}; mean chroma at frames {chroma}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    jpeg = args.output.suffix.lower() in (".jpg", ".jpeg")
    with atomic_path(args.output) as tmp:
        Image.fromarray(make_grid(rows)).save(tmp, format="JPEG" if jpeg else "PNG", **({"quality": 88} if jpeg else {}))
    print(f"rows {', '.join(clip.name for clip in args.clips)}; columns frames {' '.join(map(str, args.frames))} -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
