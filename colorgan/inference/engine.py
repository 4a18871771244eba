"""The colorize engine: photos found, read, checked, colorized in batches and written, each failure
one line. `python -m colorgan.colorize` and the page (colorgan.app) both run it, with typed
options, so a photo gets the same checks, output and message from either.

Each photo is decoded once and shrunk once to its working size; its colour is laid on its own
full-resolution lightness band by band (colorgan.inference.colorizer), so memory stays one batch
of photos whatever their sizes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from colorgan.image_io import (
    DEFAULT_MAX_PIXELS,
    ImageReadError,
    Photo,
    animation_frames,
    find_images,
    header_size,
    make_grid,
    output_format,
    output_suffix,
    read_photo,
    readable_formats,
    save_image,
    to_pil,
)
from colorgan.inference.colorizer import Colorizer, paint_bands
from colorgan.inference.gamut import LAB
from colorgan.inference.hint_edges import predict_hinted
from colorgan.inference.hints import Hint, check_inside
from colorgan.system.memory import available_memory, gigabytes

# Memory a photo takes to colorize, measured (BENCHMARKS.md, "colorize memory"): its 8-bit pixels
# as Pillow holds them and the transient copies of decoding, plus a constant for the network and
# the bands of rows. --compare holds the photo as floats too.
BYTES_PER_PIXEL, COMPARE_BYTES_PER_PIXEL, CONSTANT_BYTES = 10, 120, 1 << 28
BATCH_PIXELS = 1 << 24  # decoded pixels held at once for one network batch (a larger photo goes alone)
MIN_METRIC_SIDE = 11  # SSIM's 11x11 Gaussian window

# Colorizes an animated image whole: (colorizer, source, output, format, hints, gray output or None) -> frames.
Animate = Callable[[Colorizer, Path, Path, str, tuple[Hint, ...], "Path | None"], int]


@dataclass(frozen=True)
class ColorizeOptions:
    """How a batch of photos is colorized, as the command's flags and the page's settings say.

    Args:
        compare: also write NAME.compare.png (gray | prediction | original) and measure the
            predictions against the colour originals (ColorizeEngine.metrics).
        gray: also write each photo's gray input, full size (the page's "before" image), as
            OUTPUT/gray/<i>_<name>.png; meant for a fresh folder (the page's request folders): these
            files are not checked against the inputs and are not skipped when they exist.
        overwrite: replace outputs that exist; otherwise a photo whose outputs all exist is skipped.
        max_pixels: refuse larger photos, a guard against decompression bombs (None: no limit).
        min_side: refuse photos whose shorter side is below this many pixels.
        hints: colour hints (colorgan.inference.hints.Hint, in the photo's pixels) for a hint model,
            given to every photo: meant for one photo at a time. A hint outside a photo, or hints for
            a model without hint inputs, raise a HintError (nothing of that photo is written).
        hint_edges: stop the hints' colour at the photo's lightness edges (colorgan.inference.hint_edges);
            False (default): as far as the hint model spreads it.
    """

    compare: bool = False
    gray: bool = False
    overwrite: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    min_side: int = 8
    hints: tuple[Hint, ...] = ()
    hint_edges: bool = False


@dataclass
class Job:
    """One input file and where its outputs go."""

    source: Path
    output: Path
    compare: Path
    format: str
    gray: Path | None = None
    write_output: bool = True
    write_compare: bool = False
    done: bool = False


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


def animated(path: Path) -> bool:
    """Whether a file is an animation (a damaged one too: reading it says what is wrong)."""
    try:
        return animation_frames(path) > 1
    except ImageReadError:
        return True


def plan_jobs(inputs: list[tuple[Path, Path]], output_dir: Path) -> tuple[list[Job], list[tuple[Path, str]]]:
    """Output paths for every input; refusals (output would replace an input or another output)."""
    extensions = readable_formats()
    sources = {real_path(path) for path, _ in inputs}
    jobs, refused, taken = [], [], {}
    for path, relative in inputs:
        fmt = extensions.get(path.suffix.lower())
        # An animated GIF stays a GIF (PNG and WebP animate as they are); a still GIF becomes a PNG.
        fmt = fmt if fmt == "GIF" and animated(path) else output_format(fmt)
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


def gray_image(photo: Photo) -> Image.Image:
    """The photo's gray input at full size (RGBA with its alpha), made one band of rows at a time."""
    def gray_rows(top: int, bottom: int) -> torch.Tensor:
        return LAB.gray_of(photo.rows(top, bottom)[None])[0]

    return paint_bands(photo, Image.new("RGB", photo.size), gray_rows)


def comparison_image(photo: Photo, prediction: torch.Tensor) -> Image.Image:
    """input gray | prediction | original, side by side; small images enlarged (nearest) to be seen."""
    rgb = photo.rgb[None]
    scale = max(1, min(8, 256 // max(rgb.shape[-2:])))
    return Image.fromarray(make_grid([torch.cat([LAB.gray_of(rgb), prediction[None], rgb])], scale=scale))


class WriteError(Exception):
    """An output could not be written; `path` says which (the OSError is its cause)."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path


def save(image: Image.Image, path: Path, fmt: str) -> None:
    """save_image, a failure naming the file that could not be written."""
    try:
        save_image(image, path, fmt)
    except OSError as err:
        raise WriteError(path) from err


class ColorizeEngine:
    """Colorizes jobs in batches, reporting each failure through `on_fail(path, reason)` and
    counting outcomes (done, skipped, failed). Animated images go to `animate` (the command and the
    page pass colorgan.video.animation's, which sits above this layer); without it they are refused."""

    def __init__(self, colorizer: Colorizer, options: ColorizeOptions,
                 on_fail: Callable[[Path, str], None], animate: Animate | None = None) -> None:
        self.colorizer, self.options, self.on_fail, self.animate = colorizer, options, on_fail, animate
        if options.hints:
            colorizer.require_hint_model()
        self.done, self.skipped, self.failed = 0, 0, 0
        self.against_gray, self.judge, self.semantic_note = None, None, None
        self.semantic_columns: list[dict[str, torch.Tensor]] = []
        if options.compare:
            from colorgan.metrics import AgainstGray  # torchmetrics: only when comparing
            from colorgan.nets.judge import JudgeUnavailable, SemanticJudge, label_of

            self.against_gray, self.label_of = AgainstGray(), label_of
            try:  # the semantic test beside the other measures, when its judge is installed
                self.judge = SemanticJudge()
            except JudgeUnavailable as err:
                self.semantic_note = str(err)
        self.measured = 0
        self.not_measured: list[str] = []

    def fail(self, path: Path, reason: str) -> None:
        self.failed += 1
        self.on_fail(path, reason)

    def plan(self, inputs: list[tuple[Path, Path]], output_dir: Path) -> list[Job]:
        """The jobs to do for these inputs: refusals reported, outputs that exist kept (the photo is
        skipped when all of its outputs exist, unless `overwrite`)."""
        jobs, refused = plan_jobs(inputs, output_dir)
        for path, reason in refused:
            self.fail(path, reason)
        for i, job in enumerate(jobs):
            job.write_output = self.options.overwrite or not job.output.exists()
            job.write_compare = self.options.compare and (self.options.overwrite or not job.compare.exists())
            if self.options.gray:  # a.png and a.jpg: two names
                job.gray = output_dir / "gray" / f"{i}_{job.source.stem}.png"
        todo = [job for job in jobs if job.write_output or job.write_compare]
        self.skipped += len(jobs) - len(todo)
        return todo

    def check_memory(self, width: int, height: int) -> None:
        """Refuse, before decoding, a photo whose colorizing would not fit in the free memory."""
        compare = self.options.compare
        per_pixel = COMPARE_BYTES_PER_PIXEL if compare else BYTES_PER_PIXEL
        need, free = CONSTANT_BYTES + per_pixel * width * height, available_memory()
        if free is None or need <= free:
            return
        fits = max(0, free - CONSTANT_BYTES) // per_pixel
        scale = math.sqrt(fits / (width * height))
        raise ImageReadError(
            f"{width}x{height} needs about {gigabytes(need)} of memory to colorize{' with --compare' if compare else ''}, "
            f"more than the {gigabytes(free)} free now; up to {fits / 1e6:.0f} megapixels fit "
            f"({int(width * scale)}x{int(height * scale)} at this aspect ratio). Free some memory or colorize a smaller copy"
        )

    def read(self, job: Job) -> Photo | None:
        try:
            frames = animation_frames(job.source)
        except ImageReadError as err:
            self.fail(job.source, str(err))
            return None
        if frames > 1:
            self.colorize_animation(job, frames)
            return None
        try:
            photo = read_photo(job.source, max_pixels=self.options.max_pixels, check_size=self.check_memory)
        except ImageReadError as err:
            self.fail(job.source, str(err))
            return None
        width, height = photo.size
        if min(width, height) < self.options.min_side:
            self.fail(job.source, f"too small to colorize ({width}x{height}; --min-side is {self.options.min_side})")
            return None
        check_inside(self.options.hints, width, height, job.source)
        return photo

    def colorize_animation(self, job: Job, frames: int) -> None:
        """An animated image, colorized whole by `animate` into its own format; not measured by --compare."""
        if self.animate is None:
            self.fail(job.source, f"an animated image ({frames} frames): this caller colorizes still photos only; "
                      "python -m colorgan.colorize colorizes animations frame by frame")
            return
        try:
            width, height = header_size(job.source)
            if self.options.max_pixels is not None and width * height > self.options.max_pixels:
                raise ImageReadError(f"{width}x{height} frames are over --max-pixels {self.options.max_pixels:,}")
            self.check_memory(width, height * frames)
            check_inside(self.options.hints, width, height, job.source)
            if job.write_output:
                self.animate(self.colorizer, job.source, job.output, job.format, self.options.hints, job.gray)
        except ImageReadError as err:
            self.fail(job.source, str(err))
            return
        except OSError as err:  # the animator names the file it could not write (the output or the gray one)
            self.fail(job.source, f"cannot write {err.filename or job.output}: {err.strerror or err}")
            return
        if self.options.compare:
            self.not_measured.append(f"{job.source} (an animated image: measure films as videos, python -m colorgan.colorize clip.mp4 --compare)")
        job.done = True
        self.done += 1

    def process(self, jobs: list[Job]) -> None:
        """Read the jobs' photos and colorize them in batches of at most BATCH_PIXELS decoded pixels
        (a large photo alone), so memory stays one batch of photos whatever the batch size says."""
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
        try:  # the network sees each photo at its small working size, shrunk once
            working = [self.colorizer.working_input(photo) for _, photo in loaded]
            hints = [self.colorizer.working_hints(self.options.hints, photo.size, rgb.shape[-2:])
                     for (_, photo), rgb in zip(loaded, working, strict=True)]
            predicted_ab = predict_hinted(self.colorizer, [photo for _, photo in loaded], working, hints,
                                          self.options.hint_edges)
        except (RuntimeError, ValueError) as err:  # e.g. out of memory: retry one at a time to name the culprit
            if len(loaded) == 1:
                self.fail(loaded[0][0].source, f"colorization failed: {type(err).__name__}: {err}")
                return
            for item in loaded:
                self.colorize([item])
            return
        for (job, photo), ab in zip(loaded, predicted_ab, strict=True):
            try:
                self.write(job, photo, ab)
            except WriteError as err:
                self.fail(job.source, f"cannot write {err.path}: {err.__cause__}")
                continue
            except (RuntimeError, ValueError) as err:
                self.fail(job.source, f"colorization failed: {type(err).__name__}: {err}")
                continue
            job.done = True
            self.done += 1

    def write(self, job: Job, photo: Photo, ab: torch.Tensor) -> None:
        """The job's outputs from its photo and predicted ab: the output first, then the others."""
        gray = gray_image(photo) if job.gray is not None else None  # before the photo is spent below
        if self.options.compare:  # metrics need the float prediction and the original
            prediction = self.colorizer.apply_ab(photo.rgb, ab)
            colorized = to_pil(prediction, photo.alpha)
        else:  # streamed, written into the photo's own pixels
            colorized = self.colorizer.colorize_photo(photo, ab, in_place=True)
        if job.write_output:
            save(colorized, job.output, job.format)
        if gray is not None:
            save(gray, job.gray, "PNG")
        if self.options.compare:
            if job.write_compare:
                save(comparison_image(photo, prediction), job.compare, "PNG")
            self.measure(job, photo, prediction)

    def measure(self, job: Job, photo: Photo, prediction: torch.Tensor) -> None:
        """Add one image to the metrics: prediction and gray baseline against the colour original."""
        if photo.is_gray:
            self.not_measured.append(f"{job.source} (a grayscale file: no colour to compare with)")
            return
        if min(photo.size) < MIN_METRIC_SIDE:
            self.not_measured.append(f"{job.source} (smaller than SSIM's {MIN_METRIC_SIDE}x{MIN_METRIC_SIDE} window)")
            return
        rgb = photo.rgb[None]
        gray = LAB.gray_of(rgb)
        self.against_gray.update(prediction[None], gray, rgb)
        if self.judge is not None:
            self.semantic_columns.append(self.judge(prediction[None], gray, rgb, [self.label_of(job.source)]))
        self.measured += 1

    def metrics(self) -> dict | None:
        """{images, model, baseline} of the measured photos (compare only); None when none was measured."""
        if not self.measured:
            return None
        model, baseline = self.against_gray.compute()
        if self.semantic_columns:
            from colorgan.metrics import semantic_means

            columns = {k: torch.cat([c[k] for c in self.semantic_columns]) for k in self.semantic_columns[0]}
            semantic_model, semantic_baseline = semantic_means(columns)
            model.update(semantic_model)
            baseline.update(semantic_baseline)
        return {"images": self.measured, "model": model, "baseline": baseline}
