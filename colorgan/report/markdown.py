"""The text of report.md (colorgan.report.write writes it): the seed's results table done right, one
row per run with the grayscale baseline, bootstrap intervals and paired differences that say which
differences are real, the share of images each run beats gray on, seed repeats, and the seed's own
numbers for reference. Reads only what runs wrote to disk (colorgan/runs/run_dir.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from colorgan.report.stats import RESAMPLES, Interval, mean_interval, paired_difference, share_better
from colorgan.runs.run_dir import Run


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
    Metric("false_color", "false colour (%) ↓", 2, False),
    # The semantic test (colorgan.nets.judge): % of photos whose judged class is the original's.
    Metric("agree", "semantic agreement (%) ↑", 1, True),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}

# The seed's table as its slides give it (/work/shared/seed/README.md): CIFAR-10, RGB, 15 epochs.
SEED_RESULTS = (
    ("CNN (U-Net)", 15, 0.012071, 0.556810),
    ("CNN (U-Net) (LeakyReLU)", 15, 0.012075, 0.556328),
    ("GAN (U-Net)", 15, 0.012059, 0.559959),
    ("GAN (U-Net) (LeakyReLU)", 15, 0.012037, 0.567164),
)


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
        if run.overrides is None:
            return []
        sets.append(run.overrides)
    common = set(sets[0]).intersection(*sets[1:]) if sets else set()
    return [o for o in sets[0] if o in common] if sets else []


def _on_cifar10(run: Run) -> bool:
    """Whether the run trained on CIFAR-10 (its config's data module), as the seed's study did."""
    target = OmegaConf.select(run.config, "data._target_", default="") if run.config is not None else ""
    return "cifar10" in str(target)


def _test_set(run: Run) -> tuple:
    """What a run was tested on: its data (module, CIFAR-10 folder or photo root) and how many test images
    (`trainer.limit_test_batches` changes it); the count is None for a run without per-image results."""
    data = OmegaConf.select(run.config, "data") if run.config is not None else None
    where = tuple(str(OmegaConf.select(data, key)) for key in ("_target_", "data_dir", "root")) if data is not None else ()
    per_image = run.per_image
    return (*where, len(per_image["mae"]) if per_image else None)


def _count(images: int | None) -> str:
    return "unknown" if images is None else f"{images:,}"


def render_markdown(runs: Sequence[Run], without_results: Sequence[Run], sort_by: str,
                    image_note: str | None = None, reasons: dict[Path, str] | None = None) -> str:
    """report.md: runs sorted by `sort_by`, one grayscale row per colour space, the bootstrap
    intervals and paired differences, seed repeats, the seed's numbers."""
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
    test_sets = {run.path: _test_set(run) for run in runs}
    several = len(set(test_sets.values())) > 1
    for space, test_set in sorted({(describe(r)["color_space"], test_sets[r.path]) for r in runs}, key=str):
        first = next(r for r in runs if describe(r)["color_space"] == space and test_sets[r.path] == test_set)
        label = "*grayscale input*" + (f" ({_count(test_set[-1])} test images)" if several else "")
        cells = [label, "—", "—", space, "—", "—"]
        lines.append("| " + " | ".join([*cells, *_metric_cells(first.test_metrics, "test_baseline"), "baseline"]) + " |")
    if several:  # e.g. a run tested on 500 images beside one tested on 10,000: a mean each, not comparable
        sizes = ", ".join(_count(n) for n in sorted({t[-1] for t in test_sets.values()}, key=lambda n: (n is None, n or 0)))
        lines += ["", f"**These runs were tested on {len(set(test_sets.values()))} different test sets** ({sizes} "
                  "images): compare a run only with the grayscale row of its own test set, and with runs tested on "
                  "the same one (the statistics below pair only runs scored on the same images)."]
    true_colorfulness = runs[0].test_metrics.get("test/colorfulness_true")
    if true_colorfulness is not None:
        lines += ["", f"Colorfulness (Hasler and Süsstrunk, 0-255 scale) of the true test images: {true_colorfulness:.2f}."]
    names = run_names(runs)
    lines += render_statistics(runs, names)
    lines += render_seed_repeats(runs, names)
    if without_results:
        lines += ["", "## Runs without results", ""]
        lines += [f"- `{run.path}`: {(reasons or {}).get(run.path) or run.problem()}" for run in without_results]
    if image_note:
        lines += ["", image_note]
    if not any(_on_cifar10(run) for run in runs):  # the seed's numbers are CIFAR-10's: no use beside photos
        return "\n".join([*lines, ""])
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


LEARNING_CURVES = "learning_curves.png"


# -- the statistics ------------------------------------------------------------------------------

STATS_METRICS = (("mae", "MAE", 2), ("psnr", "PSNR", 2), ("colorfulness", "colorfulness", 1),
                 ("false_color", "false colour (%)", 2), ("agree", "semantic agreement (%)", 1),
                 ("class_acc", "class accuracy (%)", 1))


def _has(columns: dict[str, list[float]], *keys: str) -> bool:
    """Whether a run's per-image file has these columns (runs made before a metric existed lack it)."""
    return all(key in columns for key in keys)


def run_names(runs: Sequence[Run]) -> dict[Path, str]:
    """A short name per run for tables and figures: model and colour space, and the seed where the
    same configuration was trained with several seeds."""
    names = {}
    for group, repeated in seed_groups(runs):
        for run in group:
            d = describe(run)
            names[run.path] = f"{d['model']} {d['color_space']}" + (
                f" seed {OmegaConf.select(run.config, 'seed')}" if repeated else "")
    taken = list(names.values())
    for path, name in names.items():  # runs that differ in something else: their directory says which
        if taken.count(name) > 1:
            names[path] = f"{name} ({path.name})"
    return names


def _interval_cell(interval: Interval, digits: int, paired: bool = False) -> str:
    text = f"{interval.mean:+.{digits}f}" if paired else f"{interval.mean:.{digits}f}"
    text += f" [{interval.low:.{digits}f}, {interval.high:.{digits}f}]"
    return text if not paired or interval.excludes_zero else text + " ≈"


def render_statistics(runs: Sequence[Run], names: dict[Path, str]) -> list[str]:
    """Each run's mean with its 95% bootstrap interval, and the paired difference of every two runs
    scored on the same test images (and of each run against its grayscale input)."""
    scored = [r for r in runs if r.per_image]
    if not scored:
        return []
    lines = [
        "",
        "## Which differences are real",
        "",
        f"Means over the test images with 95% percentile-bootstrap intervals ({RESAMPLES} resamples of the "
        "images). The intervals cover the choice of test images, not the randomness of training (seed "
        "repeats measure that).",
        "",
        "| run | images | " + " | ".join(f"{title} [95% CI]" for _, title, _ in STATS_METRICS) + " |",
        "|---|---|" + "---|" * len(STATS_METRICS),
    ]
    for run in scored:
        cells = [_interval_cell(mean_interval(run.per_image[key]), digits) if _has(run.per_image, key) else "—"
                 for key, _, digits in STATS_METRICS]
        lines.append(f"| {names[run.path]} | {len(run.per_image['mae'])} | " + " | ".join(cells) + " |")
    spaces = {}
    for run in scored:
        spaces.setdefault(describe(run)["color_space"], run)
    for space, run in spaces.items():
        cells = [_interval_cell(mean_interval(run.per_image[f"baseline_{key}"]), digits)
                 if _has(run.per_image, f"baseline_{key}") else "—" for key, _, digits in STATS_METRICS]
        lines.append(f"| *grayscale input* {space} | {len(run.per_image['mae'])} | " + " | ".join(cells) + " |")

    pairs = [(a, b, "") for i, a in enumerate(scored) for b in scored[i + 1:] if _same_images(a, b)]
    pairs += [(run, run, "baseline_") for run in scored]
    lines += [
        "",
        "Paired differences (first minus second) over the same images, with 95% bootstrap intervals; "
        "≈ marks an interval that holds 0: those two are not distinguishable on this test set.",
        "",
        "| first | second | " + " | ".join(f"Δ {title}" for _, title, _ in STATS_METRICS) + " |",
        "|---|---|" + "---|" * len(STATS_METRICS),
    ]
    for a, b, prefix in pairs:
        cells = [_interval_cell(paired_difference(a.per_image[key], b.per_image[prefix + key]), digits, paired=True)
                 if _has(a.per_image, key) and _has(b.per_image, prefix + key) else "—"
                 for key, _, digits in STATS_METRICS]
        second = "*grayscale input*" if prefix else names[b.path]
        lines.append(f"| {names[a.path]} | {second} | " + " | ".join(cells) + " |")
    return lines + render_wins(scored, names)


def render_wins(scored: Sequence[Run], names: dict[Path, str]) -> list[str]:
    """How often a run beats its grayscale input image by image: a mean can hide a model that is far
    better on a few images and worse on most."""
    keys = ("psnr", "baseline_psnr", "mae", "baseline_mae")
    scored = [r for r in scored if r.per_image and _has(r.per_image, *keys)]
    if not scored:
        return []
    lines = ["", "Share of the test images on which the run beats its grayscale input (%, 95% bootstrap intervals):",
             "", "| run | higher PSNR than gray | lower MAE than gray |", "|---|---|---|"]
    for run in scored:
        psnr, mae = (share_better(run.per_image[key], run.per_image[f"baseline_{key}"], METRIC_BY_KEY[key].higher_is_better)
                     for key in ("psnr", "mae"))
        lines.append(f"| {names[run.path]} | {_interval_cell(psnr, 1)} | {_interval_cell(mae, 1)} |")
    return lines


def _same_images(a: Run, b: Run) -> bool:
    """Scored on the same test images: the same data set and as many per-image rows."""
    data_a, data_b = (OmegaConf.select(r.config, "data") for r in (a, b))
    same_data = all(OmegaConf.select(data_a, k) == OmegaConf.select(data_b, k) for k in ("_target_", "data_dir", "root"))
    return same_data and len(a.per_image["mae"]) == len(b.per_image["mae"])


def _repeat_key(run: Run) -> str:
    """What a run would be without its seed (its model, data and training settings, not where it
    wrote): runs that share it are seed repeats."""
    cfg = OmegaConf.to_container(run.config, resolve=False)
    data = {k: v for k, v in (cfg.get("data") or {}).items() if k not in ("seed", "data_dir", "root")}
    trainer = {k: v for k, v in (cfg.get("trainer") or {}).items() if k != "default_root_dir"}
    return repr((run.experiment, cfg.get("model"), data, trainer))


def seed_groups(runs: Sequence[Run]) -> list[tuple[list[Run], bool]]:
    """Runs grouped by everything but their seed, each group with whether it holds several seeds."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(_repeat_key(run), []).append(run)
    return [(g, len({OmegaConf.select(r.config, "seed") for r in g}) > 1) for g in groups.values()]


def render_seed_repeats(runs: Sequence[Run], names: dict[Path, str]) -> list[str]:
    """Spread over seeds of the same configuration: the training's randomness, which the bootstrap
    intervals above do not cover."""
    repeated = [group for group, several in seed_groups(runs) if several]
    if not repeated:
        return []
    lines = ["", "## Seed repeats", "",
             "The same configuration trained with other seeds: mean ± standard deviation over seeds, and each seed's value.",
             "", "| model | seeds | " + " | ".join(title for _, title, _ in STATS_METRICS) + " |",
             "|---|---|" + "---|" * len(STATS_METRICS)]
    for group in repeated:
        cells = []
        for key, _, digits in STATS_METRICS:
            if any(f"test/{key}" not in r.test_metrics for r in group):
                cells.append("—")
                continue
            values = np.array([r.test_metrics[f"test/{key}"] for r in group])
            each = ", ".join(f"{v:.{digits}f}" for v in values)
            cells.append(f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f} ({each})")
        seeds = ", ".join(str(OmegaConf.select(r.config, "seed")) for r in group)
        name = names[group[0].path].rsplit(" seed ", 1)[0]
        lines.append(f"| {name} | {seeds} | " + " | ".join(cells) + " |")
    return lines
