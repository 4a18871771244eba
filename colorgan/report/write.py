"""Compare finished runs: `python -m colorgan.report <run or sweep dirs>... [--sort mae] [--out DIR]`.

Writes `report.md` (the seed's results table done right: one row per run, the grayscale baseline,
bootstrap intervals and paired differences that say which differences are real, seed repeats, and
the seed's own numbers for reference), `comparison.png` (the same test images colorized by every
run, labelled) and `learning_curves.png` (validation MAE and colorfulness per epoch). Reads only what runs wrote to disk (colorgan/runs/run_dir.py), so it works offline
and without W&B.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from colorgan.data.errors import DatasetError
from colorgan.errors import UserError, user_command
from colorgan.image_io import save_image
from colorgan.report.figures import comparison_image, learning_curves, validation_curves
from colorgan.report.markdown import LEARNING_CURVES, METRIC_BY_KEY, describe, render_markdown, run_names, sort_runs
from colorgan.runs.run_dir import Run, RunFileError, find_runs
from colorgan.system.atomic_io import write_text


class ReportError(UserError, RuntimeError):
    """Nothing to report; the message says what was found and what to pass instead."""


# -- the figures -----------------------------------------------------------------------------------


def test_images(run: Run, count: int, data_dir: str | None = None) -> torch.Tensor:
    """The first `count` test images (uint8) of the data set `run` was trained on."""
    data_cfg = OmegaConf.to_container(run.config.data, resolve=True)
    if data_dir is not None:
        data_cfg["data_dir"] = data_dir
    return instantiate(data_cfg, _convert_="all").sample_images(count)


def figure_label(run: Run, names: dict[Path, str]) -> str:
    d = describe(run)
    mae = run.test_metrics.get("test/mae")
    return f"{names[run.path]}\n{d['activation']} / {d['norm']}\ntest MAE {mae:.2f}"  # not the curves' validation MAE


# -- the command ---------------------------------------------------------------------------------


def unreadable_files(run: Run) -> str | None:
    """Why a file of `run` the report reads is broken (garbage in metrics.csv, a non-UTF-8 byte, a
    test_metrics.json that is not metrics...), or None: such a run is listed with the reason and
    left out, and the report is made from the others."""
    try:
        run.config, run.test_metrics, run.per_image, run.info, run.job_status  # noqa: B018 (read now)
        validation_curves(run)
    except RunFileError as err:
        return f"unreadable: {err}"
    except (OSError, ValueError, TypeError, KeyError, csv.Error) as err:  # UnicodeDecodeError is a ValueError
        return f"unreadable csv/metrics.csv ({type(err).__name__}: {' '.join(str(err).split())[:200]}); delete or fix it"
    return None


def write_report(folders: Sequence[str | Path], out: Path, sort_by: str = "mae", num_images: int = 8,
                 scale: int = 4, data_dir: str | None = None) -> tuple[Path, Path | None]:
    """Find the runs under `folders`, write out/report.md, out/comparison.png and
    out/learning_curves.png; returns the paths of the first two."""
    if missing := [str(f) for f in folders if not Path(f).is_dir()]:
        raise ReportError(f"{', '.join(missing)}: not a directory; give run or sweep directories.")
    runs = find_runs(folders)
    if not runs:
        raise ReportError(
            f"No colorgan run under {', '.join(map(str, folders))}: no folder there holds a config.yaml or .hydra/. "
            "Pass run directories (logs/runs/NAME/TIME) or sweep directories (logs/sweeps/NAME/TIME)."
        )
    reasons = {r.path: reason for r in runs if (reason := unreadable_files(r))}
    finished = sort_runs([r for r in runs if r.path not in reasons and r.finished], sort_by)
    without_results = [r for r in runs if r.path in reasons or not r.finished]
    reasons.update({r.path: r.problem() for r in without_results if r.path not in reasons})
    if not finished:
        listing = "\n".join(f"  {r.path}: {reasons[r.path]}" for r in without_results)
        raise ReportError(f"None of the {len(runs)} runs found has usable results:\n{listing}")
    out.mkdir(parents=True, exist_ok=True)
    pictured = [r for r in finished if r.checkpoint() is not None]
    missing = [r for r in finished if r.checkpoint() is None]
    note = None
    if missing:
        note = "Not in comparison.png (no checkpoint): " + ", ".join(f"`{r.path.name}`" for r in missing) + "."
    image_path = None
    names = run_names(finished)
    label = lambda run: figure_label(run, names)  # noqa: E731
    if pictured:
        try:
            images = test_images(pictured[0], num_images, data_dir)
        except DatasetError as err:
            raise ReportError(f"cannot load the test images for comparison.png: {err} Or pass --data-dir.") from err
        image_path = out / "comparison.png"
        save_image(comparison_image(pictured, images, label, scale), image_path, "PNG")
    learning_curves(finished, label, out / LEARNING_CURVES)
    report_path = out / "report.md"
    write_text(report_path, render_markdown(finished, without_results, sort_by, note, reasons))
    return report_path, image_path


@user_command
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="run directories or sweep directories (searched recursively)")
    parser.add_argument("--out", type=Path, help="where report.md and comparison.png go "
                        "(default: the folder given, or ./report when several are given)")
    parser.add_argument("--sort", default="mae", choices=list(METRIC_BY_KEY), help="metric to sort by (default: mae)")
    parser.add_argument("--images", type=int, default=8, help="test images in comparison.png (default: 8)")
    parser.add_argument("--scale", type=int, default=4, help="upscaling of each image (default: 4)")
    parser.add_argument("--data-dir", help="data folder for the test images, if runs were trained elsewhere")
    args = parser.parse_args(argv)
    if args.images < 1 or args.scale < 1:
        parser.error(f"--images and --scale must be at least 1, got {args.images} and {args.scale}")
    out = args.out or (Path(args.folders[0]) if len(args.folders) == 1 else Path("report"))
    report_path, image_path = write_report(args.folders, out, args.sort, args.images, args.scale, args.data_dir)
    print(report_path.read_text())
    curves = report_path.parent / LEARNING_CURVES
    written = [report_path, image_path, curves if curves.is_file() else None]
    print("Wrote " + ", ".join(str(p) for p in written if p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
