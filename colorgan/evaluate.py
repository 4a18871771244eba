"""Measure a colorizer on any folder of colour photos:
`python -m colorgan.evaluate [CHECKPOINT] FOLDER [--size 256] [--output metrics.json]`.
Without a checkpoint, the photo colorizer shipped inside the package is measured (as colorize and
export use it).

Every image under FOLDER (any depth) that decodes, is in colour and is at least --min-size px on
its shorter side is resized to --size (shorter side), centre-cropped, reduced to the model's
grayscale input, colorized, and measured with the training run's metric suite, next to the
grayscale baseline. FID and LPIPS are added when their pretrained weights are already on this
machine; they are never downloaded, and when missing the command says why.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchmetrics import Metric

from colorgan.color_space import ColorSpace
from colorgan.data.batches import IndexBatches
from colorgan.data.folder import FolderImages
from colorgan.data.images import describe_skipped, filter_images, scan_images, warn_unreadable
from colorgan.errors import UserError, exit_on_user_error
from colorgan.image_io import find_images
from colorgan.inference import best_device, set_temperature
from colorgan.inference.colorizer import check_chroma
from colorgan.metrics import AgainstGray, per_image_against_gray, semantic_means
from colorgan.nets.judge import JUDGE, JudgeUnavailable, SemanticJudge, label_of
from colorgan.nets.unet import UNetGenerator
from colorgan.quiet import silence_library_noise
from colorgan.report.stats import paired_difference, share_better
from colorgan.report.tables import print_comparison
from colorgan.runs.checkpoint_io import load_generator
from colorgan.runs.run_dir import run_dir_of_checkpoint
from colorgan.system.atomic_io import write_text

log = logging.getLogger(__name__)

SKIPPED_NAMED = 5  # skipped files named per reason in the printed summary


def load_colorizer(path: str | Path) -> tuple[UNetGenerator, ColorSpace, tuple[int, int]]:
    """The generator (eval mode), colour space and training image size of a colorgan checkpoint."""
    loaded = load_generator(path)
    return loaded.generator, loaded.color_space, loaded.train_image_size


# -- optional metrics with pretrained weights ------------------------------------------------------
class WeightsUnavailable(RuntimeError):
    """Pretrained weights are not on this machine and downloading them is not allowed here."""


@contextmanager
def no_downloads():
    """torch.hub (used by torch-fidelity and torchvision for pretrained weights) fails at once
    instead of downloading: offline, a download would fail slowly or hang."""
    original = torch.hub.download_url_to_file

    def refuse(url: str, dst: str, *args, **kwargs) -> None:
        raise WeightsUnavailable(f"its weights are not in the torch hub cache ({Path(dst).parent}); they come from {url}")

    torch.hub.download_url_to_file = refuse
    try:
        yield
    finally:
        torch.hub.download_url_to_file = original


def _fid() -> Metric:
    from torchmetrics.image.fid import FrechetInceptionDistance

    return FrechetInceptionDistance(feature=2048, normalize=True)


def _lpips() -> Metric:
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

    return LearnedPerceptualImagePatchSimilarity(net_type="alex", normalize=True)


OPTIONAL_METRICS: dict[str, Callable[[], Metric]] = {"fid": _fid, "lpips": _lpips}
# What torchmetrics needs for them beyond colorgan's own dependencies (its `image` extra).
NEEDS_EXTRA = ("needs torch-fidelity and torchvision: pip install 'colorgan[metrics]', then their pretrained "
               "weights in the torch hub cache (never downloaded here)")


def optional_metrics(names=tuple(OPTIONAL_METRICS)) -> tuple[dict[str, tuple[Metric, Metric]], dict[str, str]]:
    """({name: (metric for the model, metric for the baseline)}, {name: why it is unavailable})."""
    metrics, unavailable = {}, {}
    for name in names:
        try:
            with no_downloads():
                metrics[name] = (OPTIONAL_METRICS[name](), OPTIONAL_METRICS[name]())
        except ModuleNotFoundError:  # torchmetrics without its image packages
            unavailable[name] = NEEDS_EXTRA
        except WeightsUnavailable as err:
            unavailable[name] = str(err)
        except Exception as err:  # incompatible versions
            unavailable[name] = f"{type(err).__name__}: {err}"
    return metrics, unavailable


def _update_optional(name: str, metric: Metric, pred: torch.Tensor, rgb: torch.Tensor) -> None:
    if name == "fid":
        metric.update(rgb, real=True)
        metric.update(pred, real=False)
    else:
        metric.update(pred, rgb)


# -- evaluation ------------------------------------------------------------------------------------
class EvaluateError(UserError, ValueError):
    """The folder or the --size cannot be evaluated; the message says what would work."""


def check_size(generator: UNetGenerator, size: int) -> None:
    if size < 1 or size % generator.stride:
        suggestion = max(generator.stride, round(size / generator.stride) * generator.stride)
        raise EvaluateError(
            f"--size {size} does not fit this checkpoint: its generator needs image "
            f"sides that are multiples of {generator.stride}. Try --size {suggestion}."
        )


@torch.no_grad()
def evaluate_folder(
    generator: UNetGenerator,
    color_space: ColorSpace,
    folder: str | Path,
    size: int,
    batch_size: int = 32,
    num_workers: int = 2,
    device: str | torch.device = "cpu",
    min_size: int | None = None,
    gray_chroma: float | None = 5.0,
    extra_metrics: bool = True,
    semantic: bool = True,
    chroma: float = 1.0,
) -> dict[str, Any]:
    """Model and grayscale-baseline metrics over the usable images of `folder` (see module doc), with
    the semantic test (colorgan.nets.judge) unless `semantic` is False or its judge is not installed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EvaluateError(f"Image folder not found: {folder}.")
    check_size(generator, size)
    if chroma != 1.0 and color_space.name != "lab":
        raise EvaluateError("--chroma scales a Lab model's predicted ab; this checkpoint predicts RGB. Leave --chroma out.")
    chroma = check_chroma(chroma)
    min_size = size if min_size is None else min_size
    paths = find_images(folder)
    scan = filter_images(paths, scan_images(paths, num_workers), min_size, gray_chroma)
    warn_unreadable(scan.errors)
    log.info("%s: %d images found, %s.", folder, len(paths), describe_skipped(scan.skipped, min_size, gray_chroma))
    if not scan.paths:
        raise EvaluateError(
            f"No usable images in {folder}: {len(paths)} image files, "
            f"{describe_skipped(scan.skipped, min_size, gray_chroma)}. Colour photos of at least {min_size} px are needed."
        )

    device = torch.device(device)
    generator = generator.to(device).eval()
    against_gray = AgainstGray().to(device)
    extra, unavailable = optional_metrics() if extra_metrics else ({}, {})
    judge = None
    if semantic:
        try:
            judge = SemanticJudge()
        except JudgeUnavailable as err:
            unavailable["semantic"] = str(err)
    labels = [label_of(p) for p in scan.paths] if judge is not None and any(label_of(p) >= 0 for p in scan.paths) else None
    extra = {name: (m.to(device), b.to(device)) for name, (m, b) in extra.items()}

    dataset = FolderImages(scan.paths, size, train=False, replace_failed=False)
    loader = DataLoader(
        dataset,
        sampler=IndexBatches(len(dataset), batch_size, shuffle=False, drop_last=False),
        batch_size=None,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )
    failed, used, per_image, position = {}, 0, [], 0
    for batch in loader:
        for path, error in batch.failed:
            log.warning("Skipping image %s: it failed to decode (%s).", path, error)
            failed[path] = error
        # The batch's photos in scan order, those that failed to decode left out.
        taken = len(batch.images) + len(batch.failed)
        failed_here = {str(path) for path, _ in batch.failed}
        batch_labels = None if labels is None else [
            label for path, label in zip(scan.paths[position:position + taken], labels[position:position + taken], strict=True)
            if str(path) not in failed_here]
        position += taken
        if not len(batch.images):
            continue
        rgb = batch.images.to(device).float() / 255.0  # (B, 3, S, S) in [0, 1]
        inputs, _ = color_space.split(rgb)
        pred = color_space.merge(inputs, generator(inputs) * chroma)
        gray = color_space.gray_rgb(inputs)
        against_gray.update(pred, gray, rgb)
        per_image.append({k: v.cpu().numpy() for k, v in per_image_against_gray(pred, gray, rgb, judge, batch_labels).items()})
        for name, (model_metric, baseline_metric) in extra.items():
            _update_optional(name, model_metric, pred, rgb)
            _update_optional(name, baseline_metric, gray, rgb)
        used += len(rgb)
    if not used:
        raise EvaluateError(f"None of the {len(scan.paths)} images in {folder} could be decoded; see the warnings above.")

    model, baseline = against_gray.compute()
    columns = {k: np.concatenate([p[k] for p in per_image]) for k in per_image[0]}
    semantic_model, semantic_baseline = semantic_means(columns)
    model.update(semantic_model)
    baseline.update(semantic_baseline)
    for name, (model_metric, baseline_metric) in extra.items():
        try:
            model[name], baseline[name] = float(model_metric.compute()), float(baseline_metric.compute())
        except Exception as err:  # e.g. FID of fewer than 2 images
            unavailable[name] = f"{type(err).__name__}: {err}"
    skipped_files = {reason: [str(p) for p in found] for reason, found in scan.skipped_paths.items()}
    skipped_files["unreadable"] += [str(p) for p in failed]
    return {
        "folder": str(folder),
        "image_size": size,
        "found": len(paths),
        "images": used,
        "skipped": {reason: len(found) for reason, found in skipped_files.items()},
        "skipped_files": skipped_files,
        "model": model,
        "baseline": baseline,
        "against_baseline": against_baseline(per_image),
        "per_image": {k: [None if np.isnan(x) else round(float(x), 4) for x in v] for k, v in columns.items()},
        "photos": [str(p) for p in scan.paths if str(p) not in failed],
        "unavailable": unavailable,
    }


def against_baseline(parts: list[dict[str, np.ndarray]]) -> dict[str, dict[str, float]]:
    """Image by image against the gray input, with 95% bootstrap intervals: the mean difference of
    MAE and PSNR (model - gray), and the share of images (%) on which the model is better
    (colorgan.report.stats.share_better, as the report's table of wins)."""
    values = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    result = {}
    for key, higher_is_better in (("mae", False), ("psnr", True)):
        model, gray = values[key], values[f"baseline_{key}"]
        share = share_better(model, gray, higher_is_better)
        for name, interval in ((f"{key}_difference", paired_difference(model, gray)),
                               (f"{key}_beats_gray_percent", share)):
            result[name] = {"mean": interval.mean, "low": interval.low, "high": interval.high}
    for key in ("agree", "class_acc"):  # the semantic test, in points (percent of photos)
        if key in values:
            model, gray = values[key], values[f"baseline_{key}"]
            known = ~(np.isnan(model) | np.isnan(gray))
            if known.any():
                interval = paired_difference(model[known], gray[known])
                result[f"{key}_difference"] = {"mean": interval.mean, "low": interval.low, "high": interval.high}
    return result


def print_table(result: dict[str, Any]) -> None:
    title = f"{result['images']} images of {result['folder']} at {result['image_size']} px (RGB output vs truth)"
    print_comparison(title, result["model"], result["baseline"])
    wins = result["against_baseline"]
    print("Against the gray input, image by image (95% bootstrap intervals): " + "; ".join(
        f"{label} {wins[key]['mean']:{fmt}} [{wins[key]['low']:{fmt}}, {wins[key]['high']:{fmt}}]{unit}"
        for label, key, fmt, unit in (("MAE difference", "mae_difference", "+.2f", ""),
                                      ("better MAE on", "mae_beats_gray_percent", ".0f", "% of images"),
                                      ("better PSNR on", "psnr_beats_gray_percent", ".0f", "% of images"))) + ".")
    labels = {"gray": "grayscale", "small": "too small", "unreadable": "unreadable"}
    found = {reason: files for reason, files in result["skipped_files"].items() if files}
    print("Skipped " + (", ".join(f"{len(files)} {labels[reason]}" for reason, files in found.items()) or "none") + ".")
    for reason, files in found.items():  # by name, so a user can look at them (all of them are in the JSON)
        names = ", ".join(Path(f).name for f in files[:SKIPPED_NAMED])
        more = f" and {len(files) - SKIPPED_NAMED} more" if len(files) > SKIPPED_NAMED else ""
        print(f"  {labels[reason]}: {names}{more}")
    if "agree_difference" in wins:
        d = wins["agree_difference"]
        print(f"Semantic test ({JUDGE}): its top-1 class of the colorized photo is the original's on "
              f"{result['model']['agree']:.1f}% of photos, of the gray input on {result['baseline']['agree']:.1f}% "
              f"(difference {d['mean']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}] points).")
    reasons: dict[str, list[str]] = {}  # one line per reason: "FID and LPIPS not computed: ..."
    for name, reason in result["unavailable"].items():
        reasons.setdefault(reason, []).append(name if name == "semantic" else name.upper())
    for reason, names in reasons.items():
        print(f"{' and '.join(names)} not computed: {reason.rstrip('.')}.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m colorgan.evaluate",
        description="Measure a colorgan checkpoint (default: the shipped photo colorizer) on a folder of colour "
        "photos, next to the grayscale baseline.",
    )
    parser.add_argument("paths", nargs="+", metavar="[CHECKPOINT] FOLDER",
                        help="FOLDER: colour photos (any depth, any format Pillow opens); before it, optionally, a "
                        ".ckpt written by `python -m colorgan.train` (default: the shipped photo colorizer)")
    parser.add_argument("--size", type=int, default=None,
                        help="side of the square the images are resized and centre-cropped to "
                             "(default: the checkpoint's training size; 32 for CIFAR-10 runs)")
    parser.add_argument("--min-size", type=int, default=None, help="skip images whose shorter side is smaller (default: --size)")
    parser.add_argument("--gray-chroma", type=float, default=5.0,
                        help="skip images whose Lab chroma (p99 over pixels) is below this, i.e. grayscale ones (default: 5)")
    parser.add_argument("--keep-gray", action="store_true", help="measure grayscale images too")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader processes decoding images")
    parser.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps, ...")
    parser.add_argument("--no-extra", action="store_true", help="skip FID and LPIPS even when available")
    parser.add_argument("--no-semantic", action="store_true",
                        help="skip the semantic test (an ImageNet classifier on the colorized, gray and original photos)")
    parser.add_argument("--chroma", type=float, default=1.0,
                        help="a factor on the predicted colour's saturation, as colorize --chroma (default 1)")
    parser.add_argument("--temperature", type=float, default=None,
                        help="classification models: annealed-mean temperature (default: the model's, 0.38; 1 = the mean, "
                        "0 = the most likely colour); evaluate several to choose one for colorize --temperature")
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON file for the results (default: eval_<folder name>_<size>px.json in the "
                        "checkpoint's run directory, or beside a checkpoint outside any run; for the shipped "
                        "model, in the working directory)")
    return parser


def default_output(checkpoint: Path, folder: str | Path, size: int) -> Path:
    """eval_<folder>_<size>px.json in the checkpoint's run directory (<run>/checkpoints/x.ckpt), else
    beside the checkpoint: never in whatever folder the command was started from."""
    home = run_dir_of_checkpoint(Path(checkpoint).resolve())
    return home / f"eval_{Path(folder).resolve().name}_{size}px.json"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.paths) > 2:
        parser.error(f"expected [CHECKPOINT] FOLDER, got {len(args.paths)} paths")
    args.checkpoint, args.folder = (None, *args.paths) if len(args.paths) == 1 else args.paths
    silence_library_noise()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    device = best_device() if args.device == "auto" else args.device
    return exit_on_user_error(lambda: run(args, device))


def run(args: argparse.Namespace, device: str) -> dict[str, Any]:
    """Evaluate, print the table and write the JSON file; a UserError (checkpoint, folder, size) goes
    up to exit_on_user_error."""
    shipped = args.checkpoint is None
    if shipped:  # checked against its sha256, like colorize's and export's
        from colorgan.pretrained import verified_weights

        args.checkpoint = verified_weights()
    generator, color_space, train_size = load_colorizer(args.checkpoint)
    if args.temperature is not None:
        set_temperature(generator, args.temperature, args.checkpoint)
    size = args.size or min(train_size)
    result = evaluate_folder(
        generator, color_space, args.folder, size,
        batch_size=args.batch_size, num_workers=args.workers, device=device,
        min_size=args.min_size, gray_chroma=None if args.keep_gray else args.gray_chroma,
        extra_metrics=not args.no_extra, semantic=not args.no_semantic, chroma=args.chroma,
    )
    result = {"checkpoint": str(args.checkpoint), "color_space": color_space.name, "chroma": args.chroma,
              **({"temperature": generator.temperature} if hasattr(generator, "temperature") else {}), **result}
    print_table(result)
    output = args.output or (Path(f"eval_{Path(args.folder).resolve().name}_{size}px.json") if shipped
                             else default_output(args.checkpoint, args.folder, size))
    output.parent.mkdir(parents=True, exist_ok=True)
    write_text(output, json.dumps(result, indent=2))
    print(f"Results written to {output}")
    return result


if __name__ == "__main__":
    main()
