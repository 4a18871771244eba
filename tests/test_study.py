"""The seed's study at CPU scale: the preset composes for every model of the sweep and trains; the
test writes per-image metrics; the report turns them into intervals, paired differences, seed
repeats and learning curves."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.configs import TINY, compose_train
from PIL import Image

from colorgan import Colorizer
from colorgan.report.write import write_report
from colorgan.runs.run_dir import TEST_PER_IMAGE, read_per_image
from colorgan.train import train

SEED_MODELS = ("unet", "unet_lrelu", "gan", "gan_lrelu")


@pytest.mark.parametrize("experiment", SEED_MODELS)
def test_the_cpu_scale_preset_composes_half_width_networks(experiment, tmp_path):
    cfg = compose_train(["+sweep=seed_study", f"+experiment={experiment}", "+scale=cpu"], tmp_path / "run")
    assert list(cfg.model.generator.channels) == [32, 64, 128, 256, 256]
    assert cfg.model.generator.output_layer == "upconv" and cfg.trainer.max_epochs == 15
    assert cfg.data.color_space == "lab" and cfg.data.val_size == 5000 and cfg.data.batch_size == 128
    assert cfg.hydra.sweeper.params["data.color_space"] == "lab"  # the RGB half: data.color_space=rgb
    if experiment.startswith("gan"):
        from hydra.utils import instantiate

        model = instantiate(cfg.model, _convert_="all")
        assert model.discriminator.model[0].out_channels == 32  # D follows G's first width


@pytest.mark.parametrize("experiment", ["unet", "gan_lrelu"])
def test_the_cpu_scale_preset_trains(experiment, tiny_cifar, tmp_path, one_thread):
    tiny = [o for o in TINY if not o.startswith("model.generator.channels")]
    cfg = compose_train([f"+experiment={experiment}", "+scale=cpu", *tiny, "trainer.fast_dev_run=true"],
                        tmp_path / "run", tiny_cifar)
    metrics = train(cfg)
    assert np.isfinite(metrics["test/mae"])


@pytest.fixture(scope="module")
def study(tiny_cifar, tmp_path_factory):
    """Three finished runs on the same 16 test images: two seeds of one U-Net and one GAN."""
    root = tmp_path_factory.mktemp("study")
    for experiment, seed in (("unet", 1), ("unet", 2), ("gan", 1)):
        overrides = [f"+experiment={experiment}", *TINY, f"seed={seed}", "trainer.limit_test_batches=null",
                     "trainer.limit_val_batches=null", "trainer.max_epochs=2"]
        overrides = [o for o in overrides if o != "trainer.max_epochs=1"]
        train(compose_train(overrides, root / f"{experiment}_{seed}", tiny_cifar))
    return root


def test_the_test_writes_each_images_metrics_and_their_means_are_the_tables(study):
    run = study / "unet_1"
    per_image = read_per_image(run / TEST_PER_IMAGE)
    assert set(per_image) == {"image", "mae", "psnr", "colorfulness", "false_color", "baseline_mae",
                              "baseline_psnr", "baseline_colorfulness", "baseline_false_color"}
    assert per_image["image"] == list(range(16))  # every test image, in test-set order
    table = json.loads((run / "test_metrics.json").read_text())
    for key in ("mae", "psnr", "colorfulness", "false_color"):
        assert np.mean(per_image[key]) == pytest.approx(table[f"test/{key}"], rel=1e-4)
        assert np.mean(per_image[f"baseline_{key}"]) == pytest.approx(table[f"test_baseline/{key}"], rel=1e-4, abs=1e-4)


def test_the_report_says_which_differences_are_real_and_draws_the_curves(study, tmp_path):
    report_path, image_path = write_report([study], tmp_path)
    report = report_path.read_text()
    assert "## Which differences are real" in report
    assert "| unet lab seed 1 | 16 |" in report and "| gan lab | 16 |" in report
    pairs = [line for line in report.splitlines() if line.startswith("| unet lab seed 1 | unet lab seed 2 |")]
    assert len(pairs) == 1 and "[" in pairs[0]
    assert "| unet lab seed 1 | *grayscale input* |" in report
    (repeats,) = [line for line in report.splitlines() if line.startswith("| unet lab | 1, 2 |")]
    assert "±" in repeats
    curves = Image.open(tmp_path / "learning_curves.png")
    assert curves.size[0] > 600 and Image.open(image_path).size[1] == 5 * (32 * 4 + 2) + 2  # 2 rows + 3 runs


def test_seed_repeats_show_their_spread(study, tmp_path):
    import shutil

    root = tmp_path / "repeats"
    shutil.copytree(study / "gan_1", root / "gan_1")
    assert "## Seed repeats" not in write_report([root], tmp_path / "one")[0].read_text()
    shutil.copytree(study / "gan_1", root / "gan_1_again")
    config = root / "gan_1_again" / "config.yaml"
    config.write_text(config.read_text().replace("seed: 1", "seed: 7"))
    report = write_report([root], tmp_path / "two")[0].read_text()
    (row,) = [line for line in report.splitlines() if line.startswith("| gan lab | 1, 7 |")]
    assert "± 0.00" in row  # the same weights twice: no spread
    (pair,) = [line for line in report.splitlines() if line.startswith("| gan lab seed 1 | gan lab seed 7 |")]
    assert "+0.00 [0.00, 0.00] ≈" in pair


@pytest.mark.parametrize("output_layer", ["upconv", "head"])
def test_both_output_layers_train_and_colorize(output_layer, tiny_cifar, tmp_path):
    cfg = compose_train(["+experiment=unet_lrelu", *TINY, f"model.generator.output_layer={output_layer}", "test=false"],
                        tmp_path / "run", tiny_cifar)
    train(cfg)
    colorizer = Colorizer.from_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt", device="cpu")
    out = colorizer(Image.new("L", (40, 24), 128))
    assert out.size == (40, 24) and out.mode == "RGB"
