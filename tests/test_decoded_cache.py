"""data.cache=true: photos decoded once into a memory-mapped uint8 array, gathered per batch; rebuilt
when a photo changes, refused and rebuilt when the file on disk is truncated or damaged."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.configs import compose_train
from PIL import Image
from test_folder import FOLDER_TINY, colour_image, write_tree

from colorgan.data.batches import IndexBatches
from colorgan.data.decoded_cache import CacheSpec, DecodedCache
from colorgan.data.folder import CropSeededBatches, FolderDataModule
from colorgan.data.images import load_eval_image, load_train_image
from colorgan.train import train


@pytest.fixture
def photos(tmp_path) -> list[Path]:
    folder = tmp_path / "photos"
    folder.mkdir()
    paths = []
    for i, (h, w) in enumerate([(72, 96), (80, 80), (100, 70), (64, 128), (90, 90)]):
        paths.append(folder / f"p{i}.{'jpg' if i % 2 else 'png'}")
        Image.fromarray(colour_image(h, w, i)).save(paths[-1], quality=90)
    return paths


def test_cached_images_are_what_the_decoder_gives(photos, tmp_path):
    evaluation = DecodedCache(tmp_path / "c", CacheSpec("x-val", 64, None), photos).open_or_build()
    batch = evaluation.dataset()[torch.tensor([3, 0, 4])]
    expected = torch.stack([load_eval_image(photos[i], 64) for i in (3, 0, 4)])
    assert batch.failed == [] and torch.equal(batch.images, expected)

    training = DecodedCache(tmp_path / "c", CacheSpec("x-train", 72, 64), photos).open_or_build().dataset()
    sampler = CropSeededBatches(len(photos), 5, shuffle=True, drop_last=True, seed=3)
    (indices,) = list(sampler)
    first = training[indices].images
    assert first.shape == (5, 3, 64, 64) and torch.equal(training[indices].images, first)  # crops from seeds
    squares = {i: load_eval_image(photos[i], 72) for i in range(len(photos))}
    for image, index in zip(first, indices[0].tolist(), strict=True):  # a 64 px window of the 72 px square
        windows = squares[index].unfold(1, 64, 1).unfold(2, 64, 1)  # (3, 9, 9, 64, 64)
        assert (windows == image[:, None, None]).flatten(3).all(-1).all(0).any()
    sampler.set_epoch(1)
    assert not torch.equal(training[list(sampler)[0]].images, first)  # new crops (and order) every epoch


def test_rebuilt_when_a_photo_changes_or_is_added(photos, tmp_path, caplog):
    spec = CacheSpec("x-val", 64, None)
    first = DecodedCache(tmp_path / "c", spec, photos).open_or_build()
    assert DecodedCache(tmp_path / "c", spec, photos).problem() is None  # reused as it is
    Image.fromarray(colour_image(80, 80, 42)).save(photos[1], quality=90)
    os.utime(photos[1], ns=(10**18, 10**18))  # another mtime even on a coarse clock
    second = DecodedCache(tmp_path / "c", spec, photos)
    assert second.problem() == "absent" and second.array_path != first.array_path
    with caplog.at_level(logging.WARNING):
        second.open_or_build()
    assert not caplog.records  # a new cache is no problem worth a warning
    assert not first.array_path.exists() and not first.meta_path.exists()  # the old one is gone
    assert torch.equal(second.dataset()[torch.tensor([1])].images[0], load_eval_image(photos[1], 64))
    added = photos[0].with_name("new.png")
    Image.fromarray(colour_image(70, 70, 7)).save(added)
    third = DecodedCache(tmp_path / "c", spec, [*photos, added]).open_or_build()
    assert len(third.dataset()) == 6 and not second.array_path.exists()


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "no sidecar", "bad header"])
def test_a_damaged_cache_is_refused_and_rebuilt(damage, photos, tmp_path, caplog):
    spec = CacheSpec("x-train", 72, 64)
    cache = DecodedCache(tmp_path / "c", spec, photos).open_or_build()
    good = np.load(cache.array_path).copy()
    data = bytearray(cache.array_path.read_bytes())
    if damage == "truncated":
        cache.array_path.write_bytes(bytes(data[: len(data) - 1000]))
    elif damage == "flipped byte":
        data[len(data) // 2] ^= 0x10
        cache.array_path.write_bytes(bytes(data))
    elif damage == "no sidecar":
        cache.meta_path.unlink()
    else:
        cache.array_path.write_bytes(b"not a numpy file" + bytes(data[16:]))
    again = DecodedCache(tmp_path / "c", spec, photos)
    reason = {"truncated": "truncated", "flipped byte": "damaged", "no sidecar": "cannot be read",
              "bad header": "cannot be read"}[damage]
    assert reason in again.problem()
    with caplog.at_level(logging.WARNING, logger="colorgan.data.decoded_cache"):
        again.open_or_build()
    (record,) = caplog.records
    assert f"Decoded cache {again.array_path} is refused" in record.getMessage() and "Rebuilding it" in record.getMessage()
    assert np.array_equal(np.load(again.array_path), good) and again.problem() is None


def test_folder_loaders_gather_from_the_cache(tmp_path):
    root = tmp_path / "photos"
    write_tree(root)
    options = dict(root=str(root), image_size=64, val_size=2, test_size=2, batch_size=4, eval_batch_size=4,
                   num_workers=0, scan_cache=str(tmp_path / "scans"))
    plain, cached = FolderDataModule(**options), FolderDataModule(**options, cache=True)
    plain.setup()
    cached.prepare_data()
    cached.setup()
    on_disk = set((tmp_path / "scans" / "decoded").glob("*.npy"))
    assert on_disk == {dataset.array_path for dataset in cached.caches.values()} and len(on_disk) == 3
    for split in ("val", "test"):
        plain_batch, cached_batch = (next(iter(module._loader(split, False))) for module in (plain, cached))
        assert torch.equal(plain_batch.images, cached_batch.images)
    loader = cached._loader("train", True)
    assert loader.num_workers == 0 and isinstance(loader.sampler, IndexBatches)
    assert next(iter(loader)).images.shape == (4, 3, 64, 64)
    assert {split: len(d) for split, d in cached.caches.items()} == {s: len(p) for s, p in cached.files.items()}


def test_a_file_that_fails_while_caching_is_left_out(photos, tmp_path, caplog):
    broken = photos[0].with_name("broken.jpg")
    broken.write_bytes(photos[1].read_bytes()[:300])
    with caplog.at_level(logging.WARNING):
        cache = DecodedCache(tmp_path / "c", CacheSpec("x-val", 64, None), [broken, *photos]).open_or_build()
    assert list(cache.failed) == [0] and f"Image {broken} failed to decode while caching" in caplog.text
    dataset = DecodedCache(tmp_path / "c", CacheSpec("x-val", 64, None), [broken, *photos]).open_or_build().dataset()
    assert len(dataset) == len(photos)
    assert torch.equal(dataset[torch.tensor([0])].images[0], load_eval_image(photos[0], 64))


def test_fast_dev_run_with_the_cache(tmp_path, caplog):
    root = tmp_path / "photos"
    write_tree(root)
    overrides = ["+experiment=unet_lrelu", "data=folder", f"data.root={root}", *FOLDER_TINY,
                 "trainer.fast_dev_run=true", "data.cache=true"]
    with caplog.at_level(logging.INFO, logger="colorgan.data.decoded_cache"):
        metrics = train(compose_train(overrides, tmp_path / "run"))
    assert np.isfinite(metrics["test/mae"])
    assert sum("Decoding" in r.getMessage() for r in caplog.records) == 3  # train, val, test: built once each
    assert len(list(tmp_path.rglob("decoded/*.npy"))) == 3


def test_cached_training_crops_come_from_the_centre_square_only(tmp_path):
    """The one way the cache changes what training sees (documented in colorgan.data.decoded_cache,
    docs/folder.md and conf/data/folder.yaml): without it, a wide photo's random crops range over its
    whole longer side; with it, over the centre square of the shorter side only."""
    wide = tmp_path / "wide.png"  # 3:1; at a shorter side of 36 px it is 108 px wide
    Image.fromarray(colour_image(64, 192, 1)).save(wide)
    windows = load_eval_image(wide, 36).unfold(1, 32, 1).unfold(2, 32, 1)  # (3, 5, 5, 32, 32): the centre square's

    def in_centre_square(crop: torch.Tensor) -> bool:
        return bool((windows == crop[:, None, None]).flatten(3).all(-1).all(0).any())

    seeds = range(20)
    uncached = [load_train_image(wide, 32, 1.125, torch.Generator().manual_seed(s)) for s in seeds]
    cached = DecodedCache(tmp_path / "c", CacheSpec("x-train", 36, 32), [wide]).open_or_build().dataset()
    crops = [cached[torch.tensor([[0], [s]])].images[0] for s in seeds]
    assert all(in_centre_square(crop) for crop in crops)
    assert sum(not in_centre_square(crop) for crop in uncached) >= 15  # 72 of the 77 positions lie outside it
