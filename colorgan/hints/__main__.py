"""Measure a hint model against the number of hints it is given (docs/hints.md):

    python -m colorgan.hints CHECKPOINT PHOTOS [-o OUT] [--size N] [--limit N] [--counts 0,1,2,5,10,20,50] [--user 5] [--hint-edges]

For each colour photo of PHOTOS (a folder, searched recursively): PSNR, MAE and the share of photos
beating the gray input's PSNR with 0, 1, 2, 5, ... random hints from the original (seeded, so two
runs agree), and the "user" test: 1 to --user hints at the centres of the largest wrong-colour
regions of the automatic output. Writes OUT/hints.json and OUT/hints.md (the table) and prints it.
"""

import argparse
import json
import sys
from pathlib import Path

from colorgan.errors import UserError, user_command
from colorgan.hints.measure import RANDOM_COUNTS, markdown_table, measure_folder
from colorgan.image_io import find_images
from colorgan.inference import open_colorizer
from colorgan.quiet import silence_library_noise
from colorgan.system.atomic_io import write_text


def counts(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of whole numbers such as 0,1,2,5") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError("hint counts are 0 or more")
    return values


@user_command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.hints", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a hint model's checkpoint (+experiment=photo_hints)")
    parser.add_argument("photos", type=Path, help="a folder of colour photos (the test split, the unlike set)")
    parser.add_argument("-o", "--output", type=Path, default=Path("hints_eval"), help="folder for hints.json and hints.md")
    parser.add_argument("--size", type=int, default=None, help="working size (default: the model's training size)")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    parser.add_argument("--limit", type=int, default=None, help="the first N photos only")
    parser.add_argument("--counts", type=counts, default=list(RANDOM_COUNTS), help="random hint counts (default 0,1,2,5,10,20,50)")
    parser.add_argument("--user", type=int, default=5, help="the user test's most hints (default 5; 0 leaves it out)")
    parser.add_argument("--hint-edges", action=argparse.BooleanOptionalAction, default=False,
                        help="stop the hints' colour at the photo's edges, as colorize --hint-edges does")
    args = parser.parse_args(argv)
    silence_library_noise()
    if not args.photos.is_dir():
        raise UserError(f"{args.photos} is not a folder of photos.")
    photos = find_images(args.photos)[: args.limit]
    if not photos:
        raise UserError(f"no image files in {args.photos}.")
    colorizer = open_colorizer(args.checkpoint, size=args.size, device=args.device)
    table, skipped = measure_folder(colorizer, photos, args.counts, range(1, args.user + 1), args.hint_edges)
    for line in skipped:
        print(f"skipped: {line}", file=sys.stderr)
    if not table:
        raise UserError(f"no colour photo in {args.photos} to measure hints on.")
    args.output.mkdir(parents=True, exist_ok=True)
    write_text(args.output / "hints.json", json.dumps({"checkpoint": str(args.checkpoint), "photos": str(args.photos),
                                                       "size": colorizer.size, "hint_edges": args.hint_edges, "table": table}, indent=2))
    text = markdown_table(table)
    write_text(args.output / "hints.md", text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
