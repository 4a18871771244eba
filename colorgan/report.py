"""Compare finished runs: `python -m colorgan.report <run or sweep dirs>... [--sort mae] [--out DIR]`.

Writes `report.md` (the seed's results table done right: one row per run, the grayscale baseline,
and the seed's own numbers for reference) and `comparison.png` (the same test images colorized by
every run, labelled). Reads only what runs wrote to disk (colorgan/run_dir.py), so it works offline
and without W&B.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image, ImageDraw, ImageFont

from colorgan.color_space import ColorSpace
from colorgan.data.cifar10 import DatasetError
from colorgan.image_grid import comparison_rows, make_grid
from colorgan.run_dir import Run, find_runs
from colorgan.unet import UNetGenerator


@dataclass(frozen=True)
class Metric:
    key: str  # test/<key> in test_metrics.json
    title: str
    digits: int
    higher_is_better: bool


METRICS = (
    Metric("mae", "MAE (0-255) ↓", 2, False),
    Metric("psnr", "PSNR (dB) ↑", 2, True),
    Metric("ssim", "SSIM ↑", 4, True),
    Metric("acc", "pixel acc. ↑", 4, True),
    Metric("auc", "AuC ↑", 4, True),
    Metric("colorfulness", "colorfulness", 2, True),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}

# The seed's table as its slides give it (/work/shared/seed/README.md): CIFAR-10, RGB, 15 epochs.
SEED_RESULTS = (
    ("CNN (U-Net)", 15, 0.012071, 0.556810),
    ("CNN (U-Net) (LeakyReLU)", 15, 0.012075, 0.556328),
    ("GAN (U-Net)", 15, 0.012059, 0.559959),
    ("GAN (U-Net) (LeakyReLU)", 15, 0.012037, 0.567164),
)

LABEL_WIDTH = 200  # pixels of the label column in comparison.png


class ReportError(RuntimeError):
    """Nothing to report; the message says what was found and what to pass instead."""


# -- the table ----------------------------------------------------------------------------------


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def describe(run: Run) -> dict[str, str]:
    """The non-metric columns of a run's row."""
    cfg = run.config
    generator = OmegaConf.select(cfg, "model.generator") or {}
    epochs = run.info.get("epochs", OmegaConf.select(cfg, "trainer.max_epochs"))
    return {
        "model": run.experiment,
        "activation": str(generator.get("activation", "—")),
        "norm": str(generator.get("norm", "—")),
        "color_space": str(OmegaConf.select(cfg, "data.color_space")),
        "epochs": str(epochs),
        "train_time": format_seconds(run.info.get("fit_seconds")),
    }


def sort_runs(runs: Sequence[Run], by: str) -> list[Run]:
    metric = METRIC_BY_KEY[by]
    sign = -1.0 if metric.higher_is_better else 1.0
    return sorted(runs, key=lambda r: sign * r.test_metrics.get(f"test/{by}", float("nan")))


def _metric_cells(metrics: dict[str, float], prefix: str) -> list[str]:
    cells = []
    for metric in METRICS:
        value = metrics.get(f"{prefix}/{metric.key}")
        cells.append("—" if value is None else f"{value:.{metric.digits}f}")
    return cells


def _common_overrides(runs: Sequence[Run]) -> list[str]:
    """Command-line overrides every run shares (the sweep's settings), from .hydra/overrides.yaml."""
    sets = []
    for run in runs:
        path = run.path / ".hydra" / "overrides.yaml"
        if not path.is_file():
            return []
        sets.append(list(OmegaConf.load(path)))
    common = set(sets[0]).intersection(*sets[1:]) if sets else set()
    return [o for o in sets[0] if o in common] if sets else []


def render_markdown(runs: Sequence[Run], without_results: Sequence[Run], sort_by: str,
                    image_note: str | None = None) -> str:
    """report.md: runs sorted by `sort_by`, one grayscale row per colour space, the seed's numbers."""
    header = ["model", "activation", "norm", "colour space", "epochs", "train time", *(m.title for m in METRICS), "run"]
    lines = [
        "# Colorization results",
        "",
        f"{len(runs)} finished runs, sorted by test {sort_by} (best first). Test metrics compare the merged RGB "
        "output with the true image on the run's test set; the grayscale rows score the network's input "
        "shown without colour.",
    ]
    overrides = _common_overrides(runs)
    if overrides:
        lines += ["", "Overrides shared by every run: `" + " ".join(overrides) + "`"]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run in runs:
        d = describe(run)
        cells = [d["model"], d["activation"], d["norm"], d["color_space"], d["epochs"], d["train_time"]]
        lines.append("| " + " | ".join([*cells, *_metric_cells(run.test_metrics, "test"), f"`{run.path.name}`"]) + " |")
    for space in sorted({describe(r)["color_space"] for r in runs}):
        first = next(r for r in runs if describe(r)["color_space"] == space)
        cells = ["*grayscale input*", "—", "—", space, "—", "—"]
        lines.append("| " + " | ".join([*cells, *_metric_cells(first.test_metrics, "test_baseline"), "baseline"]) + " |")
    true_colorfulness = runs[0].test_metrics.get("test/colorfulness_true")
    if true_colorfulness is not None:
        lines += ["", f"Colorfulness (Hasler and Süsstrunk, 0-255 scale) of the true test images: {true_colorfulness:.2f}."]
    if without_results:
        lines += ["", "## Runs without results", ""]
        lines += [f"- `{run.path}`: {run.problem()}" for run in without_results]
    if image_note:
        lines += ["", image_note]
    lines += [
        "",
        "## The seed's own numbers, for reference",
        "",
        "As its slides report them (CIFAR-10, RGB, 15 epochs). Their \"accuracy\" and loss are not defined "
        "there and cannot be compared with the metrics above.",
        "",
        "| network | epochs | \"accuracy\" | loss |",
        "|---|---|---|---|",
        *(f"| {name} | {epochs} | {acc:.6f} | {loss:.6f} |" for name, epochs, acc, loss in SEED_RESULTS),
        "",
    ]
    return "\n".join(lines)


# -- the comparison image -----------------------------------------------------------------------


def _load_generator(path: Path) -> tuple[torch.nn.Module, ColorSpace]:
    """The generator and colour space of a Lightning checkpoint, read with weights_only=True so no
    pickled code runs. (Stands in for colorgan.checkpoint_io until that lands.)"""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    hparams = checkpoint.get("hyper_parameters") or {}
    if "color_space" not in hparams or "generator" not in hparams:
        raise ValueError(f"{path} has no color_space/generator hyper-parameters: not a colorgan checkpoint.")
    space = ColorSpace(hparams["color_space"])
    generator = UNetGenerator(space.in_channels, space.out_channels, **dict(hparams["generator"]))
    prefix = "generator."
    state = {k.removeprefix(prefix): v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    generator.load_state_dict(state)
    return generator.eval(), space


def test_images(run: Run, count: int, data_dir: str | None = None) -> torch.Tensor:
    """The first `count` test images (uint8) of the data set `run` was trained on."""
    data_cfg = OmegaConf.to_container(run.config.data, resolve=True)
    if data_dir is not None:
        data_cfg["data_dir"] = data_dir
    return instantiate(data_cfg, _convert_="all").sample_images(count)


def _label(run: Run) -> str:
    d = describe(run)
    mae = run.test_metrics.get("test/mae")
    return f"{d['model']}\n{d['activation']} / {d['norm']} / {d['color_space']}\nMAE {mae:.2f}"


def comparison_image(runs: Sequence[Run], images: torch.Tensor, scale: int = 4) -> Image.Image:
    """Rows: original, grayscale, then each run's colorization of the same `images`; labels on the left."""
    rgb = images.float() / 255.0
    rows, labels = [], []
    with torch.no_grad():
        for run in runs:
            generator, space = _load_generator(run.checkpoint())
            original, gray, prediction = comparison_rows(rgb, space, generator)
            if not rows:
                rows, labels = [original, gray], ["original", "grayscale input"]
            rows.append(prediction)
            labels.append(_label(run))
    grid = make_grid(rows, scale)
    canvas = Image.new("RGB", (LABEL_WIDTH + grid.shape[1], grid.shape[0]), "white")
    canvas.paste(Image.fromarray(grid), (LABEL_WIDTH, 0))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=13)
    row_height = (grid.shape[0] - 2) // len(rows)
    for index, text in enumerate(labels):
        draw.multiline_text((6, 2 + index * row_height + 6), text, fill="black", font=font, spacing=3)
    return canvas


# -- the command ---------------------------------------------------------------------------------


def write_report(folders: Sequence[str | Path], out: Path, sort_by: str = "mae", num_images: int = 8,
                 scale: int = 4, data_dir: str | None = None) -> tuple[Path, Path | None]:
    """Find the runs under `folders`, write out/report.md and out/comparison.png; returns their paths."""
    runs = find_runs(folders)
    if not runs:
        raise ReportError(
            f"No colorgan run under {', '.join(map(str, folders))}: no folder there holds a config.yaml or .hydra/. "
            "Pass run directories (logs/runs/NAME/TIME) or sweep directories (logs/sweeps/NAME/TIME)."
        )
    finished = sort_runs([r for r in runs if r.finished], sort_by)
    without_results = [r for r in runs if not r.finished]
    if not finished:
        reasons = "\n".join(f"  {r.path}: {r.problem()}" for r in without_results)
        raise ReportError(f"None of the {len(runs)} runs found has finished (no test_metrics.json):\n{reasons}")
    out.mkdir(parents=True, exist_ok=True)
    pictured = [r for r in finished if r.checkpoint() is not None]
    missing = [r for r in finished if r.checkpoint() is None]
    note = None
    if missing:
        note = "Not in comparison.png (no checkpoint): " + ", ".join(f"`{r.path.name}`" for r in missing) + "."
    image_path = None
    if pictured:
        images = test_images(pictured[0], num_images, data_dir)
        image_path = out / "comparison.png"
        comparison_image(pictured, images, scale).save(image_path)
    report_path = out / "report.md"
    report_path.write_text(render_markdown(finished, without_results, sort_by, note))
    return report_path, image_path


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
    out = args.out or (Path(args.folders[0]) if len(args.folders) == 1 else Path("report"))
    try:
        report_path, image_path = write_report(args.folders, out, args.sort, args.images, args.scale, args.data_dir)
    except (ReportError, FileNotFoundError) as err:
        print(f"colorgan.report: {err}", file=sys.stderr)
        return 1
    except DatasetError as err:
        print(f"colorgan.report: cannot load the test images for comparison.png: {err} "
              "Or pass --data-dir.", file=sys.stderr)
        return 1
    print(report_path.read_text())
    print(f"Wrote {report_path}" + (f" and {image_path}" if image_path else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
