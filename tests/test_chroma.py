"""The chroma knob (colorize --chroma, evaluate --chroma, the page's slider): a factor on the
predicted colour's saturation, for users who want a bolder or a safer colour than the model's."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image

from colorgan.colorize import main
from colorgan.inference import Colorizer
from colorgan.metrics import colorfulness

GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def chroma_of(path: Path) -> float:
    import torch

    rgb = torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    return float(colorfulness(rgb))


def test_chroma_scales_the_shipped_models_colour(tmp_path):
    photo = tmp_path / "hopper.jpg"
    Image.open(GRACE_HOPPER).convert("L").resize((128, 150)).save(photo)
    found = {}
    for chroma in ("0", "1", "1.6"):
        out = tmp_path / f"out{chroma}"
        assert main([str(photo), "-o", str(out), "--chroma", chroma]) == 0
        found[chroma] = chroma_of(next(out.glob("hopper*")))
    assert found["0"] < 0.5 < found["1"] < found["1.6"]  # gray, the model's, bolder


def test_a_bad_chroma_is_one_line_and_exit_2(tmp_path, capsys):
    photo = tmp_path / "hopper.jpg"
    Image.open(GRACE_HOPPER).convert("L").resize((64, 64)).save(photo)
    assert main([str(photo), "-o", str(tmp_path / "out"), "--chroma", "-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--chroma must be between 0" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_with_chroma_shares_the_network():
    colorizer = Colorizer.pretrained(device="cpu")
    bolder = colorizer.with_chroma(1.5)
    assert bolder.net is colorizer.net and bolder.chroma == 1.5 and colorizer.chroma == 1.0
    assert colorizer.with_chroma(None) is colorizer
