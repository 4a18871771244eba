"""CIFAR-10 "python version" files: read them into uint8 tensors, or download and verify them.

The layout is the official archive's: cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta},
each batch a pickled dict with b"data" (N, 3072) uint8 (1024 R, 1024 G, 1024 B, row-major 32x32).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from colorgan.data.datamodule import ColorizationDataModule
from colorgan.data.errors import DatasetError, folder_exists, permission_denied
from colorgan.system.atomic_io import atomic_path

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"  # of the archive, not of the extracted files
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)

SHARED_COPY = "../shared/data"  # the offline copy beside the repository, where a clone looks for it
DATA_VARIABLE = "COLORGAN_DATA"
HOW_TO_GET = (
    "Point COLORGAN_DATA (or `paths.data_dir=...`) at the folder that contains {folder}/, "
    "or let colorgan fetch the official archive with `data.download=true`."
)


def default_data_dir(root_dir: str | Path = ".") -> str:
    """The folder that holds cifar-10-batches-py/ (conf/paths: `paths.data_dir`), for every command, make
    or python -m: $COLORGAN_DATA when set; else ../shared/data when that offline copy is there; else ./data
    (where `data.download=true` puts it). Paths are relative to `root_dir` (the working directory)."""
    if os.environ.get(DATA_VARIABLE):
        return os.environ[DATA_VARIABLE]
    beside = Path(root_dir) / SHARED_COPY
    return str(beside if (beside / FOLDER).is_dir() else Path(root_dir) / "data")


if not OmegaConf.has_resolver("colorgan.data_dir"):
    OmegaConf.register_new_resolver("colorgan.data_dir", default_data_dir)


# The only globals a CIFAR-10 batch needs: numpy arrays (how numpy 1 and 2 pickle them, and
# latin-1 bytes of protocol-2 pickles). Anything else (os.system, eval, ...) is refused unrun.
BATCH_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class _RefusedGlobal(pickle.UnpicklingError):
    pass


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles what the CIFAR-10 format holds (dicts, lists, ints, bytes/str, numpy arrays) and
    nothing else: a planted batch file cannot run code when it is read."""

    def find_class(self, module: str, name: str):
        if (module, name) not in BATCH_GLOBALS:
            raise _RefusedGlobal(f"it asks for {module}.{name}, where a CIFAR-10 batch holds only numpy arrays, "
                                 "lists, numbers and strings")
        return super().find_class(module, name)


class UnsafeBatchError(DatasetError):
    """A batch file asks to run code or build objects that the format never holds."""


def read_batch(path: Path) -> np.ndarray:
    """One batch file -> (N, 3, 32, 32) uint8."""
    try:
        with open(path, "rb") as f:
            entry = _BatchUnpickler(f, encoding="bytes").load()
        data = np.asarray(entry[b"data"], dtype=np.uint8)
        return data.reshape(-1, 3, 32, 32)
    except (FileNotFoundError, IsADirectoryError):
        raise DatasetError(f"CIFAR-10 file not found: {path}. " + HOW_TO_GET.format(folder=FOLDER)) from None
    except PermissionError:
        raise permission_denied(path) from None
    except _RefusedGlobal as err:
        raise UnsafeBatchError(
            f"CIFAR-10 file {path} is not a plain CIFAR-10 batch and was not loaded: {err}. Nothing in it was run. "
            f"Replace {path.parent} with a copy from a source you trust. " + HOW_TO_GET.format(folder=FOLDER)
        ) from err
    except Exception as err:  # any unpickling, key or shape error means the same thing to a user
        raise DatasetError(
            f"CIFAR-10 file {path} is corrupt or not a CIFAR-10 python batch ({type(err).__name__}: {err}). "
            f"Delete {path.parent} and get the data again. " + HOW_TO_GET.format(folder=FOLDER)
        ) from err


def batch_folder(root: str | Path) -> Path:
    """`root`/cifar-10-batches-py, or a DatasetError saying it is missing (and how to get it) or unreadable."""
    folder = Path(root) / FOLDER
    if not folder_exists(folder):
        beside = Path(SHARED_COPY) / FOLDER  # where colorgan looks when COLORGAN_DATA is not set
        found = (f" A copy is at {SHARED_COPY}, which is used when {DATA_VARIABLE} is not set: unset it, or "
                 f"export {DATA_VARIABLE}={SHARED_COPY}." if beside.is_dir() and beside.resolve() != folder.resolve()
                 else "")
        raise DatasetError(f"CIFAR-10 folder not found: {folder}.{found} " + HOW_TO_GET.format(folder=FOLDER))
    return folder


def load_split(root: str | Path, train: bool) -> torch.Tensor:
    """All images of the train (50,000) or test (10,000) split as one (N, 3, 32, 32) uint8 tensor."""
    folder = batch_folder(root)
    files = TRAIN_FILES if train else TEST_FILES
    return torch.from_numpy(np.concatenate([read_batch(folder / name) for name in files]))


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def download(root: str | Path, url: str = CIFAR10_URL, md5: str = CIFAR10_MD5) -> Path:
    """Fetch the archive, verify its md5 and extract it under `root`. Returns the data folder.

    An already-extracted folder is used as it is (copies such as a re-encoded one have other file
    checksums, so only the archive is ever verified). A failed check deletes the download and
    raises; nothing is extracted from an archive that did not verify.
    """
    root = Path(root)
    target = root / FOLDER
    if all((target / name).is_file() for name in TRAIN_FILES + TEST_FILES):
        return target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        archive = Path(tmp) / "cifar-10-python.tar.gz"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(archive, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as err:
            raise DatasetError(f"Could not download CIFAR-10 from {url}: {err}. " + HOW_TO_GET.format(folder=FOLDER)) from err
        actual = md5sum(archive)
        if actual != md5:
            raise DatasetError(
                f"The CIFAR-10 archive from {url} has md5 {actual}, expected {md5}: the download is "
                "corrupt or incomplete and was deleted. Try again."
            )
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp, filter="data")
        extracted = Path(tmp) / FOLDER
        if not extracted.is_dir():
            raise DatasetError(f"The archive from {url} has no {FOLDER}/ folder.")
        shutil.move(str(extracted), target)
    return target


def write_batch(path: Path, images: np.ndarray, labels: list[int] | None = None) -> None:
    """Write (N, 3, 32, 32) uint8 images as a CIFAR-10 python batch (tests and tiny data sets)."""
    images = np.asarray(images, dtype=np.uint8)
    labels = list(labels) if labels is not None else [0] * len(images)
    entry = {
        b"batch_label": path.name.encode(),
        b"labels": labels,
        b"data": images.reshape(len(images), -1),
        b"filenames": [f"{i}.png".encode() for i in range(len(images))],
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        pickle.dump(entry, f)


# -- the DataModule ------------------------------------------------------------------------------
class CIFAR10DataModule(ColorizationDataModule):
    """CIFAR-10 from its python-version files: the 10,000 test images are the test set, a fixed
    seeded slice of `val_size` training images the validation set, the rest the training set.

    `on_device`: keep every image (uint8, 180 MB) on the training device and gather batches
    there, for GPUs; on a CPU it changes nothing. `batch_size` and `eval_batch_size` default to
    conf/data/cifar10.yaml's (tests/test_defaults.py); the other arguments are the base class's.
    """

    def __init__(
        self,
        data_dir: str = "data",
        download: bool = False,
        val_size: int = 5000,
        split_seed: int = 0,
        url: str = CIFAR10_URL,
        md5: str = CIFAR10_MD5,
        on_device: bool = False,
        batch_size: int = 128,
        eval_batch_size: int | None = 500,
        **kwargs,
    ) -> None:
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, **kwargs)
        self.on_device = on_device
        self.data_dir = data_dir
        self.download, self.url, self.md5 = download, url, md5
        self.val_size = val_size
        self.split_seed = split_seed

    def prepare_data(self) -> None:
        if self.download:
            download(self.data_dir, url=self.url, md5=self.md5)

    def setup(self, stage: str | None = None) -> None:
        if self.train_images is not None:
            return
        train = load_split(self.data_dir, train=True)
        if not 0 < self.val_size < len(train):
            raise ValueError(f"data.val_size must be between 1 and {len(train) - 1}, got {self.val_size}.")
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(self.split_seed))
        self.val_images = train[order[: self.val_size]].contiguous()
        self.train_images = train[order[self.val_size :]].contiguous()
        self.test_images = load_split(self.data_dir, train=False)
