"""Colour hints (docs/hints.md): the hint model starts as the automatic model it is warm-started from,
simulated users follow their settings, a trained tiny hint model moves the colour at a hint towards
it, and hints reach it from the command and from Python, each bad hint one line and exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers.hints import patchwork
from PIL import Image

from colorgan.color_space import LAB, ColorSpace
from colorgan.colorize import main
from colorgan.inference import ColorizeEngine, ColorizeOptions, Colorizer, Hint, HintError, parse_hint, read_hints_file
from colorgan.models.simulated_user import SimulatedUser
from colorgan.nets.generators import build_generator
from colorgan.nets.layers import init_weights
from colorgan.pretrained import base_model_dir, verified_weights
from colorgan.runs.checkpoint_io import load_generator, load_generator_weights

RED, GREEN, BLUE = (200, 40, 40), (40, 160, 40), (40, 60, 200)


def ab_at(image: Image.Image, x: int, y: int) -> torch.Tensor:
    rgb = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)[None].float() / 255
    return LAB.split(rgb)[1][0, :, y, x]


# -- the network ---------------------------------------------------------------------------------
def test_a_hint_model_warm_started_from_the_base_model_is_that_model_until_its_branches_learn(one_thread):
    shipped = load_generator(verified_weights(base_model_dir()))  # photo_hints' warm start: ${base_model:}
    settings = {**shipped.hyper_parameters["generator"], "kind": "hint_unet"}
    net = build_generator(1, 2, settings)
    init_weights(net, "normal")  # as every colorizer module does: the zero branches keep their zeros
    load_generator_weights(net, verified_weights(base_model_dir()), ColorSpace("lab"), settings)
    net.eval()
    gray = torch.rand(2, 1, 64, 96) * 2 - 1
    hints = torch.zeros(2, 3, 64, 96)
    hints[:, 0, 30:33, 40:43], hints[:, 2, 30:33, 40:43] = 0.5, 1.0  # a red-ish point
    with torch.no_grad():
        automatic = shipped.generator(gray)
        assert torch.equal(net(gray), automatic) and torch.equal(net(gray, hints), automatic)
        for branch in net.hint_branches:  # once its branches have weights, a hint reaches the output
            torch.nn.init.normal_(branch[2].weight, std=0.1)
        assert torch.equal(net(gray), automatic)  # and no hint still adds nothing
        assert (net(gray, hints) - automatic).abs().amax() > 1e-3


# -- simulated users -----------------------------------------------------------------------------
def test_simulated_users_point_counts_follow_their_settings():
    user = SimulatedUser(p_none=0.3, geometric_p=0.2, max_points=25)
    counts = user.point_counts(20_000, torch.Generator().manual_seed(0))
    none = (counts == 0).float().mean()
    assert abs(none - 0.3) < 0.015
    given = counts[counts > 0].float()
    assert abs(given.mean() - 1 / 0.2) < 0.15  # 1 + Geometric(0.2): mean 5 (the cap at 25 trims a little)
    assert given.min() == 1 and counts.max() == 25 and (counts == 25).any()
    assert abs((given == 1).float().mean() - 0.2) < 0.015  # P(one point) = p
    assert (SimulatedUser(p_none=1.0).point_counts(100) == 0).all()
    with pytest.raises(ValueError, match="geometric_p"):
        SimulatedUser(geometric_p=0.0)


def test_simulated_users_reveal_the_mean_colour_of_patches_of_their_sizes():
    ab = torch.rand(64, 2, 40, 48) * 2 - 1
    for side in (1, 5, 9):
        user = SimulatedUser(patch_sizes=[side])
        hints = user(ab, counts=torch.ones(64, dtype=torch.long), generator=torch.Generator().manual_seed(side))
        mask = hints[:, 2]
        assert (mask.sum(dim=(-2, -1)) == side * side).all()  # one square patch of that side per photo
        for photo in range(4):
            rows, cols = mask[photo].nonzero(as_tuple=True)
            assert rows.max() - rows.min() + 1 == side and cols.max() - cols.min() + 1 == side
            patch = ab[photo, :, rows.min():rows.max() + 1, cols.min():cols.max() + 1]
            torch.testing.assert_close(hints[photo, :2, rows[0], cols[0]], patch.mean(dim=(-2, -1)))
    sizes = SimulatedUser(patch_sizes=[3, 7])(ab, counts=torch.ones(64, dtype=torch.long))[:, 2].sum(dim=(-2, -1))
    assert set(sizes.tolist()) == {9.0, 49.0}
    assert (SimulatedUser()(ab, counts=torch.zeros(64, dtype=torch.long)) == 0).all()


# -- a trained tiny hint model -------------------------------------------------------------------
def test_a_hint_moves_the_colour_at_its_point_towards_its_colour(tiny_hint_checkpoint, one_thread):
    """The tiny hint model (tests/helpers/hints.py: 40 batches of flat-colour patchworks whose gray
    says nothing of their colours) through the Python API: each hint brings the colour at its
    point much nearer its own; without hints the output is the automatic one."""
    colorizer = Colorizer.from_checkpoint(tiny_hint_checkpoint, device="cpu")
    assert colorizer.takes_hints
    photo = Image.fromarray(patchwork(1000))
    automatic = colorizer(photo)
    assert np.array_equal(np.asarray(colorizer(photo, [])), np.asarray(automatic))
    for colour in (RED, GREEN, BLUE):
        hint = Hint(16, 16, colour)
        before = (ab_at(automatic, 16, 16) - hint.ab()).norm()
        after = (ab_at(colorizer(photo, [hint]), 16, 16) - hint.ab()).norm()
        assert after < before - 0.15, (colour, before, after)


# -- hints from the user -------------------------------------------------------------------------
def test_hints_parse_from_the_command_and_a_file(tmp_path):
    assert parse_hint("12,30,red") == Hint(12.0, 30.0, (255, 0, 0))
    assert parse_hint("0.5,7,#2a5caa") == Hint(0.5, 7.0, (42, 92, 170))
    assert parse_hint("1,2,rgb(1,2,3)").rgb == (1, 2, 3)  # commas in the colour stay the colour's
    path = tmp_path / "hints.json"
    path.write_text(json.dumps([{"x": 3, "y": 4, "colour": "navy"}, {"x": 5.5, "y": 0, "color": "#fff"}]))
    assert read_hints_file(path) == [Hint(3.0, 4.0, (0, 0, 128)), Hint(5.5, 0.0, (255, 255, 255))]
    path.write_text(json.dumps({"hints": [{"x": 1, "y": 1, "colour": "gold"}]}))
    assert read_hints_file(path) == [Hint(1.0, 1.0, (255, 215, 0))]


@pytest.mark.parametrize(("args", "said"), [
    (["--hint", "10,10,reddish"], "colour 'reddish' is not a colour: give #rrggbb"),
    (["--hint", "10,red"], "is not X,Y,COLOUR"),
    (["--hint", "ten,10,red"], "X and Y must be numbers"),
    (["--hint", "64,10,red"], "hint at 64,10 is outside"),
    (["--hint", "10,-1,red"], "hint at 10,-1 is outside"),
    (["--hints", "{file}:not json"], "is not JSON"),
    (["--hints", "{file}:[{\"x\": 1, \"colour\": \"red\"}]"], "hint 1 is not {\"x\": X, \"y\": Y"),
    (["--hints", "{file}:[{\"x\": 1, \"y\": 2, \"colour\": \"nope\"}]"], "hint 1: colour 'nope' is not a colour"),
    (["--hints", "{file}:{\"points\": []}"], "must hold a list"),
    (["--hints", "{missing}"], "cannot read the hints file"),
], ids=["colour", "form", "number", "outside-x", "outside-y", "json", "keys", "file-colour", "shape", "missing"])
def test_bad_hints_get_one_line_exit_2_and_nothing_written(args, said, tiny_hint_checkpoint, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.fromarray(patchwork(7)).save(photo)
    if args[0] == "--hints":
        hints_file = tmp_path / "hints.json"
        if args[1].startswith("{file}:"):
            hints_file.write_text(args[1].removeprefix("{file}:"))
        args = ["--hints", str(hints_file)]
    out = tmp_path / "out"
    code = main([str(tiny_hint_checkpoint), str(photo), "-o", str(out), "--device", "cpu", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0], err
    assert not out.exists()


def test_hints_for_a_model_without_hint_inputs_or_for_several_photos_exit_2(tiny_checkpoint, tiny_hint_checkpoint,
                                                                             tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.fromarray(patchwork(7)).save(photo)
    code = main([str(tiny_checkpoint()), str(photo), "-o", str(tmp_path / "out"), "--hint", "3,3,red"])
    err = capsys.readouterr().err
    assert code == 2 and "this model takes no colour hints" in err and len(err.strip().splitlines()) == 1
    code = main([str(tiny_hint_checkpoint), str(photo), str(photo), "-o", str(tmp_path / "out"), "--hint", "3,3,red"])
    err = capsys.readouterr().err
    assert code == 2 and "give one photo with --hint" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(HintError, match="takes no colour hints"):  # the Python engine says the same
        ColorizeEngine(Colorizer.from_checkpoint(tiny_checkpoint(), device="cpu"),
                       ColorizeOptions(hints=(Hint(1, 1, RED),)), print)


def test_the_command_colours_a_photo_after_its_hints(tiny_hint_checkpoint, tmp_path, capsys):
    """--hint and --hints give the same photo as Colorizer with the same Hint values, and it is not the
    automatic one."""
    photo = tmp_path / "photo.png"
    Image.fromarray(patchwork(1001)).save(photo)
    hints_file = tmp_path / "hints.json"
    hints_file.write_text(json.dumps([{"x": 48, "y": 48, "colour": "#2838c8"}]))
    args = [str(tiny_hint_checkpoint), str(photo), "--device", "cpu"]
    assert main([*args, "-o", str(tmp_path / "a"), "--hint", "16,16,red", "--hints", str(hints_file)]) == 0
    assert main([*args, "-o", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    hinted, automatic = Image.open(tmp_path / "a" / "photo.png"), Image.open(tmp_path / "b" / "photo.png")
    expected = Colorizer.from_checkpoint(tiny_hint_checkpoint, device="cpu")(photo, [Hint(16, 16, (255, 0, 0)),
                                                                                    Hint(48, 48, (40, 56, 200))])
    assert np.array_equal(np.asarray(hinted), np.asarray(expected))
    assert not np.array_equal(np.asarray(hinted), np.asarray(automatic))


def test_the_shipped_model_takes_hints_and_the_experiments_start_from_the_base_model(tmp_path, capsys):
    """photo.pt is the hint model (no hint: the automatic colorizer); base/ is the automatic
    photo_lite_unet it was fine-tuned from, the photo experiments' ${base_model:}."""
    from omegaconf import OmegaConf

    from colorgan.pretrained.bundle import register_config_resolver

    shipped = Colorizer.pretrained(device="cpu")
    assert shipped.takes_hints
    base = load_generator(verified_weights(base_model_dir()))
    assert base.hyper_parameters["generator"].get("kind") != "hint_unet"
    register_config_resolver()
    config = OmegaConf.create({"base": "${base_model:}", "shipped": "${shipped_model:}"})
    assert config.base == str(verified_weights(base_model_dir())) and config.shipped == str(verified_weights())
    photo = tmp_path / "photo.png"
    Image.fromarray(patchwork(1005)).save(photo)
    assert main([str(photo), "-o", str(tmp_path / "out"), "--hint", "16,16,red", "--device", "cpu"]) == 0
    capsys.readouterr()
    expected = shipped(photo, [Hint(16, 16, (255, 0, 0))])
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "photo.png")), np.asarray(expected))
