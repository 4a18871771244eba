"""CIFAR-10 files, download with checksum, and the DataModule's device-side batches."""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from helpers.configs import REAL_CIFAR
from helpers.data import synthetic_images, write_cifar

from colorgan.data import cifar10
from colorgan.data import errors as data_errors
from colorgan.data.batches import ColorBatch, IndexBatches
from colorgan.data.cifar10 import CIFAR10DataModule


def test_reads_the_python_version_layout(tiny_cifar):
    train = cifar10.load_split(tiny_cifar, train=True)
    test = cifar10.load_split(tiny_cifar, train=False)
    assert train.shape == (80, 3, 32, 32) and train.dtype == torch.uint8
    assert test.shape == (16, 3, 32, 32)
    assert torch.equal(test, torch.from_numpy(synthetic_images(16, seed=5)))  # test_batch, 6th file


def test_datamodule_split_and_device_batches(tiny_cifar):
    dm = CIFAR10DataModule(data_dir=str(tiny_cifar), val_size=16, batch_size=8, eval_batch_size=16, color_space="lab")
    dm.setup("fit")
    assert len(dm.train_images) == 64 and len(dm.val_images) == 16 and len(dm.test_images) == 16
    # Validation and training images are disjoint slices of the training files.
    all_train = cifar10.load_split(tiny_cifar, train=True).flatten(1)
    assert len(torch.cat([dm.train_images, dm.val_images]).flatten(1).unique(dim=0)) == len(all_train.unique(dim=0))
    # The split does not move with the training seed.
    other = CIFAR10DataModule(data_dir=str(tiny_cifar), val_size=16, seed=123)
    other.setup("fit")
    assert torch.equal(other.val_images, dm.val_images)

    raw = next(iter(dm.train_dataloader()))
    assert raw.dtype == torch.uint8 and raw.shape == (8, 3, 32, 32)
    batch = dm.on_after_batch_transfer(raw, 0)
    assert isinstance(batch, ColorBatch)
    assert batch.inputs.shape == (8, 1, 32, 32) and batch.targets.shape == (8, 2, 32, 32)
    assert torch.allclose(batch.rgb, raw.float() / 255)  # no trainer: no augmentation


def test_index_batches_shuffle_by_epoch_and_shard_by_rank():
    sampler = IndexBatches(20, 4, shuffle=True, drop_last=True, seed=1)
    first = torch.cat(list(sampler))
    assert sorted(first.tolist()) == list(range(20))
    assert torch.equal(first, torch.cat(list(sampler)))  # same epoch, same order
    sampler.set_epoch(1)
    assert not torch.equal(first, torch.cat(list(sampler)))
    ranks = [IndexBatches(20, 4, shuffle=False, drop_last=True, rank=r, world_size=2) for r in (0, 1)]
    seen = [torch.cat(list(s)).tolist() for s in ranks]
    assert len(ranks[0]) == len(ranks[1]) == 2 and not set(seen[0]) & set(seen[1])


def test_training_batches_are_flipped_on_the_device(tiny_cifar):
    class Probe(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.flipped = 0

        def training_step(self, batch, batch_idx):
            raw = self.trainer.datamodule.train_images  # find each image among the unflipped ones
            for image in (batch.rgb * 255).round().byte():
                self.flipped += int(not (raw == image).flatten(1).all(1).any())
            return (self.w * batch.targets.mean()).sum()

        def validation_step(self, batch, batch_idx):  # never run (limit_val_batches=0); Lightning asks for one
            pass

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    dm = CIFAR10DataModule(data_dir=str(tiny_cifar), val_size=16, batch_size=8)
    probe = Probe()
    L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0).fit(probe, dm)
    assert 10 < probe.flipped < 54  # about half of 64


@pytest.mark.skipif(not REAL_CIFAR.is_dir(), reason="real CIFAR-10 copy not present")
def test_real_cifar10_copy():
    root = REAL_CIFAR.parent
    test = cifar10.load_split(root, train=False)
    assert test.shape == (10_000, 3, 32, 32)
    dm = CIFAR10DataModule(data_dir=str(root))
    dm.setup("fit")
    assert len(dm.train_images) == 45_000 and len(dm.val_images) == 5_000
    mean = torch.cat([dm.train_images, dm.val_images]).float().mean(dim=(0, 2, 3)) / 255
    assert torch.allclose(mean, torch.tensor([0.4913, 0.4821, 0.4465]), atol=2e-3)  # data/README.md


def test_missing_folder_says_how_to_get_the_data(tmp_path):
    with pytest.raises(cifar10.DatasetError, match=r"cifar-10-batches-py.*COLORGAN_DATA.*data.download=true"):
        cifar10.load_split(tmp_path, train=True)


def test_every_command_finds_the_data_by_one_rule(tmp_path, monkeypatch):
    """paths.data_dir: $COLORGAN_DATA when set, else ../shared/data when it holds the copy, else ./data."""
    from helpers.configs import compose_train

    clone = tmp_path / "colorgan"
    clone.mkdir()
    monkeypatch.delenv("COLORGAN_DATA", raising=False)
    assert cifar10.default_data_dir(clone) == str(clone / "data")
    (tmp_path / "shared" / "data" / cifar10.FOLDER).mkdir(parents=True)
    assert cifar10.default_data_dir(clone) == str(clone / "../shared/data")
    monkeypatch.setenv("COLORGAN_DATA", str(tmp_path / "mine"))
    assert cifar10.default_data_dir(clone) == str(tmp_path / "mine")
    monkeypatch.chdir(clone)  # conf/paths: the same rule, from the working directory
    assert compose_train([], tmp_path / "run").paths.data_dir == str(tmp_path / "mine")
    monkeypatch.delenv("COLORGAN_DATA")
    assert compose_train([], tmp_path / "run").paths.data_dir == "../shared/data"


def test_missing_batch_file_is_named(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / cifar10.FOLDER / "data_batch_3").unlink()
    with pytest.raises(cifar10.DatasetError, match="data_batch_3"):
        cifar10.load_split(tmp_path, train=True)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_shape"])
def test_corrupt_batch_file_is_named(tmp_path, damage):
    write_cifar(tmp_path)
    path = tmp_path / cifar10.FOLDER / "test_batch"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:500])
    elif damage == "garbage":
        path.write_bytes(b"not a pickle at all")
    else:  # a valid pickle of the wrong shape
        path.write_bytes(pickle.dumps({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}))
    with pytest.raises(cifar10.DatasetError, match=r"test_batch is corrupt"):
        cifar10.load_split(tmp_path, train=False)


def make_archive(tmp_path):
    src = write_cifar(tmp_path / "src", per_batch=4)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / cifar10.FOLDER, arcname=cifar10.FOLDER)
    return archive, hashlib.md5(archive.read_bytes()).hexdigest()


def test_download_verifies_and_extracts(tmp_path):
    archive, md5 = make_archive(tmp_path)
    folder = cifar10.download(tmp_path / "data", url=archive.as_uri(), md5=md5)
    assert folder == tmp_path / "data" / cifar10.FOLDER
    assert cifar10.load_split(tmp_path / "data", train=False).shape == (4, 3, 32, 32)
    assert [p.name for p in (tmp_path / "data").iterdir()] == [cifar10.FOLDER]  # no leftovers


def test_download_refuses_a_bad_checksum_and_keeps_nothing(tmp_path):
    archive, _ = make_archive(tmp_path)
    with pytest.raises(cifar10.DatasetError, match="md5"):
        cifar10.download(tmp_path / "data", url=archive.as_uri(), md5="0" * 32)
    assert list((tmp_path / "data").iterdir()) == []


def test_download_accepts_an_extracted_copy_without_checking_file_checksums(tmp_path):
    write_cifar(tmp_path)
    # The URL is never contacted: an extracted folder (like the JPEG-decoded copy) is used as is.
    assert cifar10.download(tmp_path, url="http://invalid.invalid/x.tar.gz") == tmp_path / cifar10.FOLDER


def test_datamodule_downloads_when_asked(tmp_path):
    archive, md5 = make_archive(tmp_path)
    dm = CIFAR10DataModule(data_dir=str(tmp_path / "d"), download=True, url=archive.as_uri(), md5=md5, val_size=4)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_images) == 16 and len(dm.test_images) == 4


class _Payload:
    """Unpickling this runs `touch <marker>`: what a planted batch file would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_planted_batch_file_is_refused_and_its_payload_never_runs(tmp_path):
    marker = tmp_path / "payload_ran"
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"labels": [_Payload(marker)]}, f)
    with pytest.raises(cifar10.UnsafeBatchError, match="asks for posix.system.*Nothing in it was run"):
        cifar10.read_batch(path)
    assert not marker.exists()


def test_batches_written_by_numpy_1_and_2_still_read(tmp_path):
    """The official files (Python 2, numpy.core) and ones written here (numpy._core) both load."""
    images = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3, 32, 32)
    cifar10.write_batch(tmp_path / "b", images)
    assert np.array_equal(cifar10.read_batch(tmp_path / "b"), images)
    if REAL_CIFAR.is_dir():
        assert cifar10.read_batch(REAL_CIFAR / "test_batch").shape == (10000, 3, 32, 32)


def test_unreadable_data_says_permission_denied_not_corrupt(tmp_path, monkeypatch):
    """(Simulated: the tests run as root here, whom permissions do not stop.)"""
    root = write_cifar(tmp_path, per_batch=2)
    folder = root / cifar10.FOLDER
    real_listdir, real_open = os.listdir, open

    def listdir(path):
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real_listdir(path)

    monkeypatch.setattr(data_errors.os, "listdir", listdir)
    with pytest.raises(cifar10.DatasetError, match=rf"Permission denied: this user cannot read {folder}\. Make it readable"):
        cifar10.load_split(root, train=True)
    monkeypatch.setattr(data_errors.os, "listdir", real_listdir)

    def denied(path, *args, **kwargs):
        if Path(path).name == "test_batch":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", denied)
    with pytest.raises(cifar10.DatasetError, match="Permission denied") as raised:
        cifar10.load_split(root, train=False)
    assert "corrupt" not in str(raised.value) and "Delete" not in str(raised.value)
