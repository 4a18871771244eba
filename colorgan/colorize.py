"""Colorize photos: `python -m colorgan.colorize [CHECKPOINT] INPUT [INPUT ...] [-o OUTPUT_DIR] [--compare]`.
A video INPUT (by its suffix or, without one, its content), given alone, goes to colorgan.video.command.

Without a checkpoint (no .ckpt or .pt first path, and no --checkpoint), the photo colorizer shipped
inside the package is used (colorgan.pretrained); two paths are CHECKPOINT INPUT, as they always were.

Each INPUT is one image or a folder (searched recursively); outputs mirror the input names under
OUTPUT_DIR at the input's exact size. An animated GIF, PNG or WebP is colorized frame by frame into
an animation of its own format (colorgan.video.animation). Files that cannot be used get one line on stderr each and
the rest are still done; the exit code is 1 when any failed, 2 when nothing could start.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from colorgan.errors import EXIT_USER_ERROR, UserError, user_command
from colorgan.image_io import DEFAULT_MAX_PIXELS, readable_formats
from colorgan.inference import (
    GAMUT_MODES,
    ColorizeEngine,
    ColorizeOptions,
    Colorizer,
    Hint,
    find_inputs,
    open_colorizer,
    parse_hint,
    read_hints_file,
)
from colorgan.inference.hints import check_inside
from colorgan.quiet import silence_library_noise
from colorgan.report.tables import print_comparison
from colorgan.system.atomic_io import write_text
from colorgan.video import add_video_arguments, colorize_video_file, is_video
from colorgan.video.animation import colorize_animation

EXIT_OK, EXIT_SOME_FAILED, EXIT_CANNOT_START = 0, 1, EXIT_USER_ERROR
CHECKPOINT_SUFFIXES = (".ckpt", ".pt")  # a first path named so is the checkpoint


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m colorgan.colorize",
        description="Colorize black-and-white photos with the photo colorizer shipped with colorgan, or with a "
        "trained colorgan checkpoint (U-Net, GAN or classification; Lab or RGB). Colour photos are turned to "
        "grayscale first. Outputs have the input's exact size; the input's own lightness is kept at full "
        "resolution and only the colour is predicted.",
        epilog="Exit status: 0 all done, 1 some inputs failed (one line each on stderr), 2 could not start.",
    )
    parser.add_argument(
        "paths", type=Path, nargs="+", metavar="[CHECKPOINT] INPUT",
        help="INPUT: image files, or folders of images (searched recursively), one or more; before them, "
        "optionally, a .ckpt written by `python -m colorgan.train` (default: the shipped photo colorizer)",
    )
    parser.add_argument("--checkpoint", type=Path, default=None, help="the checkpoint, as an option")
    parser.add_argument("-o", "--output", type=Path, default=Path("colorized"),
                        help="folder for the outputs (created; default: colorized/ in the working directory)")
    parser.add_argument(
        "--size", type=int, default=None,
        help="longer side, in pixels, of the working resolution the network sees (default: its training size)",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="images per network batch (default: 16)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps... (default: the best available)")
    parser.add_argument(
        "--compare", action="store_true",
        help="also write NAME.compare.png (input gray | prediction | original) and print the metrics of "
        "the predictions against the colour originals (also saved as OUTPUT/metrics.json)",
    )
    parser.add_argument(
        "--gamut", choices=GAMUT_MODES, default="fit",
        help="colours outside sRGB: 'fit' lowers their chroma so the input's lightness is kept (default); "
        "'clip' clips RGB, as training's evaluation does (then --compare reproduces the test metrics)",
    )
    parser.add_argument(
        "--chroma", type=float, default=1.0,
        help="how bold the colour is: a factor on the predicted colour's saturation (default 1: as the model "
        "predicts; 1.3 bolder, 0.7 safer, 0 gray); colours pushed outside sRGB are brought back in")
    parser.add_argument(
        "--temperature", type=float, default=None,
        help="classification models: annealed-mean temperature (default: the model's, 0.38; 1 = the mean, "
        "0 = the most likely colour)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    parser.add_argument(
        "--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
        help=f"refuse larger images, a guard against decompression bombs (default: {DEFAULT_MAX_PIXELS:,})",
    )
    parser.add_argument(
        "--min-side", type=int, default=8,
        help="refuse images whose shorter side is below this many pixels (default: 8; 1 accepts any)",
    )
    parser.add_argument(
        "--hint", action="append", default=[], metavar="X,Y,COLOUR",
        help="a colour hint for a hint model (docs/hints.md): the point X,Y in the photo's pixels (0,0 top-left) "
        "should be COLOUR (#rrggbb or a CSS name such as red); repeat for more; one photo at a time")
    parser.add_argument("--hints", type=Path, default=None, metavar="FILE.json",
                        help='colour hints from a JSON file: [{"x": X, "y": Y, "colour": COLOUR}, ...]')
    parser.add_argument("--hint-edges", action=argparse.BooleanOptionalAction, default=False,
                        help="stop the hints' colour at the photo's lightness edges; default: as far as the model spreads "
                        "it, which is closer to the truth on average (docs/hints.md)")
    add_video_arguments(parser)
    return parser


class ColorizeError(UserError, ValueError):
    """Nothing can be colorized: the arguments or the input; the message says what to give."""


def split_paths(args: argparse.Namespace) -> None:
    """Set args.checkpoint (None: the shipped model) and args.inputs from the positional paths: the
    first is the checkpoint when it is named .ckpt or .pt, or when there are two paths and it is not an
    image, a video or a folder (CHECKPOINT INPUT, as always); every other path is an INPUT."""
    paths = args.paths
    first = paths[0]
    named = first.suffix.lower() in CHECKPOINT_SUFFIXES
    if len(paths) > 1 and (named or (len(paths) == 2 and not first.is_dir()
                                     and first.suffix.lower() not in readable_formats() and not is_video(first))):
        if args.checkpoint is not None:
            raise ColorizeError("a checkpoint was given twice (--checkpoint and a first path); give one of them.")
        args.checkpoint, paths = first, paths[1:]
    elif named and args.checkpoint is None:
        raise ColorizeError(f"{first} is a checkpoint, but no INPUT was given: "
                            "python -m colorgan.colorize CHECKPOINT INPUT [INPUT ...] -o OUTPUT_DIR.")
    args.inputs = list(paths)


def load_colorizer(args: argparse.Namespace) -> Colorizer:
    """The checkpoint's colorizer, or the shipped photo colorizer when there is no checkpoint (a
    UserError says what is wrong with either, or with the device)."""
    return open_colorizer(args.checkpoint, size=args.size, device=args.device, gamut=args.gamut,
                          temperature=args.temperature, chroma=args.chroma)


def hints_of(args: argparse.Namespace) -> tuple[Hint, ...]:
    """The hints of --hint and --hints, parsed (a HintError says what is wrong with one)."""
    hints = [parse_hint(text) for text in args.hint]
    return tuple(hints + (read_hints_file(args.hints) if args.hints is not None else []))


def check_hints_inside(hints: tuple[Hint, ...], path: Path) -> None:
    """Refuse hints outside the photo before anything starts (its header has its size); a photo that
    cannot be opened is left to the engine, which says why."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return
    check_inside(hints, width, height, path)


def options_of(args: argparse.Namespace) -> ColorizeOptions:
    """The engine's options from the command's flags."""
    return ColorizeOptions(compare=args.compare, overwrite=args.overwrite, max_pixels=args.max_pixels,
                           min_side=args.min_side, hints=hints_of(args), hint_edges=args.hint_edges)


@user_command
def main(argv: list[str] | None = None) -> int:
    """Exit status EXIT_OK, EXIT_SOME_FAILED, or EXIT_CANNOT_START (a UserError, said in one line)."""
    args = build_parser().parse_args(argv)
    silence_library_noise()
    out, err = Console(), Console(stderr=True)
    if args.batch_size < 1 or args.min_side < 1 or (args.size is not None and args.size < 1):
        raise ColorizeError("--batch-size, --size and --min-side must be positive.")
    split_paths(args)
    missing = [str(path) for path in args.inputs if not path.exists() and not path.is_symlink()]
    if missing:
        raise ColorizeError(f"input not found: {', '.join(missing)}")
    videos = [path for path in args.inputs if not path.is_dir() and is_video(path)]  # docs/video.md
    if videos and len(args.inputs) > 1:
        raise ColorizeError(f"{videos[0]} is a video, given with other inputs: a video is colorized alone, "
                            f"one per command (python -m colorgan.colorize {videos[0]} -o {args.output}); "
                            "several INPUTs are photos and folders.")
    if videos and (args.hint or args.hints):
        raise ColorizeError(f"{videos[0]} is a video: colour hints are points of a photo; leave --hint and --hints out.")
    if videos:
        args.input = videos[0]
        return colorize_video_file(args, load_colorizer, out, err)
    inputs = [found for path in args.inputs for found in find_inputs(path, args.output)]
    if not inputs:
        where = " or ".join(map(str, args.inputs))
        raise ColorizeError(f"no image files in {where} (looked for {', '.join(sorted(readable_formats()))})")
    options = options_of(args)
    if options.hints and len(inputs) > 1:
        raise ColorizeError(f"hints are points of one photo: give one photo with --hint or --hints, not {len(inputs)}.")
    if options.hints:
        check_hints_inside(options.hints, inputs[0][0])
    colorizer = load_colorizer(args)

    def report_failure(path: Path, reason: str) -> None:
        err.print(f"error: {path}: {reason}", markup=False, highlight=False, soft_wrap=True)

    engine = ColorizeEngine(colorizer, options, report_failure, animate=colorize_animation)
    todo = engine.plan(inputs, args.output)
    err.print(
        f"colorizing {len(todo)} image(s) on {colorizer.device} at working size {colorizer.size}px "
        f"({colorizer.color_space.name} model, {args.checkpoint or 'the shipped photo colorizer'})",
        markup=False, highlight=False, soft_wrap=True,
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err) as progress:
        task = progress.add_task("colorize", total=len(todo))
        for start in range(0, len(todo), args.batch_size):
            chunk = todo[start : start + args.batch_size]
            engine.process(chunk)
            progress.advance(task, len(chunk))

    if args.compare:
        metrics = engine.metrics()
        for note in engine.not_measured:
            err.print(f"not measured: {note}", markup=False, highlight=False, soft_wrap=True)
        if engine.semantic_note:
            err.print(f"semantic test not computed: {engine.semantic_note}", markup=False, highlight=False, soft_wrap=True)
        if metrics is None:
            err.print("no colour image to measure the predictions against", markup=False, highlight=False)
        else:
            args.output.mkdir(parents=True, exist_ok=True)
            write_text(args.output / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))
            title = f"metrics on {metrics['images']} image(s) (prediction vs original)"
            print_comparison(title, metrics["model"], metrics["baseline"], out)
    skipped = f", {engine.skipped} skipped (output exists; --overwrite replaces)" if engine.skipped else ""
    out.print(f"{engine.done} colorized into {args.output}{skipped}, {engine.failed} failed", markup=False, highlight=False)
    return EXIT_SOME_FAILED if engine.failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
