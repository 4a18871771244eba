"""The trade-off between colour and being right, one point per model, as issue 36 asks where no one
model meets every target ("show the frontier"): colourfulness against the semantic test's agreement
(left) and against false colour (right), on one test set, with the gray input, the truth's
colourfulness and the targets drawn in:

    python -m colorgan.report.frontier rt/shipped:shipped rt/vivid:"hints + charge" -o docs/photos/study4/frontier.png

Each run is a folder holding the test_metrics.json that `python -m colorgan.retest` (or a trained
run's test) wrote; the text after a colon labels its point, whose label also gives its MAE.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from colorgan.errors import UserError, user_command  # noqa: E402
from colorgan.runs.run_dir import TEST_METRICS  # noqa: E402
from colorgan.system.atomic_io import write_figure  # noqa: E402

COLOUR_TARGET = 0.7  # issue 36: colourfulness at least 70% of the truth's
FALSE_COLOUR_TARGET = 3.0  # and false colour at most 3%
MARKERS = ("o", "^", "D", "v")
KEYS = ("colorfulness", "colorfulness_true", "agree", "false_color", "mae")


def read_point(spec: str) -> tuple[str, dict[str, float], dict[str, float]]:
    """'folder[:label]' -> (label, the model's test metrics, the gray input's), each by KEYS."""
    folder, _, label = spec.partition(":")
    path = Path(folder) / TEST_METRICS
    try:
        metrics = json.loads(path.read_text())
        model = {k: float(metrics[f"test/{k}"]) for k in KEYS}
        gray = {k: float(metrics[f"test_baseline/{k}"]) for k in KEYS}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"{path}: not a test_metrics.json with the semantic test "
                        f"(python -m colorgan.retest writes one; {type(err).__name__}: {err})") from None
    return label or Path(folder).name, model, gray


@user_command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.report.frontier", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="retest or run folders, each optionally :LABEL")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the figure (PNG)")
    args = parser.parse_args(argv)
    points = [read_point(spec) for spec in args.runs]
    truth = points[0][1]["colorfulness_true"]
    for label, model, _ in points:
        if abs(model["colorfulness_true"] - truth) > 1e-3 * max(1.0, truth):
            raise UserError(f"{label}: tested on other photos than {points[0][0]} (the truth's colourfulness "
                            f"{model['colorfulness_true']:.2f} against {truth:.2f}): give retests of one test set")
    gray = points[0][2]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    for i, (label, model, _) in enumerate(points):
        text = f"{label} (MAE {model['mae']:.2f})"
        style = {"color": f"C{i % 10}", "marker": MARKERS[i // 10 % len(MARKERS)], "zorder": 3}  # 10 colours, then a new shape
        left.scatter(model["colorfulness"], model["agree"], label=text, **style)
        right.scatter(model["colorfulness"], model["false_color"], **style)
    left.scatter(0.0, gray["agree"], color="gray", marker="s", label=f"gray input (MAE {gray['mae']:.2f})", zorder=3)
    left.axhline(gray["agree"], color="gray", linestyle=":")
    right.scatter(0.0, gray["false_color"], color="gray", marker="s", zorder=3)
    left.axhline(gray["agree"] + (100.0 - gray["agree"]) / 2, color="green", linestyle="--",
                 label="target: half the way from gray's agreement to the original's")
    right.axhline(FALSE_COLOUR_TARGET, color="green", linestyle="--", label=f"target: at most {FALSE_COLOUR_TARGET:g}%")
    for axis in (left, right):
        axis.axvline(truth, color="black", linestyle=":", label=f"the truth's colourfulness ({truth:.1f})")
        axis.axvspan(COLOUR_TARGET * truth, truth * 1.05, color="green", alpha=0.08,
                     label=f"target: at least {COLOUR_TARGET:.0%} of the truth's")
        axis.set_xlabel("colourfulness (Hasler and Suesstrunk)")
        axis.grid(alpha=0.3)
    left.set_ylabel("semantic agreement with the original (%)")
    right.set_ylabel("false colour (% of pixels)")
    left.legend(fontsize=7, loc="upper left")
    right.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    write_figure(figure, args.output)
    print(f"wrote {args.output}: {len(points)} models on one test set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
