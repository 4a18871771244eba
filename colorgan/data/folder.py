"""Any folder of photos as a colorization data set: `python -m colorgan.train data=folder data.root=DIR`.

The folder is scanned once (in parallel, cached by path, size and mtime): files Pillow cannot
decode are skipped with one warning each, images that are already grayscale (low Lab chroma) or
smaller than `min_size` are skipped and counted. Batches are decoded with Pillow in DataLoader
workers into uint8 (B, 3, S, S) tensors: training images are resized so their shorter side is
`train_scale * image_size`, then randomly cropped; evaluation images are resized to `image_size`
and centre-cropped. Flip and colour conversion happen on the device, in ColorizationDataModule.

Splits come from sub-folders when there are any (Places365's `train/` and `val/`, or
`data_256/`, `val_256/`, `test_256/`), else from a seeded split of every image under the root.
`data.root` may list several roots, each split on its own (colorgan.data.folder_splits).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from torch.utils.data import DataLoader, Dataset

from colorgan.data.batches import FolderBatch, IndexBatches
from colorgan.data.datamodule import ColorizationDataModule
from colorgan.data.decoded_cache import CachedImages, CacheSpec, DecodedCache
from colorgan.data.errors import DatasetError
from colorgan.data.folder_splits import (
    SPLITS,
    check_roots,
    parse_roots,
    roots_digest,
    roots_label,
    split_root,
)
from colorgan.data.images import (
    ImageInfo,
    describe_skipped,
    filter_images,
    load_eval_image,
    load_train_image,
    scan_images,
    warn_unreadable,
)
from colorgan.system.threads import usable_cores

log = logging.getLogger(__name__)



# -- datasets ------------------------------------------------------------------------------------
class CropSeededBatches(IndexBatches):
    """IndexBatches whose batches also carry a crop seed per image, made from (seed, epoch, index):
    a (2, B) tensor of indices and seeds. Random crops then depend neither on the global random
    state nor on which worker decodes the batch, so a run resumed mid-epoch crops as an
    uninterrupted one (a worker's random state is seeded anew for every epoch's iterator, and is
    in no checkpoint)."""

    def __iter__(self) -> Iterator[torch.Tensor]:
        for indices in super().__iter__():
            yield torch.stack([indices, (self.seed * 1_000_003 + self.epoch) * 10_000_019 + indices])


class FolderImages(Dataset):
    """Image files indexable by a 1-D index tensor, or by CropSeededBatches' (2, B) indices and crop
    seeds: decodes that batch (in a DataLoader worker).

    Args:
        paths: the image files.
        image_size: side S of the square crops.
        train: random crop after resizing to `train_scale * S` (else resize to S, centre crop).
        train_scale: see `train`.
        replace_failed: a file that fails to decode is replaced by the next one that decodes,
            keeping the batch size (training); else it is dropped (evaluation).
    """

    MAX_CONSECUTIVE_FAILURES = 16

    def __init__(
        self, paths: list[Path], image_size: int, train: bool, train_scale: float = 1.125, replace_failed: bool = True
    ) -> None:
        self.paths, self.image_size, self.train = list(paths), image_size, train
        self.train_scale, self.replace_failed = train_scale, replace_failed

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, index: int, crop_seed: int | None = None) -> torch.Tensor:
        path = self.paths[index]
        if self.train:
            generator = None if crop_seed is None else torch.Generator().manual_seed(crop_seed)
            return load_train_image(path, self.image_size, self.train_scale, generator)
        return load_eval_image(path, self.image_size)

    def __getitem__(self, indices: torch.Tensor) -> FolderBatch:
        indices, seeds = (indices[0], indices[1].tolist()) if indices.dim() == 2 else (indices, None)
        images, failed = [], []
        for n, index in enumerate(indices.tolist()):
            for attempt in range(self.MAX_CONSECUTIVE_FAILURES if self.replace_failed else 1):
                i = (index + attempt) % len(self.paths)
                try:
                    images.append(self.load(i, None if seeds is None else seeds[n]))
                    break
                except Exception as err:  # a file that changed or broke after the scan
                    failed.append((str(self.paths[i]), f"{type(err).__name__}: {err}"))
            else:
                if self.replace_failed:
                    raise DatasetError(
                        f"{self.MAX_CONSECUTIVE_FAILURES} files in a row failed to decode, the last "
                        f"{failed[-1][0]} ({failed[-1][1]}). Is the folder still readable?"
                    )
        empty = torch.empty(0, 3, self.image_size, self.image_size, dtype=torch.uint8)
        return FolderBatch(torch.stack(images) if images else empty, failed)


class FolderDataModule(ColorizationDataModule):
    """Photos from a folder tree, decoded in DataLoader workers.

    Args:
        root: the folder, or a list of roots, each a folder or a mapping {train: DIR, test: DIR,
            val: DIR (optional)}; every root is split on its own and the splits are joined. A
            folder with a `train/` sub-folder (or Places365's `data_256/`) is split by its
            sub-folders: `test/` (else `val/`, as Places365's validation set is its usual test
            set) is the test set; `val/` when `test/` exists too, else a seeded `val_size` slice
            of train, is the validation set. Without one, a seeded split of every image:
            `test_size`, then `val_size`, the rest for training. A mapping without val: takes a
            `val_size` slice of its train folder.
        image_size: side of the square crops (a multiple of the U-Net's 2**depth).
        train_scale: training images are resized so their shorter side is
            `train_scale * image_size`, then randomly cropped (1.0: crops only along the longer side).
        min_size: images whose shorter side is smaller are skipped (default: `image_size`).
        gray_chroma: images whose Lab chroma (99th percentile over pixels) is below this are
            grayscale or nearly so, and skipped; null keeps them.
        val_size, test_size: counts (int) or fractions of the images (float in (0, 1)), per root.
        split_seed: seed of the split, independent of the training seed.
        num_workers: DataLoader worker processes decoding images (and scanning the folder); at most
            the cores this process may use.
        scan_cache: folder for the scan's results, so the next run decodes only new or changed files.
        cache: decode every image once into a memory-mapped uint8 array under `scan_cache`/decoded
            (colorgan.data.decoded_cache) and gather batches from it: no decoding per epoch.
        batch_size, eval_batch_size: photos per training and per evaluation batch (conf/data/folder.yaml's).
        **kwargs: ColorizationDataModule's (color_space, flip, seed).
    """

    batch_sampler_class = CropSeededBatches  # random crops from (seed, epoch, image), see there

    def __init__(
        self,
        root: str | list,
        image_size: int = 64,
        train_scale: float = 1.125,
        min_size: int | None = None,
        gray_chroma: float | None = 5.0,
        val_size: int | float = 0.05,
        test_size: int | float = 0.1,
        split_seed: int = 0,
        num_workers: int = 4,
        scan_cache: str | None = None,
        cache: bool = False,
        batch_size: int = 32,
        eval_batch_size: int | None = 64,
        **kwargs,
    ) -> None:
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, **kwargs)
        if image_size < 1:
            raise ValueError(f"data.image_size must be a positive side in pixels, got {image_size}.")
        if train_scale < 1:
            raise ValueError(f"data.train_scale must be >= 1 (crops are never larger than the image), got {train_scale}.")
        self.root = root  # as configured; self.roots as parsed
        self.roots = parse_roots(root)
        self.where = self.roots[0].describe() if len(self.roots) == 1 else f"{len(self.roots)} photo roots"
        self.root_of: dict[Path, int] = {}  # file -> index of its root in self.roots
        self.image_size, self.train_scale = image_size, train_scale
        self.min_size = image_size if min_size is None else min_size
        self.gray_chroma = gray_chroma
        self.val_size, self.test_size, self.split_seed = val_size, test_size, split_seed
        # More decoding processes than cores only adds switching (and torch's warning): at most one per core.
        self.num_workers = min(num_workers, usable_cores())
        self.scan_cache = Path(scan_cache) if scan_cache else None
        if cache and self.scan_cache is None:
            raise ValueError("data.cache=true keeps the decoded images under data.scan_cache; set that folder too.")
        self.cache = cache
        self.caches: dict[str, CachedImages] = {}
        self.files: dict[str, list[Path]] | None = None
        self.skipped: Counter = Counter()  # over all splits, from the scan
        self.load_failures: dict[str, str] = {}  # path -> error, files that failed after the scan
        self._scanned: tuple[dict[str, list[Path]], dict[Path, ImageInfo]] | None = None

    # -- splits ----------------------------------------------------------------------------------
    def _split_files(self) -> dict[str, list[Path]]:
        """Every root split on its own, then joined; self.root_of says where each file came from."""
        joined: dict[str, list[Path]] = {split: [] for split in SPLITS}
        self.root_of = {}
        for index, root in enumerate(self.roots):
            for split, paths in split_root(root, self.val_size, self.test_size, self.split_seed).items():
                joined[split] += paths
                self.root_of.update(dict.fromkeys(paths, index))
        return joined

    def _cache_file(self) -> Path | None:
        if self.scan_cache is None:
            return None
        return self.scan_cache / f"{roots_label(self.roots)}-{roots_digest(self.roots)}.json"

    # -- Lightning hooks ---------------------------------------------------------------------------
    def _split_and_scan(self) -> tuple[dict[str, list[Path]], dict[Path, ImageInfo]]:
        check_roots(self.root)
        split = self._split_files()
        paths = [p for split_paths in split.values() for p in split_paths]
        if not paths:
            raise DatasetError(f"No image files under {self.where} (extensions Pillow opens: .jpg, .png, ...).")
        return split, dict(zip(paths, scan_images(paths, self.num_workers, self._cache_file()), strict=True))

    def prepare_data(self) -> None:
        """Once per node, before `setup` in every process: scan the folder and write the scan cache
        (and build the decoded cache), so the processes of a multi-GPU run read them instead of each
        decoding every file."""
        if self.cache:
            self.setup()
        elif self.scan_cache is not None and self.files is None:
            self._scanned = self._split_and_scan()

    def setup(self, stage: str | None = None) -> None:
        if self.files is not None:
            return
        split, infos = self._scanned or self._split_and_scan()
        self._scanned = None
        paths = list(infos)
        self.files = {}
        for name, split_paths in split.items():
            result = filter_images(split_paths, [infos[p] for p in split_paths], self.min_size, self.gray_chroma)
            warn_unreadable(result.errors)
            self.skipped += result.skipped
            self.files[name] = result.paths
        self._report(len(paths))
        for name, split_paths in self.files.items():
            if not split_paths:
                raise DatasetError(
                    f"No usable {name} images in {self.where}: "
                    f"{describe_skipped(self.skipped, self.min_size, self.gray_chroma)}. "
                    "Add colour images at least data.min_size px on their shorter side."
                )
        if self.cache:
            self._open_caches()

    def _open_caches(self) -> None:
        """The decoded cache of every split, built where it is absent, stale or damaged."""
        digest = roots_digest(self.roots)
        train_side = max(self.image_size, round(self.image_size * self.train_scale))
        for split, paths in self.files.items():
            crop = self.image_size if split == "train" else None
            spec = CacheSpec(f"{digest}-{split}", train_side if crop else self.image_size, crop)
            cache = DecodedCache(self.scan_cache / "decoded", spec, paths).open_or_build(self.num_workers)
            for index, error in cache.failed.items():
                self.load_failures.setdefault(str(paths[index]), error)
            self.caches[split] = cache.dataset()

    @rank_zero_only
    def _report(self, found: int) -> None:
        sizes = ", ".join(f"{name} {len(paths)}" for name, paths in self.files.items())
        per_root = ""
        if len(self.roots) > 1:
            counts = [Counter() for _ in self.roots]
            for split, paths in self.files.items():
                for path in paths:
                    counts[self.root_of[path]][split] += 1
            per_root = " (" + "; ".join(
                f"{root.describe()}: " + ", ".join(f"{split} {count[split]}" for split in SPLITS)
                for root, count in zip(self.roots, counts, strict=True)
            ) + ")"
        log.info(
            "Image %s %s: %d images found, %s; using %s%s at %d px.",
            "folder" if len(self.roots) == 1 else "folders:", self.where, found,
            describe_skipped(self.skipped, self.min_size, self.gray_chroma), sizes, per_root, self.image_size,
        )

    def _loader(self, split: str, train: bool) -> DataLoader:
        if self.caches:  # a gather from the page cache: worker processes would only add a copy
            dataset = self.caches[split]
            return self._whole_batch_loader(dataset, self._batch_sampler(len(dataset), train), train,
                                            pin_memory=torch.cuda.is_available())
        dataset = FolderImages(self.files[split], self.image_size, train, self.train_scale, replace_failed=True)
        sampler = self._batch_sampler(len(dataset), train)
        # Each index tensor is a whole batch, decoded by one worker.
        return self._whole_batch_loader(dataset, sampler, train, num_workers=self.num_workers,
                                        persistent_workers=self.num_workers > 0, pin_memory=torch.cuda.is_available())

    def on_before_batch_transfer(self, batch: FolderBatch, dataloader_idx: int) -> torch.Tensor:
        """In the main process: count and report files that failed in a worker, pass the images on."""
        for path, error in batch.failed:
            if path not in self.load_failures:
                self.load_failures[path] = error
                if rank_zero_only.rank == 0:
                    log.warning("Image %s failed to decode (%s); replaced by another image.", path, error)
        return batch.images

    def teardown(self, stage: str) -> None:
        if self.load_failures and rank_zero_only.rank == 0:
            log.warning("%d image(s) failed to decode while loading and were replaced.", len(self.load_failures))

    def split_sizes(self) -> tuple[int, int, int]:
        """How many train, validation and test photos (after setup)."""
        return tuple(len(self.files[split]) for split in SPLITS)

    def prior_images(self, count: int) -> torch.Tensor:
        """Up to `count` training images, a seeded choice, resized and centre-cropped: (N, 3, S, S) uint8."""
        if self.files is None:
            self.setup("fit")
        paths = self.files["train"]
        chosen = torch.randperm(len(paths), generator=torch.Generator().manual_seed(0))[:count].sort().values
        dataset = FolderImages([paths[i] for i in chosen], self.image_size, train=False, replace_failed=False)
        return torch.cat([dataset[part].images for part in torch.arange(len(dataset)).split(256)])

    def sample_images(self, count: int) -> torch.Tensor:
        """The first `count` readable test images, resized and centre-cropped: (N, 3, S, S) uint8."""
        if self.files is None:
            self.setup("test")
        dataset = FolderImages(self.files["test"], self.image_size, train=False, replace_failed=False)
        images, needed = [], count
        for start in range(0, len(dataset), count):
            batch = dataset[torch.arange(start, min(start + count, len(dataset)))].images
            images.append(batch[:needed])
            needed -= len(images[-1])
            if needed <= 0:
                break
        return torch.cat(images)
