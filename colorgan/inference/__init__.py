"""Colorize photos of any size with a trained generator: `Colorizer.from_checkpoint(path)(image)`, or
the shipped photo colorizer: `Colorizer.pretrained()(image)`.

The network sees the photo at a small working resolution (by default the size it was trained on)
and predicts only colour: Lab ab, or for RGB models the ab of its RGB prediction. That colour is
upsampled to the photo's size and merged with the photo's own full-resolution L, so the result is
exactly as sharp as the input and its lightness is the input's. Colours that the merge would push
out of the sRGB gamut are desaturated (at constant L) until they fit, instead of being clipped.

colorizer.py holds Colorizer (one photo, any size), gamut.py the merge inside sRGB, engine.py
the engine the colorize command and the page run over files (ColorizeEngine, ColorizeOptions),
hints.py a user's colour hints (Hint) for a hint model.
"""

from colorgan.inference.colorizer import (
    Colorizer,
    DeviceError,
    TemperatureError,
    WorkingResolutionColorizer,
    best_device,
    open_colorizer,
    row_bands,
    set_temperature,
    shrink_photo,
    upsample_rows,
    working_shape,
)
from colorgan.inference.engine import ColorizeEngine, ColorizeOptions, find_inputs
from colorgan.inference.gamut import GAMUT_MODES, LAB, merge_in_gamut, merge_in_gamut_dense
from colorgan.inference.hints import Hint, HintError, parse_hint, read_hints_file
from colorgan.nets.color_net import ColorNet

__all__ = [
    "GAMUT_MODES", "LAB", "ColorNet", "ColorizeEngine", "ColorizeOptions", "Colorizer", "DeviceError", "Hint",
    "HintError", "TemperatureError", "parse_hint", "read_hints_file", "WorkingResolutionColorizer", "best_device", "find_inputs", "merge_in_gamut",
    "merge_in_gamut_dense", "open_colorizer", "row_bands", "set_temperature", "shrink_photo", "upsample_rows",
    "working_shape",
]
