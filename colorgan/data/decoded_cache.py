"""Photos decoded once, kept as uint8 in a memory-mapped .npy: `data=folder data.cache=true`.

Decoding JPEGs every epoch competes with training for a small CPU. The cache holds every image of a
split at the scale training reads it (training: shorter side `train_scale * image_size`, centre
square of that side, so random crops are still drawn per epoch, but from that square only, not from the
whole longer side as without the cache: the one difference, tested; evaluation: `image_size`, centre
crop, exactly what the decoder gives), decoded once in `num_workers` processes. Batches are then
gathered from the memory map (page cache): no JPEG decoding, no worker processes.

Each cache file is named by a digest of its file list (paths, sizes, mtimes) and its sizes, so a
photo changed, added or removed gives a new cache, built anew (the old one of that split is deleted).
A sidecar JSON, written last, holds the digest, the shape and a crc32 of the array: a cache whose
sidecar is missing, whose header or length is wrong (truncated) or whose crc32 differs (damaged) is
refused and rebuilt, with a warning that says why; it is never read into a batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from torch.utils.data import DataLoader, Dataset

from colorgan.data.batches import FolderBatch
from colorgan.data.images import load_eval_image
from colorgan.system.atomic_io import atomic_path, write_text

log = logging.getLogger(__name__)

CACHE_VERSION = 1
CHUNK = 64  # images per worker task while building
CRC_BLOCK = 64 << 20


@dataclass(frozen=True)
class CacheSpec:
    """Which images a cache holds and at what scale: squares of `side`; `crop` the side of the
    random training crops taken from them (None: evaluation, used as they are)."""

    name: str  # e.g. "a1b2c3d4e5f6-train": the roots' digest and the split
    side: int
    crop: int | None


def cache_key(paths: list[Path], spec: CacheSpec) -> str:
    """Digest of everything the cached pixels depend on: the files (path, size, mtime) and the scale."""
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, spec.side, spec.crop]).encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"\n{path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def array_crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(CRC_BLOCK):
            crc = zlib.crc32(block, crc)
    return crc


class _DecodeChunks(Dataset):
    """Chunk i -> (start, uint8 (n, 3, side, side), {index: error}) for the paths of that chunk."""

    def __init__(self, paths: list[Path], side: int) -> None:
        self.paths, self.side = paths, side

    def __len__(self) -> int:
        return -(-len(self.paths) // CHUNK)

    def __getitem__(self, chunk: int) -> tuple[int, np.ndarray, dict[int, str]]:
        start = chunk * CHUNK
        paths = self.paths[start : start + CHUNK]
        images = np.zeros((len(paths), 3, self.side, self.side), dtype=np.uint8)
        failed = {}
        for i, path in enumerate(paths):
            try:
                images[i] = load_eval_image(path, self.side).numpy()
            except Exception as err:  # a file that broke after the scan: left black, never gathered
                failed[start + i] = f"{type(err).__name__}: {err}"
        return start, images, failed


def _as_is(item):
    return item


class DecodedCache:
    """One split's decoded images in `folder`: `open_or_build` returns the usable cache."""

    def __init__(self, folder: Path, spec: CacheSpec, paths: list[Path]) -> None:
        self.folder, self.spec, self.paths = Path(folder), spec, list(paths)
        self.key = cache_key(self.paths, spec)
        self.array_path = self.folder / f"{spec.name}-{spec.side}px-{self.key[:16]}.npy"
        self.meta_path = self.array_path.with_suffix(".json")
        self.failed: dict[int, str] = {}

    def problem(self) -> str | None:
        """Why the cache on disk cannot be used (None: it can); None is also not a problem to say."""
        if not self.array_path.exists() and not self.meta_path.exists():
            return "absent"
        try:
            meta = json.loads(self.meta_path.read_text())
            shape = (len(self.paths), 3, self.spec.side, self.spec.side)
            if meta.get("key") != self.key or tuple(meta.get("shape", ())) != shape:
                return "its sidecar describes other images"
            with open(self.array_path, "rb") as f:
                major, _ = np.lib.format.read_magic(f)
                read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                found, fortran, dtype = read_header(f)
                offset = f.tell()
            if found != shape or dtype != np.uint8 or fortran:
                return f"its header says {dtype} {found}, expected uint8 {shape}"
            size, expected_bytes = self.array_path.stat().st_size, offset + int(np.prod(shape))
            if size != expected_bytes:
                return f"it has {size} bytes, expected {expected_bytes} (truncated)"
            if array_crc32(self.array_path) != meta.get("crc32"):
                return "its crc32 differs from the one recorded when it was built (damaged)"
            self.failed = {int(i): error for i, error in meta.get("failed", {}).items()}
        except (OSError, ValueError, KeyError, TypeError) as err:
            return f"it cannot be read ({type(err).__name__}: {err})"
        return None

    def open_or_build(self, num_workers: int = 0) -> DecodedCache:
        problem = self.problem()
        if problem is None:
            return self
        if problem != "absent":
            log.warning("Decoded cache %s is refused: %s. Rebuilding it.", self.array_path, problem)
        self.build(num_workers)
        problem = self.problem()
        if problem is not None:
            raise RuntimeError(f"The decoded cache {self.array_path} just built is unusable: {problem}.")
        return self

    def build(self, num_workers: int) -> None:
        """Decode every image into a new .npy (in `num_workers` processes), then write the sidecar."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(f"{self.spec.name}-{self.spec.side}px-*"):  # the split's old caches
            stale.unlink(missing_ok=True)
        shape = (len(self.paths), 3, self.spec.side, self.spec.side)
        loader = DataLoader(_DecodeChunks(self.paths, self.spec.side), batch_size=None,
                            num_workers=num_workers, collate_fn=_as_is)
        started, done, reported, failed = time.monotonic(), 0, 0.0, {}
        with atomic_path(self.array_path) as tmp:
            array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
            announce(f"Decoding {len(self.paths)} images into {self.array_path} ({self.spec.side} px, "
                     f"{array.nbytes / 1e6:.0f} MB) in {max(1, num_workers)} process(es)...")
            for start, images, errors in loader:
                array[start : start + len(images)] = images
                failed.update(errors)
                done += len(images)
                if done / len(self.paths) >= reported + 0.1 or done == len(self.paths):
                    reported = done / len(self.paths)
                    elapsed = time.monotonic() - started
                    announce(f"  {done}/{len(self.paths)} images ({100 * reported:.0f}%), {done / elapsed:.0f} images/s")
            array.flush()
            del array
        for index, error in failed.items():
            log.warning("Image %s failed to decode while caching (%s); it is left out.", self.paths[index], error)
        meta = {"version": CACHE_VERSION, "key": self.key, "shape": list(shape),
                "crc32": array_crc32(self.array_path), "failed": {str(i): e for i, e in failed.items()}}
        write_text(self.meta_path, json.dumps(meta))

    def dataset(self) -> CachedImages:
        return CachedImages(self.array_path, [i for i in range(len(self.paths)) if i not in self.failed], self.spec)


@rank_zero_only
def announce(message: str) -> None:
    log.info(message)


class CachedImages(Dataset):
    """The cached images, indexable like FolderImages (a 1-D index tensor, or CropSeededBatches'
    (2, B) indices and crop seeds): gathers the batch from the memory map and, for training,
    crops each image at a position drawn from its crop seed."""

    def __init__(self, array_path: Path, rows: list[int], spec: CacheSpec) -> None:
        self.array_path, self.spec = Path(array_path), spec
        self.rows = np.asarray(rows, dtype=np.int64)
        self._array: np.ndarray | None = None  # opened lazily, so the dataset pickles without it

    def __len__(self) -> int:
        return len(self.rows)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_array": None}

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.load(self.array_path, mmap_mode="r")
        return self._array

    def __getitem__(self, indices: torch.Tensor):
        indices, seeds = (indices[0], indices[1].tolist()) if indices.dim() == 2 else (indices, None)
        images = torch.from_numpy(self.array[self.rows[indices.numpy()]])  # (B, 3, side, side), a copy
        size = self.spec.crop
        if size is None or size == self.spec.side:
            return FolderBatch(images, [])
        crops, room = [], self.spec.side - size + 1
        for n in range(len(images)):
            generator = None if seeds is None else torch.Generator().manual_seed(seeds[n])
            left = int(torch.randint(room, (), generator=generator))
            top = int(torch.randint(room, (), generator=generator))
            crops.append(images[n, :, top : top + size, left : left + size])
        return FolderBatch(torch.stack(crops), [])
