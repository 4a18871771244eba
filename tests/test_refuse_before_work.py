"""A run that cannot do what it was asked is refused by the config check, in one line, before a run
directory exists: a mandatory value (`???`) left unset, a photo folder too small for its splits, or
one with fewer training photos than a batch (which would train on zero batches)."""

from __future__ import annotations

import pytest
from helpers.cli import failure_text, train_cli
from helpers.configs import CONF_DIR, EXPERIMENT_NAMES, TINY, compose_train
from helpers.data import synthetic_images
from PIL import Image

from colorgan.config_validation import ConfigError, validate_config
from colorgan.data.errors import DatasetError
from colorgan.train import train


def photos(folder, count: int):
    folder.mkdir(parents=True)
    for i, image in enumerate(synthetic_images(count)):
        Image.fromarray(image.transpose(1, 2, 0)).save(folder / f"{i}.png")
    return folder


def nothing_under(log_dir) -> bool:
    """No run directory, no file: at most the empty log folder itself."""
    return not log_dir.exists() or not any(log_dir.rglob("*"))


@pytest.mark.parametrize("experiment", EXPERIMENT_NAMES)
def test_every_experiment_with_no_overrides_starts_or_is_refused_naming_what_to_pass(experiment, tiny_cifar, tmp_path):
    run = tmp_path / "logs" / "run"
    cfg = compose_train([f"+experiment={experiment}"], run, tiny_cifar)
    try:
        validate_config(cfg)
    except ConfigError as refused:
        said = str(refused)
        assert "\n" not in said and "data.root=<a folder of photos>" in said, said
        if "generator_init: ???" in (CONF_DIR / "experiment" / f"{experiment}.yaml").read_text():
            assert "model.generator_init=<a photo" in said  # merged over gan.yaml's null, the `???` is still seen
        assert not run.exists()  # nothing written
        return
    assert cfg.data.get("root") is None and not any(run.iterdir())  # CIFAR-10: it would start


def test_photo_gan_without_its_warm_start_is_refused_before_a_run_directory(tmp_path):
    root = photos(tmp_path / "photos", 4)
    result = train_cli("+experiment=photo_gan", f"data.root={root}", data_dir=tmp_path, log_dir=tmp_path / "logs")
    assert result.returncode == 2, failure_text(result)
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "model.generator_init=<a photo_unet checkpoint>" in line and "data.root" not in line.split("leaves")[1]
    assert "Traceback" not in result.stderr and nothing_under(tmp_path / "logs")


@pytest.mark.parametrize(("count", "overrides", "said"), [
    (6, ["data.batch_size=8"], "has 4 training photos, fewer than one batch of data.batch_size=8: the run would train "
                               "on zero batches"),
    (3, ["data.val_size=5"], "data.val_size=5 takes 5 of the 2 images"),
    (0, [], "No image files under"),
])
def test_a_photo_folder_too_small_is_refused_with_nothing_written(count, overrides, said, tmp_path):
    root = photos(tmp_path / "photos", count)
    result = train_cli("+experiment=unet_lrelu", "data=folder", f"data.root={root}", "data.val_size=1",
                       "data.test_size=1", *overrides, data_dir=tmp_path, log_dir=tmp_path / "logs")
    assert result.returncode == 2, failure_text(result)
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert said in line and "Traceback" not in result.stderr
    assert nothing_under(tmp_path / "logs")


def test_zero_training_batches_found_after_the_check_are_refused_not_called_done(tiny_cifar, tmp_path):
    """The data modules' own guard (CIFAR-10 here: 64 training images, a batch of 128): refused before
    the first step, instead of Lightning's skipped epoch, an untrained test and COMPLETED."""
    cfg = compose_train(["+experiment=unet_lrelu", *TINY, "data.batch_size=128"], tmp_path / "run", tiny_cifar)
    with pytest.raises(DatasetError, match="make no full batch of data.batch_size=128: the run would train on zero"):
        train(cfg)
    assert not (tmp_path / "run" / "checkpoints").exists() and not (tmp_path / "run" / "test_metrics.json").exists()


def test_limit_train_batches_zero_is_refused_by_the_config_check(tiny_cfg):
    with pytest.raises(ConfigError, match="trainer.limit_train_batches=0: must be > 0 .* 0 would train on zero batches"):
        validate_config(tiny_cfg("trainer.limit_train_batches=0"))
