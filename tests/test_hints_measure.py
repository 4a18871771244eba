"""`python -m colorgan.hints` (colorgan/hints/measure.py) on the tiny hint model: the table of
random-hint counts and the "user" test, and where the user test puts its hints."""

from __future__ import annotations

import json

import torch
from helpers.hints import patchwork
from PIL import Image

from colorgan.hints.__main__ import main
from colorgan.hints.measure import REGION_CELL, measure_photo, user_hints
from colorgan.image_io import read_photo
from colorgan.inference import Colorizer


def test_the_user_test_puts_hints_in_the_largest_wrong_regions_with_the_originals_colour():
    true_ab = torch.zeros(2, 64, 64)
    true_ab[0, 8:40, 8:40] = 0.5   # a large region the prediction misses
    true_ab[1, 48:56, 48:60] = -0.4  # a smaller one
    predicted = torch.zeros_like(true_ab)
    one = user_hints(predicted, true_ab, 1)
    rows, cols = one[2].nonzero(as_tuple=True)
    assert 8 <= rows.min() and rows.max() < 40 and 8 <= cols.min() and cols.max() < 40  # inside the large region
    torch.testing.assert_close(one[:2, rows, cols], true_ab[:, rows, cols])
    two = user_hints(predicted, true_ab, 2)
    rows, _ = two[2].nonzero(as_tuple=True)
    assert (rows >= 48).any() and two[1][two[2] > 0].min() < -0.3  # and then in the smaller one
    assert user_hints(true_ab, true_ab, 5).abs().sum() == 0  # nothing wrong, no hint
    assert REGION_CELL <= 8


def test_the_user_test_places_its_hints_from_the_automatic_output(tiny_hint_checkpoint, tmp_path, one_thread):
    # the user's hints go where the output with no hints is wrong, whatever random counts ran before
    path = tmp_path / "p.png"
    Image.fromarray(patchwork(2100)).save(path)
    colorizer, photo = Colorizer.from_checkpoint(tiny_hint_checkpoint, device="cpu"), read_photo(path)
    for edges in (True, False):
        alone = measure_photo(colorizer, photo, 0, (), (1, 3), hint_edges=edges)
        after = measure_photo(colorizer, photo, 0, (0, 50), (1, 3), hint_edges=edges)
        assert list(alone) == ["random 0", "user 1", "user 3"]
        assert after["random 50"] != after["random 0"]
        for name in ("random 0", "user 1", "user 3"):
            assert after[name] == alone[name]


def test_the_command_measures_hints_against_their_number(tiny_hint_checkpoint, tmp_path, one_thread, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(patchwork(2000 + i)).save(photos / f"p{i}.png")
    Image.new("L", (64, 64), 90).save(photos / "gray.png")  # no colour: skipped, said
    out = tmp_path / "eval"
    assert main([str(tiny_hint_checkpoint), str(photos), "-o", str(out), "--device", "cpu", "--counts", "0,2,20",
                 "--user", "2"]) == 0
    captured = capsys.readouterr()
    assert "skipped: " in captured.err and "gray.png" in captured.err
    table = json.loads((out / "hints.json").read_text())["table"]
    assert list(table) == ["random 0", "random 2", "random 20", "user 1", "user 2"]
    assert all(row["photos"] == 3 for row in table.values())
    # the tiny model learnt to follow hints: 20 of them from the original beat none
    assert table["random 20"]["psnr"] > table["random 0"]["psnr"] + 0.5
    assert table["random 20"]["mae"] < table["random 0"]["mae"]
    assert table["random 0"]["baseline_psnr"] == table["random 20"]["baseline_psnr"]
    assert "| random 20 | 3 |" in (out / "hints.md").read_text() and "| user 2 | 3 |" in captured.out
    # the curve of the table, beside a second set's
    from colorgan.hints.figure import main as figure

    assert figure([f"{out / 'hints.json'}:patchworks", f"{out / 'hints.json'}", "-o", str(tmp_path / "curve.png")]) == 0
    with Image.open(tmp_path / "curve.png") as image:
        assert image.size == (1100, 440)
    assert figure([str(photos / "p0.png"), "-o", str(tmp_path / "bad.png")]) == 2
    assert "not a hints.json" in capsys.readouterr().err and not (tmp_path / "bad.png").exists()


def test_the_pictures_show_one_hint_more_each_ringed_in_its_colour(tiny_hint_checkpoint, tmp_path, one_thread, capsys):
    from colorgan.hints.pictures import main as pictures

    photo = tmp_path / "p.png"
    Image.fromarray(patchwork(3000)).save(photo)
    side = Image.open(photo).size[0]
    out = tmp_path / "fig.png"
    assert pictures([str(tiny_hint_checkpoint), str(photo), "--hint", "5,5,red", "--hint", f"{side - 6},{side - 6},blue",
                     "-o", str(out), "--device", "cpu"]) == 0
    with Image.open(out) as figure:  # original, gray, no hint, one, two
        assert figure.size == (2 + 5 * (side + 2), side + 4)
        pixels = figure.convert("RGB")
        ring = round(max(3, round(0.025 * side)))
        red = pixels.getpixel((2 + 3 * (side + 2) + 5 + ring, 2 + 5))  # the first hint's ring on the one-hint picture
        assert red[0] > 150 and red[2] < 100
    assert "5 pictures" in capsys.readouterr().out
    assert pictures([str(tiny_hint_checkpoint), str(photo), "--hint", "5,5,notacolour", "-o", str(out)]) == 2
