"""Synthetic images and a CIFAR-10-format folder of them (80 training, 16 test images by default)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from colorgan.data import cifar10


def synthetic_images(count: int, seed: int = 0) -> np.ndarray:
    """(count, 3, 32, 32) uint8 images with smooth colour structure (gradients + blobs)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    images = np.empty((count, 3, 32, 32), dtype=np.float64)
    for i in range(count):
        for c in range(3):
            a, b, d = rng.uniform(-1, 1, 3)
            images[i, c] = 0.5 + 0.4 * np.tanh(a * xx + b * yy + d)
    images += rng.normal(0, 0.02, images.shape)
    return (images.clip(0, 1) * 255).round().astype(np.uint8)


def write_cifar(root: Path, per_batch: int = 16, seed: int = 0) -> Path:
    """A CIFAR-10 python-version folder under `root` with `per_batch` images per file."""
    folder = root / cifar10.FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(cifar10.TRAIN_FILES + cifar10.TEST_FILES):
        cifar10.write_batch(folder / name, synthetic_images(per_batch, seed + i), labels=[i % 10] * per_batch)
    return root
