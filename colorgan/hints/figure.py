"""The hint curve, as Zhang et al. 2017 drew theirs: PSNR against the number of hints, one line per
photo set (random hints, solid; the "user" test's hints, dashed), each set's gray input dotted:

    python -m colorgan.hints.figure unlike/hints.json:unlike test/hints.json:"test split" -o docs/hints/curve.png

Each JSON is what `python -m colorgan.hints` wrote; the text after a colon labels its lines.
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
from colorgan.system.atomic_io import write_figure  # noqa: E402


def read_table(spec: str) -> tuple[str, dict[str, dict[str, float]]]:
    """'path[:label]' -> (label, the table of `python -m colorgan.hints`)."""
    path, _, label = spec.partition(":")
    try:
        table = json.loads(Path(path).read_text())["table"]
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"{path}: not a hints.json of python -m colorgan.hints ({type(err).__name__}: {err})") from err
    return label or Path(path).parent.name, table


def series(table: dict[str, dict[str, float]], kind: str, key: str) -> tuple[list[int], list[float]]:
    """(hint counts, values of `key`) of the rows named 'KIND N', in order of N."""
    rows = sorted((int(name.split()[1]), row[key]) for name, row in table.items() if name.split()[0] == kind)
    return [n for n, _ in rows], [v for _, v in rows]


@user_command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.hints.figure", description=__doc__.split("\n\n")[0])
    parser.add_argument("tables", nargs="+", help="hints.json files, each optionally :LABEL")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the figure (PNG)")
    args = parser.parse_args(argv)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for i, spec in enumerate(args.tables):
        label, table = read_table(spec)
        colour = f"C{i}"
        for axis, key in ((left, "psnr"), (right, "beats_gray")):
            counts, values = series(table, "random", key)
            axis.plot([max(n, 0.5) for n in counts], values, "o-", color=colour, label=f"{label}: random hints")
            counts, values = series(table, "user", key)
            if counts:
                axis.plot(counts, values, "s--", color=colour, label=f"{label}: user test's hints")
        gray = table["random 0"]["baseline_psnr"]
        left.axhline(gray, color=colour, linestyle=":", label=f"{label}: gray input")
    for axis, title in ((left, "PSNR (dB)"), (right, "photos beating gray's PSNR (%)")):
        axis.set_xscale("log")
        axis.set_xticks([0.5, 1, 2, 5, 10, 20, 50], ["0", "1", "2", "5", "10", "20", "50"])
        axis.set_xlabel("hints per photo")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    left.legend(fontsize=7)
    figure.tight_layout()
    write_figure(figure, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
