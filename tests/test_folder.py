"""Training on a folder of photos: scanning and skipping, splits, loading in workers, the places_* experiments."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from helpers.configs import EXPERIMENT_NAMES, TINY, compose_train, on_a_photo_folder, tiny_overrides
from hydra.utils import instantiate
from PIL import Image

from colorgan.data.folder import FolderDataModule
from colorgan.models.unet_colorizer import UNetColorizer
from colorgan.train import train

# data.val_size/test_size after TINY's CIFAR-sized val_size.
FOLDER_TINY = [*TINY, "data.val_size=2", "data.test_size=2", "data.image_size=64", "data.num_workers=0"]


def colour_image(height: int, width: int, seed: int) -> np.ndarray:
    """(H, W, 3) uint8 with smooth colour gradients, like a blurred photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    yy, xx = yy / height, xx / width
    channels = [0.5 + 0.45 * np.sin(rng.uniform(1, 6) * xx + rng.uniform(1, 6) * yy + rng.uniform(0, 6)) for _ in range(3)]
    return (np.stack(channels, -1) * 255).round().astype(np.uint8)


def write_tree(root: Path, colour: int = 16) -> dict[str, list[Path]]:
    """Nested PNG/JPEG colour photos of several sizes, and the files that must be skipped."""
    made = {"colour": [], "gray": [], "unreadable": [], "small": []}
    for i in range(colour):
        folder = root / ["scenes/beach", "scenes/forest/deep", "portraits"][i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        h, w = [(72, 96), (80, 80), (100, 70), (64, 128)][i % 4]
        path = folder / f"photo_{i:02d}.{'jpg' if i % 2 else 'png'}"
        Image.fromarray(colour_image(h, w, i)).save(path, quality=90)
        made["colour"].append(path)
    gray = colour_image(80, 80, 99).mean(-1).round().astype(np.uint8)
    Image.fromarray(gray).save(root / "portraits" / "gray_mode_L.png")  # a true grayscale file
    Image.fromarray(gray).convert("RGB").save(root / "scenes" / "gray_as_rgb.jpg", quality=75)  # RGB, no colour
    noisy = np.stack([gray] * 3, -1).astype(np.int16) + np.random.default_rng(0).integers(-1, 2, (80, 80, 3))
    Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(root / "scenes" / "nearly_gray.png")  # low chroma
    made["gray"] = [root / "portraits" / "gray_mode_L.png", root / "scenes" / "gray_as_rgb.jpg", root / "scenes" / "nearly_gray.png"]
    jpeg = (made["colour"][1]).read_bytes()
    (root / "scenes" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])  # corrupt
    made["unreadable"] = [root / "scenes" / "truncated.jpg"]
    Image.fromarray(colour_image(20, 24, 7)).save(root / "portraits" / "tiny.png")
    made["small"] = [root / "portraits" / "tiny.png"]
    (root / "scenes" / "notes.txt").write_text("not an image, not counted")
    (root / "scenes" / "._photo_00.png").write_bytes(b"macOS metadata, hidden")
    return made


@pytest.fixture
def photo_tree(tmp_path) -> tuple[Path, dict[str, list[Path]]]:
    root = tmp_path / "photos"
    return root, write_tree(root)


def test_folder_trains_with_fast_dev_run_and_reports_skips(photo_tree, tmp_path, caplog):
    root, made = photo_tree
    cfg = compose_train(
        ["+experiment=unet_lrelu", "data=folder", f"data.root={root}", *FOLDER_TINY, "trainer.fast_dev_run=true"],
        tmp_path / "run",
    )
    with caplog.at_level(logging.INFO, logger="colorgan.data.folder"):
        metrics = train(cfg)
    assert np.isfinite(metrics["test/mae"]) and np.isfinite(metrics["train/loss"])
    reports = [r.getMessage() for r in caplog.records if "images found" in r.getMessage()]
    assert len(reports) == 1  # once, though setup runs for fit and for test
    assert "21 images found" in reports[0]
    assert "skipped 3 grayscale" in reports[0] and "1 smaller than 64 px" in reports[0] and "1 unreadable" in reports[0]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"Skipping unreadable image {made['unreadable'][0]} (" in warnings[0]


def test_scan_counts_splits_and_batches(photo_tree):
    root, made = photo_tree
    dm = FolderDataModule(str(root), image_size=64, val_size=2, test_size=0.1, num_workers=0, batch_size=4)
    dm.setup("fit")
    assert dict(dm.skipped) == {"gray": 3, "small": 1, "unreadable": 1}
    used = [p for split in dm.files.values() for p in split]
    assert sorted(used) == sorted(made["colour"])  # each colour photo in exactly one split
    assert len(dm.files["val"]) <= 2 and len(dm.files["test"]) <= 2
    # The same split with the same split_seed, whatever the training seed.
    again = FolderDataModule(str(root), image_size=64, val_size=2, test_size=0.1, num_workers=0, seed=7)
    again.setup("fit")
    assert again.files == dm.files
    batch = next(iter(dm.train_dataloader()))
    assert batch.images.shape == (4, 3, 64, 64) and batch.images.dtype == torch.uint8 and batch.failed == []
    # Evaluation images: resized and centre-cropped, the same every time; the image grid's fixed sample.
    first = dm.sample_images(2)
    assert first.shape == (len(dm.files["test"][:2]), 3, 64, 64)
    assert torch.equal(first, dm.sample_images(2))


def test_gray_images_kept_when_asked(photo_tree):
    root, _ = photo_tree
    dm = FolderDataModule(str(root), image_size=64, gray_chroma=None, min_size=16, val_size=2, test_size=2, num_workers=0)
    dm.setup()
    assert dict(dm.skipped) == {"unreadable": 1}
    assert sum(len(v) for v in dm.files.values()) == 16 + 3 + 1


def test_split_folders_places_layout(tmp_path):
    # Places365 standard: train/<category>/ and val/<category>/; val/ becomes the test set.
    for split, count in (("train", 10), ("val", 3)):
        for i in range(count):
            folder = tmp_path / split / ["a/abbey", "b/beach"][i % 2]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(colour_image(32, 32, i + 100 * (split == "val"))).save(folder / f"{i:08d}.jpg")
    dm = FolderDataModule(str(tmp_path), image_size=32, val_size=2, num_workers=0)
    dm.setup()
    assert [len(dm.files[s]) for s in ("train", "val", "test")] == [8, 2, 3]
    assert all(p.is_relative_to(tmp_path / "val") for p in dm.files["test"])
    assert all(p.is_relative_to(tmp_path / "train") for p in dm.files["train"] + dm.files["val"])
    # With a test/ folder too, all three come from their folders.
    (tmp_path / "test").mkdir()
    Image.fromarray(colour_image(32, 32, 55)).save(tmp_path / "test" / "x.png")
    dm = FolderDataModule(str(tmp_path), image_size=32, num_workers=0)
    dm.setup()
    assert [len(dm.files[s]) for s in ("train", "val", "test")] == [10, 3, 1]


def test_missing_folder_and_too_large_split_say_what_to_do(tmp_path):
    with pytest.raises(Exception, match="Image folder not found.*data.root"):
        FolderDataModule(str(tmp_path / "nowhere")).setup()
    for i in range(3):
        Image.fromarray(colour_image(32, 32, i)).save(tmp_path / f"{i}.png")
    with pytest.raises(ValueError, match="data.val_size=5 takes 5 of the 2 images"):
        FolderDataModule(str(tmp_path), image_size=32, test_size=1, val_size=5, num_workers=0).setup()


def test_scan_cache_is_reused_and_refreshed(photo_tree, tmp_path):
    root, made = photo_tree
    cache = tmp_path / "cache"
    FolderDataModule(str(root), image_size=64, val_size=2, test_size=2, num_workers=0, scan_cache=str(cache)).setup()
    (cache_file,) = cache.glob("*.json")
    data = json.loads(cache_file.read_text())
    assert len(data["files"]) == 21
    # Reused: a cached entry (same path, size and mtime) is believed without decoding the file again.
    key = next(k for k in data["files"] if k.startswith(str(made["colour"][0]) + "|"))
    data["files"][key][2] = 0.0  # chroma 0: gray
    cache_file.write_text(json.dumps(data))
    dm = FolderDataModule(str(root), image_size=64, val_size=2, test_size=2, num_workers=0, scan_cache=str(cache))
    dm.setup()
    assert dm.skipped["gray"] == 4
    # Refreshed: a file that changed is decoded again (here it became unreadable).
    made["colour"][0].write_bytes(b"broken now")
    dm = FolderDataModule(str(root), image_size=64, val_size=2, test_size=2, num_workers=0, scan_cache=str(cache))
    dm.setup()
    assert dm.skipped["gray"] == 3 and dm.skipped["unreadable"] == 2


def test_file_broken_after_scan_is_replaced_and_counted_in_a_worker(photo_tree, tmp_path):
    root, _ = photo_tree
    dm = FolderDataModule(str(root), image_size=64, val_size=2, test_size=2, num_workers=1, batch_size=8)
    dm.setup()
    broken = dm.files["train"][3]
    broken.write_bytes(b"\xff\xd8\xff garbage")  # breaks between the scan and the epoch
    model = UNetColorizer(generator={"channels": [8, 16, 32]})
    # All training images in one batch, so the broken file is in it.
    dm.batch_size = len(dm.files["train"])
    trainer = L.Trainer(accelerator="cpu", fast_dev_run=True, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, use_distributed_sampler=False)
    trainer.fit(model, datamodule=dm)
    assert list(dm.load_failures) == [str(broken)]
    assert trainer.state.finished


def test_places_unet_is_pix2pix_deep_at_256(tmp_path):
    cfg = compose_train(["+experiment=places_unet", "data.root=/nowhere"], tmp_path / "run")
    assert cfg.data.image_size == 256 and cfg.model.generator.image_size == 256
    model = instantiate(cfg.model, _convert_="all")
    assert model.generator.depth == 8 and model.generator.stride == 256


# Every experiment on a photo folder (test_train.py sweeps the CIFAR-10 ones); photo_gan needs a
# photo_unet checkpoint and has a test of its own below.
FOLDER_EXPERIMENTS = [name for name in EXPERIMENT_NAMES if on_a_photo_folder(name)]
WARM_STARTED = {"photo_gan", "photo_lite_gan"}


@pytest.mark.parametrize("experiment", sorted(set(FOLDER_EXPERIMENTS) - WARM_STARTED))
def test_folder_experiments_train_on_a_folder(experiment, photo_tree, tmp_path):
    root, _ = photo_tree
    tiny = [*tiny_overrides(experiment), *FOLDER_TINY[len(TINY):]]  # the encoder's widths are its own
    cfg = compose_train([f"+experiment={experiment}", f"data.root={root}", *tiny, "trainer.fast_dev_run=true"], tmp_path / "run")
    metrics = train(cfg)  # test_folder_cli.py runs places_unet in full, as a user would
    assert np.isfinite(metrics["test/mae"]) and np.isfinite(metrics["test_baseline/mae"])


def test_photo_gan_warm_starts_from_a_photo_unet_checkpoint(photo_tree, tmp_path):
    """The shipped model's two commands: photo_unet writes a checkpoint, photo_gan starts from it with
    the same generator (the experiment's own widths, not TINY's) and keeps its last epoch."""
    root, _ = photo_tree
    tiny = ["data.val_size=2", "data.test_size=2", "data.batch_size=4", "data.eval_batch_size=4", "data.num_workers=0",
            "trainer.max_epochs=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1", "logger=csv"]
    assert "photo_gan" in FOLDER_EXPERIMENTS
    train(compose_train(["+experiment=photo_unet", f"data.root={root}", *tiny], tmp_path / "unet"))
    (warm,) = (tmp_path / "unet" / "checkpoints").glob("best-*.ckpt")
    cfg = compose_train(["+experiment=photo_gan", f"data.root={root}", f"model.generator_init={warm}",
                         "model.critic_steps=1", *tiny], tmp_path / "gan")
    assert list(cfg.model.generator.channels) == [32, 64, 128, 256, 256, 256] and cfg.data.cache
    metrics = train(cfg)
    assert np.isfinite(metrics["test/mae"])
    assert cfg.callbacks.model_checkpoint.monitor is None
    assert list((tmp_path / "gan" / "checkpoints").glob("best-*.ckpt"))  # the last epoch, kept


class TrainedBatches(L.Callback):
    def __init__(self) -> None:
        self.batches: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.append(batch.rgb.cpu().clone())


@pytest.mark.parametrize("workers", [0, 2])
def test_folder_training_resumed_mid_epoch_continues_with_the_next_batches(photo_tree, tmp_path, workers):
    """Same files, same crops, same flips: the loader's position and the random states come back with
    a mid-epoch checkpoint, and crops do not depend on the workers' random states."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from colorgan.callbacks.rng_states import RNGStates

    root, _ = photo_tree

    def fit(max_steps: int, ckpt_path=None) -> TrainedBatches:
        L.seed_everything(3)
        data = FolderDataModule(str(root), image_size=64, val_size=2, test_size=2, num_workers=workers, batch_size=2, seed=5)
        model = UNetColorizer(generator={"channels": [8, 16, 32]})
        seen = TrainedBatches()
        every_2 = ModelCheckpoint(dirpath=tmp_path, filename="{step}", every_n_train_steps=2, save_top_k=-1)
        trainer = L.Trainer(accelerator="cpu", max_steps=max_steps, limit_val_batches=0, logger=False,
                            enable_progress_bar=False, enable_model_summary=False,
                            callbacks=[RNGStates(), seen, every_2], use_distributed_sampler=False)
        trainer.fit(model, datamodule=data, ckpt_path=ckpt_path)
        return seen

    uninterrupted = fit(5)  # 6 batches of 2 in an epoch: steps 1-5 are all in epoch 0
    saved = torch.load(tmp_path / "step=2.ckpt", weights_only=True)
    assert saved["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"epoch": 0, "batches": 2}]
    resumed = fit(5, tmp_path / "step=2.ckpt")
    assert len(resumed.batches) == 3
    for got, expected in zip(resumed.batches, uninterrupted.batches[2:], strict=True):
        assert torch.equal(got, expected)


def test_no_more_decoding_workers_than_usable_cores(tmp_path):
    """conf/data/folder.yaml asks for 4; on a 2-core machine torch would warn and the processes contend."""
    from colorgan.system.threads import usable_cores

    assert FolderDataModule(str(tmp_path), num_workers=64).num_workers == usable_cores()
    assert FolderDataModule(str(tmp_path), num_workers=0).num_workers == 0
