"""Colorize photos: `python -m colorgan.colorize [CHECKPOINT] INPUT [INPUT ...] -o OUTPUT_DIR [--compare]`.
A video INPUT (by its suffix or, without one, its content), given alone, goes to colorgan.video.command.

Without a checkpoint (no .ckpt or .pt first path, and no --checkpoint), the photo colorizer shipped
inside the package is used (colorgan.pretrained); two paths are CHECKPOINT INPUT, as they always were.

Each INPUT is one image or a folder (searched recursively); outputs mirror the input names under
OUTPUT_DIR at the input's exact size. Files that cannot be used get one line on stderr each and
the rest are still done; the exit code is 1 when any failed, 2 when nothing could start.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from colorgan.errors import EXIT_USER_ERROR, UserError, user_command
from colorgan.image_io import (
    DEFAULT_MAX_PIXELS,
    ImageReadError,
    Photo,
    find_images,
    output_format,
    output_suffix,
    read_photo,
    readable_formats,
    save_image,
    to_pil,
)
from colorgan.inference import GAMUT_MODES, LAB, Colorizer
from colorgan.quiet import silence_library_noise
from colorgan.report.tables import print_comparison
from colorgan.runs.atomic_io import write_text
from colorgan.runs.host_memory import available_memory, gigabytes
from colorgan.video import add_video_arguments, colorize_video_file, is_video

EXIT_OK, EXIT_SOME_FAILED, EXIT_CANNOT_START = 0, 1, EXIT_USER_ERROR
# Memory a photo takes to colorize, measured (BENCHMARKS.md, "colorize memory"): its 8-bit pixels
# as Pillow holds them and the transient copies of decoding, plus a constant for the network and
# the bands of rows. --compare holds the photo as floats too.
BYTES_PER_PIXEL, COMPARE_BYTES_PER_PIXEL, CONSTANT_BYTES = 10, 120, 1 << 28
BATCH_PIXELS = 1 << 24  # decoded pixels held at once for one network batch (a larger photo goes alone)
MIN_METRIC_SIDE = 11  # SSIM's 11x11 Gaussian window
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
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder for the outputs (created)")
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
    add_video_arguments(parser)
    return parser


class ColorizeError(UserError, ValueError):
    """Nothing can be colorized: the arguments, the input or the device; the message says what to give."""


def split_paths(args: argparse.Namespace) -> None:
    """Set args.checkpoint (None: the shipped model) and args.inputs from the positional paths: the
    first is the checkpoint when it is named .ckpt or .pt, or when there are two paths and it is not an
    image or a folder (CHECKPOINT INPUT, as always); every other path is an INPUT."""
    paths = args.paths
    first = paths[0]
    named = first.suffix.lower() in CHECKPOINT_SUFFIXES
    if len(paths) > 1 and (named or (len(paths) == 2 and not first.is_dir()
                                     and first.suffix.lower() not in readable_formats())):
        if args.checkpoint is not None:
            raise ColorizeError("a checkpoint was given twice (--checkpoint and a first path); give one of them.")
        args.checkpoint, paths = first, paths[1:]
    elif named and args.checkpoint is None:
        raise ColorizeError(f"{first} is a checkpoint, but no INPUT was given: "
                            "python -m colorgan.colorize CHECKPOINT INPUT [INPUT ...] -o OUTPUT_DIR.")
    args.inputs = list(paths)


def load_colorizer(args: argparse.Namespace) -> Colorizer:
    """The checkpoint's colorizer, or the shipped photo colorizer when there is no checkpoint;
    a UserError when the checkpoint or shipped weights are missing, damaged, not a colorizer, or the
    device cannot be used."""
    options = {"size": args.size, "device": args.device, "gamut": args.gamut, "temperature": args.temperature}
    try:
        if args.checkpoint is None:
            return Colorizer.pretrained(**options)
        return Colorizer.from_checkpoint(args.checkpoint, **options)
    except UserError:
        raise
    except (RuntimeError, ValueError, AssertionError) as error:  # e.g. --device cuda without CUDA
        raise ColorizeError(f"cannot use device {args.device!r}: {error}") from None


@dataclass
class Job:
    """One input file and where its outputs go."""

    source: Path
    output: Path
    compare: Path
    format: str
    write_output: bool = True
    write_compare: bool = False


def real_path(path: Path) -> Path:
    """The path with links resolved as far as they go (a link loop or a broken link is no error here)."""
    return Path(os.path.realpath(path))


def find_inputs(root: Path, output_dir: Path) -> list[tuple[Path, Path]]:
    """(file, path relative to what mirrors it) for one file, or every file named like an image
    under a folder (hidden files and the output folder itself skipped). Broken links, pipes and
    the like are kept: reading them fails with one line saying what they are."""
    if not root.is_dir():
        return [(root, Path(root.name))]
    output_dir = real_path(output_dir)

    def inside_output(path: Path) -> bool:
        return output_dir != real_path(root) and output_dir in real_path(path).parents

    return [(path, path.relative_to(root)) for path in find_images(root) if not inside_output(path)]


def plan_jobs(inputs: list[tuple[Path, Path]], output_dir: Path) -> tuple[list[Job], list[tuple[Path, str]]]:
    """Output paths for every input; refusals (output would replace an input or another output)."""
    extensions = readable_formats()
    sources = {real_path(path) for path, _ in inputs}
    jobs, refused, taken = [], [], {}
    for path, relative in inputs:
        fmt = output_format(extensions.get(path.suffix.lower()))
        output = output_dir / relative.with_suffix(output_suffix(relative, fmt))
        compare = output_dir / relative.parent / f"{relative.stem}.compare.png"
        output_real, compare_real = real_path(output), real_path(compare)
        if output_real in sources or compare_real in sources:
            refused.append((path, f"its output {output} would replace an input; choose another output folder"))
            continue
        clash = taken.get(output_real) or taken.get(compare_real)
        if clash is not None:
            refused.append((path, f"its output {output} has the same name as that of {clash}; rename one"))
            continue
        taken[output_real] = taken[compare_real] = path
        jobs.append(Job(path, output, compare, fmt))
    return jobs, refused


def comparison_image(photo: Photo, prediction: torch.Tensor) -> Image.Image:
    """input gray | prediction | original, side by side; small images enlarged (nearest) to be seen."""
    from colorgan.callbacks.image_grid import make_grid  # imports Lightning: only when comparing

    rgb = photo.rgb[None]
    lightness, _ = LAB.split(rgb)
    gray = LAB.gray_rgb(lightness)
    scale = max(1, min(8, 256 // max(rgb.shape[-2:])))
    return Image.fromarray(make_grid([torch.cat([gray, prediction[None], rgb])], scale=scale))


class Run:
    """Colorizes the jobs in batches, reporting each failure on one line and counting outcomes."""

    def __init__(self, colorizer: Colorizer, args: argparse.Namespace, console: Console) -> None:
        self.colorizer, self.args, self.console = colorizer, args, console
        self.done, self.skipped, self.failed = 0, 0, 0
        self.against_gray = None
        if args.compare:
            from colorgan.metrics import AgainstGray  # torchmetrics: only when comparing

            self.against_gray = AgainstGray()
        self.measured = 0
        self.not_measured: list[str] = []

    def fail(self, path: Path, reason: str) -> None:
        self.failed += 1
        self.console.print(f"error: {path}: {reason}", markup=False, highlight=False, soft_wrap=True)

    def check_memory(self, width: int, height: int) -> None:
        """Refuse, before decoding, a photo whose colorizing would not fit in the free memory."""
        per_pixel = COMPARE_BYTES_PER_PIXEL if self.args.compare else BYTES_PER_PIXEL
        need, free = CONSTANT_BYTES + per_pixel * width * height, available_memory()
        if free is None or need <= free:
            return
        fits = max(0, free - CONSTANT_BYTES) // per_pixel
        scale = math.sqrt(fits / (width * height))
        raise ImageReadError(
            f"{width}x{height} needs about {gigabytes(need)} of memory to colorize{' with --compare' if self.args.compare else ''}, "
            f"more than the {gigabytes(free)} free now; up to {fits / 1e6:.0f} megapixels fit "
            f"({int(width * scale)}x{int(height * scale)} at this aspect ratio). Free some memory or colorize a smaller copy"
        )

    def read(self, job: Job) -> Photo | None:
        try:
            photo = read_photo(job.source, max_pixels=self.args.max_pixels, check_size=self.check_memory)
        except ImageReadError as err:
            self.fail(job.source, str(err))
            return None
        width, height = photo.size
        if min(width, height) < self.args.min_side:
            self.fail(job.source, f"too small to colorize ({width}x{height}; --min-side is {self.args.min_side})")
            return None
        return photo

    def process(self, jobs: list[Job]) -> None:
        """Read the jobs' photos and colorize them in batches of at most BATCH_PIXELS decoded pixels
        (a large photo alone), so memory stays one batch of photos whatever --batch-size says."""
        pending, pixels = [], 0
        for job in jobs:
            photo = self.read(job)
            if photo is None:
                continue
            if pending and pixels + photo.size[0] * photo.size[1] > BATCH_PIXELS:
                self.colorize(pending)
                pending, pixels = [], 0
            pending.append((job, photo))
            pixels += photo.size[0] * photo.size[1]
        if pending:
            self.colorize(pending)

    def colorize(self, loaded: list[tuple[Job, Photo]]) -> None:
        try:  # the network sees each photo at its small working size
            predicted_ab = self.colorizer.predict_ab([self.colorizer.working_input(photo) for _, photo in loaded])
        except (RuntimeError, ValueError) as err:  # e.g. out of memory: retry one at a time to name the culprit
            if len(loaded) == 1:
                self.fail(loaded[0][0].source, f"colorization failed: {type(err).__name__}: {err}")
                return
            for item in loaded:
                self.colorize([item])
            return
        for (job, photo), ab in zip(loaded, predicted_ab, strict=True):
            try:
                if self.args.compare:  # metrics need the float prediction and the original
                    prediction = self.colorizer.apply_ab(photo.rgb, ab)
                    colorized = to_pil(prediction, photo.alpha)
                else:  # streamed, written into the photo's own pixels
                    colorized = self.colorizer.colorize_photo(photo, ab, in_place=True)
                if job.write_output:
                    save_image(colorized, job.output, job.format)
                if self.args.compare:
                    if job.write_compare:
                        save_image(comparison_image(photo, prediction), job.compare, "PNG")
                    self.measure(job, photo, prediction)
            except OSError as err:
                self.fail(job.source, f"cannot write {job.output}: {err}")
                continue
            except (RuntimeError, ValueError) as err:
                self.fail(job.source, f"colorization failed: {type(err).__name__}: {err}")
                continue
            self.done += 1

    def measure(self, job: Job, photo: Photo, prediction: torch.Tensor) -> None:
        """Add one image to the metrics: prediction and gray baseline against the colour original."""
        if photo.is_gray:
            self.not_measured.append(f"{job.source} (a grayscale file: no colour to compare with)")
            return
        if min(photo.size) < MIN_METRIC_SIDE:
            self.not_measured.append(f"{job.source} (smaller than SSIM's {MIN_METRIC_SIDE}x{MIN_METRIC_SIDE} window)")
            return
        rgb = photo.rgb[None]
        lightness, _ = LAB.split(rgb)
        self.against_gray.update(prediction[None], LAB.gray_rgb(lightness), rgb)
        self.measured += 1

    def metrics(self) -> dict | None:
        if not self.measured:
            return None
        model, baseline = self.against_gray.compute()
        return {"images": self.measured, "model": model, "baseline": baseline}


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
        raise ColorizeError(f"{videos[0]} is a video: colorize a video alone (python -m colorgan.colorize "
                            f"{videos[0]} -o {args.output}); several INPUTs are photos and folders.")
    if videos:
        args.input = videos[0]
        return colorize_video_file(args, load_colorizer, out, err)
    inputs = [found for path in args.inputs for found in find_inputs(path, args.output)]
    if not inputs:
        where = " or ".join(map(str, args.inputs))
        raise ColorizeError(f"no image files in {where} (looked for {', '.join(sorted(readable_formats()))})")
    colorizer = load_colorizer(args)

    jobs, refused = plan_jobs(inputs, args.output)
    run = Run(colorizer, args, err)
    for path, reason in refused:
        run.fail(path, reason)
    for job in jobs:  # existing files are kept; a file is skipped when all its outputs exist
        job.write_output = args.overwrite or not job.output.exists()
        job.write_compare = args.compare and (args.overwrite or not job.compare.exists())
    todo = [job for job in jobs if job.write_output or job.write_compare]
    run.skipped = len(jobs) - len(todo)
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
            run.process(chunk)
            progress.advance(task, len(chunk))

    if args.compare:
        metrics = run.metrics()
        for note in run.not_measured:
            err.print(f"not measured: {note}", markup=False, highlight=False, soft_wrap=True)
        if metrics is None:
            err.print("no colour image to measure the predictions against", markup=False, highlight=False)
        else:
            args.output.mkdir(parents=True, exist_ok=True)
            write_text(args.output / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))
            title = f"metrics on {metrics['images']} image(s) (prediction vs original)"
            print_comparison(title, metrics["model"], metrics["baseline"], out)
    skipped = f", {run.skipped} skipped (output exists; --overwrite replaces)" if run.skipped else ""
    out.print(f"{run.done} colorized into {args.output}{skipped}, {run.failed} failed", markup=False, highlight=False)
    return EXIT_SOME_FAILED if run.failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
