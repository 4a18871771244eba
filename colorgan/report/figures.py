"""The report's figures, drawn from what runs left on disk: `comparison.png` (the same test images
colorized by every run) and `learning_curves.png` (validation MAE and colorfulness per epoch)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from colorgan.image_io import comparison_rows, make_grid
from colorgan.runs.checkpoint_io import load_generator
from colorgan.runs.run_dir import METRICS_CSV, Run
from colorgan.system.atomic_io import write_figure

LABEL_WIDTH = 200  # pixels of the label column in comparison.png
CURVES = (("val/mae", "validation MAE (0-255) ↓", "val_baseline/mae", "grayscale input"),
          ("val/colorfulness", "validation colorfulness", "val/colorfulness_true", "true images"))


def comparison_image(runs: Sequence[Run], images: torch.Tensor, label: Callable[[Run], str],
                     scale: int = 4) -> Image.Image:
    """Rows: original, grayscale, then each run's colorization of the same `images` (N, 3, H, W)
    uint8; `label(run)` is the text left of its row."""
    rgb = images.float() / 255.0
    rows, labels = [], []
    with torch.no_grad():
        for run in runs:
            loaded = load_generator(run.checkpoint())
            original, gray, prediction = comparison_rows(rgb, loaded.color_space, loaded.generator)
            if not rows:
                rows, labels = [original, gray], ["original", "grayscale input"]
            rows.append(prediction)
            labels.append(label(run))
    grid = make_grid(rows, scale)
    canvas = Image.new("RGB", (LABEL_WIDTH + grid.shape[1], grid.shape[0]), "white")
    canvas.paste(Image.fromarray(grid), (LABEL_WIDTH, 0))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=13)
    row_height = (grid.shape[0] - 2) // len(rows)
    for index, text in enumerate(labels):
        draw.multiline_text((6, 2 + index * row_height + 6), text, fill="black", font=font, spacing=3)
    return canvas


def validation_curves(run: Run) -> dict[str, list[tuple[int, float]]]:
    """{metric: [(epoch, value), ...]} of a run's csv/metrics.csv; epochs counted from 1, as people do.
    A resumed run's rows continue the same file; the last value logged for an epoch wins."""
    path = run.path / METRICS_CSV
    if not path.is_file():
        return {}
    per_epoch: dict[str, dict[int, float]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if not row.get("epoch"):
                continue
            epoch = int(float(row["epoch"])) + 1
            for key, value in row.items():
                if key.startswith("val") and value not in ("", None):
                    per_epoch.setdefault(key, {})[epoch] = float(value)
    return {key: sorted(values.items()) for key, values in per_epoch.items()}


def learning_curves(runs: Sequence[Run], label: Callable[[Run], str], path: Path) -> Path | None:
    """learning_curves.png: validation MAE and colorfulness per epoch of every run, with the
    grayscale input's MAE and the true images' colorfulness as dashed references. None when no
    run logged validation metrics to csv/metrics.csv (e.g. trained with logger=wandb only)."""
    curves = {run.path: validation_curves(run) for run in runs}
    if not any(curves.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(CURVES), figsize=(6 * len(CURVES), 4.2))
    for ax, (key, title, reference_key, reference_label) in zip(axes, CURVES, strict=True):
        reference = None
        for run in runs:
            points = curves[run.path].get(key)
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", markersize=3, label=label(run).replace("\n", " "))
            reference = reference or curves[run.path].get(reference_key)
        if reference:
            ax.axhline(reference[-1][1], color="gray", linestyle="--", label=reference_label)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    write_figure(fig, path)
    return path
