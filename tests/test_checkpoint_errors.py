"""Every way a checkpoint can be unusable, through every command that reads one: one reader
(colorgan.runs.checkpoint_io), so one message per failure, with what to do; never a traceback, never
PyTorch's advice to load with weights_only=False, and a code-carrying file never runs."""

from __future__ import annotations

import random
import re

import pytest
import torch
from helpers.damage import flip_byte_in_largest_tensor
from helpers.data import synthetic_images
from PIL import Image
from test_checkpoint_io import RunsCode

from colorgan.colorize import main as colorize_main
from colorgan.errors import UserError
from colorgan.evaluate import main as evaluate_main
from colorgan.export import main as export_main
from colorgan.train import train

EXPECTED = {  # failure -> what every command says about it
    "missing": "not found",
    "truncated": "is truncated or corrupt",
    "damaged": "is damaged: record .* fails its CRC-32 check.* Use the intact .*best-epoch0.ckpt",
    "random_bytes": "is not a PyTorch checkpoint",
    "carries_code": "Refused to load .*could run code",
    "foreign": "not a colorgan colorizer checkpoint|not a Lightning training checkpoint",
    "wrong_architecture": "does not fit",
    "wrong_color_space": "(?s)does not fit.*(trained in rgb|color_space='rgb')",
}
INFERENCE = ["missing", "truncated", "damaged", "random_bytes", "carries_code", "foreign"]  # inference rebuilds any colorizer


@pytest.fixture(scope="module")
def bad(tiny_checkpoint, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_checkpoints")
    good = tiny_checkpoint("lab").read_bytes()
    (folder / "truncated.ckpt").write_bytes(good[: len(good) // 2])
    (folder / "random_bytes.ckpt").write_bytes(b"\x13" + random.Random(0).randbytes(4096))
    torch.save({"state_dict": {}, "payload": RunsCode(folder / "code_ran")}, folder / "carries_code.ckpt")
    torch.save(torch.nn.Linear(2, 2).state_dict(), folder / "foreign.ckpt")
    paths = {name: folder / f"{name}.ckpt" for name in EXPECTED}
    (folder / "run").mkdir()  # one byte flipped in last.ckpt, beside an intact copy of it
    (folder / "run" / "best-epoch0.ckpt").write_bytes(good)
    paths["damaged"] = flip_byte_in_largest_tensor(tiny_checkpoint("lab"), folder / "run" / "last.ckpt")
    paths["wrong_architecture"] = tiny_checkpoint("lab")  # a [8, 16, 32] U-Net, for a run of [8, 16, 32, 64]
    paths["wrong_color_space"] = tiny_checkpoint("rgb")  # for a Lab run
    yield paths
    assert not (folder / "code_ran").exists(), "a checkpoint's code ran"


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i, image in enumerate(synthetic_images(2)):
        Image.fromarray(image.transpose(1, 2, 0)).save(folder / f"{i}.png")
    return folder


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "weights_only=False" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return err


@pytest.mark.parametrize("failure", INFERENCE)
def test_inference_commands_say_the_same(failure, bad, photo_folder, tmp_path, capsys):
    path = str(bad[failure])
    assert colorize_main([path, str(photo_folder), "-o", str(tmp_path / "out")]) == 2
    said = [one_error_line(capsys)]
    assert export_main([path, "-o", str(tmp_path / "model.onnx")]) == 2
    said.append(one_error_line(capsys))
    with pytest.raises(SystemExit) as exited:
        evaluate_main([path, str(photo_folder), "--output", str(tmp_path / "eval.json")])
    assert exited.value.code == 2
    said.append(one_error_line(capsys))
    for text in said:
        assert re.search(EXPECTED[failure], text), text
    assert {text.removeprefix("error: ") for text in said} == {said[0].removeprefix("error: ")}  # word for word
    assert not (tmp_path / "out").exists() and not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize("failure", list(EXPECTED))
@pytest.mark.parametrize("how", ["ckpt_path", "resume", "generator_init"])
def test_training_entry_points_say_the_same(how, failure, bad, tiny_cfg):
    path = bad[failure]
    if how == "generator_init":
        cfg = tiny_cfg(f"model.generator_init={path}", "model.discriminator.channels=8", experiment="gan")
    else:
        cfg = tiny_cfg(f"{how}={path}")
    if failure == "wrong_architecture":
        cfg.model.generator.channels = [8, 16, 32, 64]
    with pytest.raises(UserError, match=EXPECTED[failure]) as raised:
        train(cfg)
    assert "weights_only=False" not in str(raised.value)


def test_retest_refuses_a_damaged_checkpoint(bad, tiny_checkpoint, tmp_path):
    from colorgan.retest import retest

    run_dir = tiny_checkpoint("lab").parents[1]
    with pytest.raises(UserError, match=EXPECTED["damaged"]):
        retest(run_dir, bad["damaged"], tmp_path / "retested")
    assert not (tmp_path / "retested").exists()


def test_a_damaged_checkpoint_alone_says_to_copy_it_again(bad, tmp_path):
    from colorgan.runs.checkpoint_io import read_checkpoint

    alone = tmp_path / "alone.ckpt"
    alone.write_bytes(bad["damaged"].read_bytes())
    with pytest.raises(UserError, match=r"is damaged: .*Copy alone.ckpt again from where it was written"):
        read_checkpoint(alone)


def test_a_damaged_checkpoint_names_only_an_intact_sibling_of_the_same_run(tiny_checkpoint, tmp_path):
    """Newer than the intact copy, beside the damaged last.ckpt: a valid torch zip that is no colorgan
    checkpoint, a file carrying code, and a colorgan checkpoint of another run (trained in RGB). None of
    them is named; the copy of the same run is, and without it none is."""
    import os

    from colorgan.runs.checkpoint_io import read_checkpoint

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    damaged = flip_byte_in_largest_tensor(tiny_checkpoint("lab"), folder / "last.ckpt")
    same_run = folder / "best-epoch0.ckpt"
    same_run.write_bytes(tiny_checkpoint("lab").read_bytes())
    torch.save({"state_dict": {"generator.w": torch.zeros(2)}, "pytorch-lightning_version": "2.5.0",
                "hyper_parameters": {"color_space": "lab"}}, folder / "evil.ckpt")
    torch.save({"state_dict": {}, "payload": RunsCode(tmp_path / "code_ran")}, folder / "code.ckpt")
    (folder / "other_run.ckpt").write_bytes(tiny_checkpoint("rgb").read_bytes())
    for age, name in enumerate(["other_run.ckpt", "code.ckpt", "evil.ckpt", "best-epoch0.ckpt"]):
        os.utime(folder / name, (1_000_000 - age, 1_000_000 - age))  # the hostile ones are the newest
    with pytest.raises(UserError, match=r"Use the intact \S*best-epoch0.ckpt of the same folder instead") as said:
        read_checkpoint(damaged)
    assert "evil" not in str(said.value) and "other_run" not in str(said.value) and "code.ckpt" not in str(said.value)
    same_run.unlink()
    with pytest.raises(UserError, match=r"is damaged: .*Copy last.ckpt again from where it was written") as said:
        read_checkpoint(damaged)
    assert "Use the intact" not in str(said.value)
    assert not (tmp_path / "code_ran").exists()


def test_a_legacy_checkpoint_still_loads_with_a_note(tmp_path, caplog):
    """PyTorch's pre-zip format has no CRCs: read as before, with a warning that it cannot be verified."""
    from colorgan.runs.checkpoint_io import read_checkpoint

    legacy = tmp_path / "legacy.ckpt"
    torch.save({"state_dict": {"w": torch.ones(3)}}, legacy, _use_new_zipfile_serialization=False)
    with caplog.at_level("WARNING"):
        assert torch.equal(read_checkpoint(legacy)["state_dict"]["w"], torch.ones(3))
    assert "cannot be verified" in caplog.text
