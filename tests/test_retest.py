"""`colorgan.retest`: another checkpoint of a finished run tested into a folder of its own, which
the report lists beside the original."""

from __future__ import annotations

import json

import pytest
import torch
from helpers.configs import TINY, compose_train

from colorgan.report.write import write_report
from colorgan.retest import RetestError, main, retest
from colorgan.runs.run_dir import TEST_PER_IMAGE, read_per_image
from colorgan.train import train


def test_the_last_epoch_is_tested_and_reported_beside_the_best(tiny_cifar, tmp_path, capsys):
    original = tmp_path / "runs" / "unet_lab"
    overrides = [o for o in TINY if o != "trainer.max_epochs=1"]
    train(compose_train(["+experiment=unet", *overrides, "trainer.max_epochs=2"], original, tiny_cifar))
    before = sorted(p.name for p in original.rglob("*"))
    out = tmp_path / "runs" / "unet_lab_last"
    assert main([str(original), str(original / "checkpoints" / "last.ckpt"), str(out), "--name", "unet_last"]) == 0
    assert "python -m colorgan.report" in capsys.readouterr().out
    assert sorted(p.name for p in original.rglob("*")) == before  # the original run is not touched

    metrics = json.loads((out / "test_metrics.json").read_text())
    assert metrics["test/mae"] > 0 and "test_baseline/mae" in metrics
    assert len(read_per_image(out / TEST_PER_IMAGE)["mae"]) == len(read_per_image(original / TEST_PER_IMAGE)["mae"])
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["last.ckpt"]
    assert (out / "csv" / "metrics.csv").is_file()  # the same validation history, for the curves
    report = write_report([tmp_path / "runs"], tmp_path / "report")[0].read_text()
    assert "| unet_last |" in report and "| unet |" in report


def test_a_damaged_checkpoint_or_a_used_folder_is_refused_before_anything_is_written(tiny_cifar, tiny_checkpoint, tmp_path):
    run = tiny_checkpoint("lab").parent.parent
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"")
    with pytest.raises(Exception, match="empty"):
        retest(run, bad, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("x")
    with pytest.raises(RetestError, match="already holds files"):
        retest(run, run / "checkpoints" / "last.ckpt", used)


def test_a_photo_run_is_retested_on_every_photo_of_another_folder(tiny_cifar, tiny_checkpoint, tmp_path):
    """Judging on photos unlike the training set: every photo of --data-root is a test photo, at --size."""
    from test_folder import FOLDER_TINY, write_tree

    write_tree(tmp_path / "train_photos")
    unlike = tmp_path / "unlike"
    made = write_tree(unlike)
    run = tmp_path / "runs" / "photo"
    train(compose_train(["+experiment=unet_lrelu", "data=folder", f"data.root={tmp_path / 'train_photos'}",
                         *FOLDER_TINY, "test=false"], run))
    with pytest.raises(RetestError, match="--size goes with --data-root"):
        retest(run, run / "checkpoints" / "last.ckpt", tmp_path / "x", size=32)
    with pytest.raises(RetestError, match="not trained on a photo folder"):
        retest(tiny_checkpoint("lab").parent.parent, tiny_checkpoint("lab"), tmp_path / "y", data_root=unlike)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()

    out = tmp_path / "runs" / "photo_unlike"
    metrics = retest(run, run / "checkpoints" / "last.ckpt", out, "unlike", data_root=unlike, size=32)
    assert len(read_per_image(out / TEST_PER_IMAGE)["mae"]) == len(made["colour"]) and metrics["test/mae"] > 0
    assert "unlike" in (out / "config.yaml").read_text() and "image_size: 32" in (out / "config.yaml").read_text()


def test_a_packed_model_is_judged_on_a_run_of_its_generator_with_the_semantic_test(tmp_path):
    """A packed photo.pt (no Lightning state: the shipped base/photo.pt, a photo_lite_unet) is retested
    on a photo_lite_unet run: its generator is the packed one, and the per-image file carries the
    semantic test's columns."""
    from helpers.configs import tiny_overrides
    from test_folder import FOLDER_TINY, write_tree

    from colorgan.pretrained import base_model_dir, verified_weights
    from colorgan.runs.checkpoint_io import generator_weights

    write_tree(tmp_path / "train_photos")
    unlike = tmp_path / "unlike"
    made = write_tree(unlike)
    run = tmp_path / "runs" / "lite"
    tiny = [*tiny_overrides("photo_lite_unet"), *FOLDER_TINY[len(TINY):]]
    train(compose_train(["+experiment=photo_lite_unet", f"data.root={tmp_path / 'train_photos'}", *tiny,
                         "test=false"], run))
    out = tmp_path / "runs" / "shipped"
    packed = verified_weights(base_model_dir())
    metrics = retest(run, packed, out, "shipped", data_root=unlike)
    columns = read_per_image(out / TEST_PER_IMAGE)
    assert len(columns["agree"]) == len(columns["baseline_agree"]) == len(made["colour"])
    assert set(columns["agree"]) <= {0.0, 100.0} and "test/agree" in metrics
    shipped, trained = generator_weights(packed), generator_weights(run / "checkpoints" / "last.ckpt")
    assert any(not torch.equal(shipped[k].float(), trained[k].float()) for k in shipped)  # a different model was tested
