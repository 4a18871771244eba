"""A photo before and after its hints, one hint more per picture, each hint ringed in its colour:

    python -m colorgan.hints.pictures CHECKPOINT photo.jpg --hint 120,80,red --hint 30,200,navy -o hints.jpg

Pictures left to right: the original (when it has colour), the gray input, the model with no hint,
then with the first hint, the first two, and so on. So a figure shows where a hint's colour goes and
where it stops. The hints are typed as for colorize (`--hint X,Y,COLOUR`, in the photo's pixels).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from colorgan.errors import UserError, user_command
from colorgan.image_io import ImageReadError, make_grid, read_photo
from colorgan.inference import LAB, Hint, open_colorizer, parse_hint
from colorgan.inference.hint_edges import predict_hinted
from colorgan.system.atomic_io import atomic_path

RING = 0.025  # a hint's ring radius, as a share of the picture's longer side


def pictures(colorizer, photo, hints: list[Hint], hint_edges: bool = False) -> list[torch.Tensor]:
    """[original (if in colour), gray, no hint, first hint, first two, ...]: RGB (3, H, W) in [0, 1]."""
    rgb = photo.rgb
    shown = [] if photo.is_gray else [rgb]
    shown.append(LAB.gray_of(rgb[None])[0])
    working = colorizer.working_input(photo)
    for n in range(len(hints) + 1):
        hint_map = colorizer.working_hints(hints[:n], photo.size, working.shape[-2:])
        ab = predict_hinted(colorizer, [photo], [working], [hint_map], hint_edges)[0]
        shown.append(colorizer.apply_ab(rgb, ab))
    return shown


def ring_hints(figure: Image.Image, hints: list[Hint], first: int, size: tuple[int, int], pad: int = 2,
               rows: int = 1) -> None:
    """Ring each hint in its colour on the pictures that use it (picture `first` uses none), in each row."""
    width, height = size
    radius = max(3, round(RING * max(size)))
    draw = ImageDraw.Draw(figure)
    for row, column in itertools.product(range(rows), range(first + 1, first + 1 + len(hints))):
        left, top = pad + column * (width + pad), pad + row * (height + pad)
        for hint in hints[: column - first]:
            x, y = left + hint.x, top + hint.y
            draw.ellipse((x - radius - 1, y - radius - 1, x + radius + 1, y + radius + 1), outline="white", width=1)
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=hint.rgb, width=2)


@user_command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.hints.pictures", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a hint model's checkpoint (+experiment=photo_hints)")
    parser.add_argument("photo", type=Path)
    parser.add_argument("--hint", action="append", default=[], metavar="X,Y,COLOUR", required=True,
                        help="a hint, as colorize's; repeat for more (each adds a picture)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--hint-edges", action=argparse.BooleanOptionalAction, default=False,
                        help="stop the hints' colour at the photo's edges, as colorize --hint-edges does")
    parser.add_argument("--both", action="store_true",
                        help="two rows: the hint model's own spread, then with the hints stopped at edges")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the figure (JPEG when named .jpg, else PNG)")
    args = parser.parse_args(argv)
    hints = [parse_hint(text) for text in args.hint]
    colorizer = open_colorizer(args.checkpoint, device=args.device)
    colorizer.require_hint_model()
    try:
        photo = read_photo(args.photo)
    except ImageReadError as err:
        raise UserError(f"{args.photo}: {err}") from err
    rows = [torch.stack(pictures(colorizer, photo, hints, edges))
            for edges in ((False, True) if args.both else (args.hint_edges,))]
    figure = Image.fromarray(make_grid(rows))
    ring_hints(figure, hints, first=len(rows[0]) - len(hints) - 1, size=photo.size, rows=len(rows))
    jpeg = args.output.suffix.lower() in (".jpg", ".jpeg")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.output) as tmp:
        figure.save(tmp, format="JPEG" if jpeg else "PNG", **({"quality": 90} if jpeg else {}))
    print(f"wrote {args.output}: {len(rows[0])} pictures, the last with {len(hints)} hint(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
