"""`python -m colorgan.colorize film.mp4 -o out/`: the video half of colorize's command (its
options, progress bar, --compare table and exit statuses); colorize.py hands a video input here."""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

from colorgan.errors import UserError
from colorgan.system.atomic_io import write_text
from colorgan.video.flicker import DARK_L, MEASURE_SIDE, STILL_L
from colorgan.video.motion import FLOW_EXTRA
from colorgan.video.parts import PART_SECONDS, folder_of
from colorgan.video.stabilize import DEFAULT_HOLD, DEFAULT_STRENGTH
from colorgan.video.streams import MAX_FRAME_PIXELS

EXIT_INTERRUPTED = 130  # as a shell reports a command ended by Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143  # and by SIGTERM (128 + SIGTERM): `timeout`, `kill`, a scheduler's stop


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so the partial output is cleaned up as for Ctrl-C."""


def raise_terminated(signum, frame) -> None:
    raise Terminated()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """colorize's options that apply to videos only."""
    group = parser.add_argument_group("videos (INPUT a video file: .mp4, .mkv, .avi, ... or any file FFmpeg reads)")
    group.add_argument(
        "--stabilize", type=float, default=DEFAULT_STRENGTH, metavar="STRENGTH",
        help=f"frame-to-frame colour smoothing where lightness stands still, in [0, 1) (default: {DEFAULT_STRENGTH}; "
        "0: off). See docs/video.md for the flicker it removes and its cost",
    )
    group.add_argument(
        "--follow-motion", action="store_true",
        help="the stabilizer carries the frame before's colour along the motion (OpenCV's optical flow), "
        f"so moving things keep their colour too (needs pip install '{FLOW_EXTRA}'). See docs/video.md",
    )
    group.add_argument(
        "--hold-colour", type=float, default=DEFAULT_HOLD, metavar="WEIGHT",
        help=f"hold each shot's overall tint: a frame's mean colour pulled to a running mean of the shot's, "
        f"this weight on the past, in [0, 1) (default: {DEFAULT_HOLD:g}, about 25 frames; 0: off). "
        "See docs/video.md, 'The colour memory'",
    )
    group.add_argument(
        "--part-seconds", type=float, default=PART_SECONDS, metavar="SECONDS",
        help=f"film written per resumable part (default: {PART_SECONDS:g}): a stopped run, run again, "
        "redoes at most this much",
    )
    group.add_argument(
        "--max-frame-pixels", type=int, default=MAX_FRAME_PIXELS,
        help=f"refuse videos with larger frames (default: {MAX_FRAME_PIXELS:,}, 3840x2160)",
    )


class FramesPerSecond(ProgressColumn):
    """The bar's measured rate, in frames/s."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f} frames/s")


def say(console: Console, line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def print_metrics(metrics: dict, out: Console) -> None:
    from colorgan.report.tables import print_comparison

    title = f"metrics on {metrics['frames']} frame(s) (prediction vs original, at most {MEASURE_SIDE} px a side)"
    print_comparison(title, metrics["model"], metrics["baseline"], out)
    model, original = metrics["model"], metrics["original"]
    say(out, f"flicker (mean |d(a,b)| between frames where |dL| < {STILL_L:g}, L >= {DARK_L:g}): prediction "
             f"{model['flicker']:.3f}, colour original {original['flicker']:.3f}, gray input 0")
    say(out, f"drift (RMS distance of a frame's mean (a,b) from its shot's): prediction {model['drift']:.3f}, "
             f"colour original {original['drift']:.3f}, gray input 0")
    if "warp_error" in model:
        say(out, f"warp error (mean |d(a,b)| from the frame before carried along the motion): prediction "
                 f"{model['warp_error']:.3f}, colour original {original['warp_error']:.3f}, gray input 0")
    else:
        say(out, f"warp error: not measured (it needs OpenCV's optical flow: pip install '{FLOW_EXTRA}')")


def colorize_video_file(args: argparse.Namespace, load_colorizer, out: Console, err: Console) -> int:
    """Colorize args.input (a video) into args.output/NAME.mp4; exit status 0, 2 (a UserError, raised)
    or 130 (interrupted: nothing written at the output path)."""
    from colorgan.video.pipeline import colorize_video, prepare_output
    from colorgan.video.stabilize import Stabilizer, colour_memory
    from colorgan.video.streams import VideoError, open_video, output_path, same_file

    if not 0.0 <= args.stabilize < 1.0:
        raise UserError(f"--stabilize must be in [0, 1) (0: off), got {args.stabilize}")
    if args.follow_motion and args.stabilize == 0:
        raise UserError("--follow-motion carries the stabilizer's colour along the motion: it needs --stabilize > 0")
    if args.follow_motion:
        from colorgan.video.motion import opencv

        try:
            opencv()
        except ImportError as error:
            raise UserError(str(error)) from None
    if not 0.0 <= args.hold_colour < 1.0:
        raise UserError(f"--hold-colour must be in [0, 1) (0: off), got {args.hold_colour}")
    if not args.part_seconds > 0:
        raise UserError(f"--part-seconds must be positive, got {args.part_seconds}")
    output = output_path(args.input, args.output)
    if same_file(output, args.input):
        raise VideoError(f"{args.input}: its output {output} would replace it; choose another output folder")
    if output.exists() and not args.overwrite:
        say(out, f"0 colorized into {args.output}, 1 skipped ({output} exists; --overwrite replaces)")
        return 0
    container, _ = open_video(args.input, args.max_frame_pixels)  # a bad input is said before the model loads
    container.close()
    prepare_output(output)  # and an output that cannot be written
    stabilizer = Stabilizer(args.stabilize, follow_motion=args.follow_motion) if args.stabilize > 0 else None
    memory = colour_memory(args.hold_colour)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), FramesPerSecond(),
               TimeRemainingColumn())
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        colorizer = load_colorizer(args)
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("colorize", total=None)

            def start(info, resumed: int) -> None:
                sound = f"{info.audio_streams} audio stream(s), the first {info.audio}" if info.audio else "no audio"
                say(err, f"colorizing {args.input} ({info.width}x{info.height}, {float(info.rate):.3g} frames/s, "
                         f"{info.duration:.1f} s, {sound}) on {colorizer.device} at working size "
                         f"{colorizer.size}px, stabilizer {args.stabilize if stabilizer else 'off'}"
                         f"{' following motion' if args.follow_motion else ''}, "
                         f"colour memory {args.hold_colour if memory else 'off'}")
                if resumed:
                    say(err, f"resuming a stopped run: its first {resumed} frames are colorized already "
                             f"({folder_of(output)})")
                progress.update(task, total=info.frames or None, completed=resumed)

            result = colorize_video(
                colorizer, args.input, output, batch_size=args.batch_size, stabilizer=stabilizer, memory=memory,
                compare=args.compare, max_frame_pixels=args.max_frame_pixels, on_start=start,
                on_frames=lambda n: progress.advance(task, n), part_seconds=args.part_seconds,
            )
    except (KeyboardInterrupt, Terminated) as stop:
        kept = folder_of(output)
        resume = (f"; the colorized parts are kept in {kept}: the same command resumes from them "
                  "(delete that folder to start afresh)") if kept.is_dir() else ""
        say(err, f"{'interrupted' if isinstance(stop, KeyboardInterrupt) else 'terminated'}: "
                 f"nothing written at {output}{resume}")
        return EXIT_INTERRUPTED if isinstance(stop, KeyboardInterrupt) else EXIT_TERMINATED
    finally:
        signal.signal(signal.SIGTERM, previous)
    for note in result.notes:
        say(err, f"note: {note}")
    if args.compare and result.metrics is None:  # as for a grayscale photo
        say(err, f"not measured: {args.input} (a black-and-white video: no colour to compare with)")
    if result.metrics is not None:
        write_text(args.output / "metrics.json", json.dumps(result.metrics, indent=2, sort_keys=True))
        print_metrics(result.metrics, out)
    say(out, f"1 colorized into {args.output} ({Path(output).name}: {result.frames} frames in "
             f"{result.seconds:.1f} s, {result.frames / max(result.seconds, 1e-9):.1f} frames/s), 0 failed")
    return 0
