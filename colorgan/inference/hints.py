"""Colour hints a user gives: a point of the photo and the colour it should be (Zhang et al. 2017's
local hints). The command (`--hint X,Y,COLOUR`, `--hints file.json`), the Python engine and the page
all take them as `Hint` values, checked here, and a hint model reads them as a hint map at its
working resolution (colorgan.nets.hint_unet's layout): only the colour's ab is used, the photo keeps
its own lightness.

    [{"x": 120, "y": 80, "colour": "red"}, {"x": 30, "y": 200, "colour": "#2a5caa"}]   (a --hints file)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import ImageColor

from colorgan.errors import UserError
from colorgan.inference.gamut import LAB
from colorgan.nets.hint_unet import hint_map

HINT_PATCH = 3  # a hint covers this many working-resolution pixels a side (training's patches: 1 to 9)
COLOUR_FORMS = "#rrggbb, #rgb or a CSS colour name (red, navy, rebeccapurple, ...)"


class HintError(UserError, ValueError):
    """A hint that cannot be used: malformed, outside the photo, or given to a model without hint inputs."""


@dataclass(frozen=True)
class Hint:
    """The colour a point of the photo should have: x, y in the photo's pixels (0, 0 the top-left
    pixel), rgb three 0-255 values. Only the colour's hue and saturation (Lab ab) are used."""

    x: float
    y: float
    rgb: tuple[int, int, int]

    def ab(self) -> torch.Tensor:
        """The colour's Lab ab (2,), in ColorSpace("lab") scaling (as a hint map holds it)."""
        rgb = torch.tensor(self.rgb, dtype=torch.float32).view(1, 3, 1, 1) / 255.0
        return LAB.split(rgb)[1].view(2)


def parse_colour(text: str) -> tuple[int, int, int]:
    """'#rrggbb', '#rgb' or a CSS name -> (r, g, b) 0-255; a HintError says what is expected."""
    try:
        rgb = ImageColor.getrgb(text.strip())
    except ValueError:
        raise HintError(f"colour {text!r} is not a colour: give {COLOUR_FORMS}.") from None
    return tuple(int(v) for v in rgb[:3])


def parse_hint(text: str) -> Hint:
    """'X,Y,COLOUR' (the command's --hint) -> a Hint."""
    parts = text.split(",", 2)
    if len(parts) != 3:
        raise HintError(f"--hint {text!r} is not X,Y,COLOUR: give the point in the photo's pixels and its colour, "
                        "e.g. --hint 120,80,red or --hint 120,80,#c0392b.")
    try:
        x, y = float(parts[0]), float(parts[1])
    except ValueError:
        raise HintError(f"--hint {text!r}: X and Y must be numbers (pixels from the photo's left and top).") from None
    return Hint(x, y, parse_colour(parts[2]))


def read_hints_file(path: str | Path) -> list[Hint]:
    """A --hints file: a JSON list of {"x": X, "y": Y, "colour": COLOUR} ("color" also), or
    {"hints": [...]}."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise HintError(f"cannot read the hints file {path}: {err.strerror or err}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise HintError(f"the hints file {path} is not JSON ({err}).") from None
    items = data.get("hints") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise HintError(f"the hints file {path} must hold a list of {{\"x\": X, \"y\": Y, \"colour\": COLOUR}} "
                        "objects (or {\"hints\": [...]}).")
    hints = []
    for i, item in enumerate(items):
        colour = item.get("colour", item.get("color")) if isinstance(item, dict) else None
        numbers = isinstance(item, dict) and all(
            isinstance(item.get(k), int | float) and not isinstance(item.get(k), bool) for k in "xy")
        if not numbers or not isinstance(colour, str):
            raise HintError(f"the hints file {path}: hint {i + 1} is not {{\"x\": X, \"y\": Y, \"colour\": COLOUR}} "
                            f"with numbers X, Y and a colour ({COLOUR_FORMS}); it is {json.dumps(item)}.")
        try:
            hints.append(Hint(float(item["x"]), float(item["y"]), parse_colour(colour)))
        except HintError as err:
            raise HintError(f"the hints file {path}: hint {i + 1}: {err}") from None
    return hints


def check_inside(hints: Iterable[Hint], width: int, height: int, name: str | Path = "the photo") -> None:
    """A HintError naming the first hint outside a width x height photo."""
    for hint in hints:
        if not (0 <= hint.x < width and 0 <= hint.y < height):
            raise HintError(f"hint at {hint.x:g},{hint.y:g} is outside {name} ({width}x{height}: x from 0 to "
                            f"{width - 1}, y from 0 to {height - 1}).")


def render_hints(hints: Sequence[Hint], photo_size: tuple[int, int], shape: tuple[int, int]) -> torch.Tensor:
    """The hint map (3, h, w) at a working shape (h, w) of a photo of `photo_size` (width, height):
    each hint's ab on a HINT_PATCH-wide square around its point, the mask 1 there. A later hint on
    the same pixels wins."""
    height, width = shape
    ab, mask = torch.zeros(1, 2, height, width), torch.zeros(1, 1, height, width)
    half = HINT_PATCH // 2
    for hint in hints:
        col = min(width - 1, int((hint.x + 0.5) * width / photo_size[0]))
        row = min(height - 1, int((hint.y + 0.5) * height / photo_size[1]))
        rows, cols = slice(max(0, row - half), row + half + 1), slice(max(0, col - half), col + half + 1)
        ab[0, :, rows, cols] = hint.ab().view(2, 1, 1)
        mask[0, :, rows, cols] = 1.0
    return hint_map(ab, mask)[0]
