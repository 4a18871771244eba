"""Bootstrap intervals for test metrics: which differences between runs are real.

The test set is a sample of images; a run's mean metric would change with another sample. The
percentile bootstrap resamples the images (with replacement) to give a 95% interval for a run's
mean and, for two runs scored on the same images, for the mean of their per-image differences
(paired, so what the two runs share about each image's difficulty cancels). An interval that
holds 0 means the two runs are not distinguishable on this test set. These intervals cover the
choice of test images only, not the randomness of training: that is what seed repeats measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def bootstrap_means(values: np.ndarray, resamples: int = RESAMPLES, seed: int = 0, chunk: int = 250) -> np.ndarray:
    """Means of `resamples` resamples (with replacement, same size) of `values` (N,) -> (resamples,)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"bootstrap needs a non-empty 1-D array of per-image values, got shape {values.shape}.")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, chunk):  # (chunk, N) indices at a time: bounded memory for 10,000 images
        stop = min(start + chunk, resamples)
        means[start:stop] = values[rng.integers(0, len(values), size=(stop - start, len(values)))].mean(axis=1)
    return means


def mean_interval(values: Sequence[float] | np.ndarray, level: float = LEVEL, resamples: int = RESAMPLES,
                  seed: int = 0) -> Interval:
    """The mean of `values` and its percentile-bootstrap interval at `level`; NaN values (a photo
    without what the column needs, e.g. a class label) are left out."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    means = bootstrap_means(values, resamples, seed)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(float(values.mean()), float(low), float(high))


def paired_difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, level: float = LEVEL,
                      resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """Mean of a - b over the same images, with its bootstrap interval (the images resampled together)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a paired difference needs the same images in both runs, got {a.shape} and {b.shape} values.")
    return mean_interval(a - b, level, resamples, seed)


def share_better(model: Sequence[float] | np.ndarray, baseline: Sequence[float] | np.ndarray, higher_is_better: bool,
                 level: float = LEVEL, resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """The share (%) of images on which `model` beats `baseline` (the same images, in order), with its
    bootstrap interval: a mean can hide a model far better on a few images and worse on most; the share cannot."""
    model, baseline = np.asarray(model, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    if model.shape != baseline.shape:
        raise ValueError(f"a share of wins needs the same images on both sides, got {model.shape} and {baseline.shape} values.")
    better = model > baseline if higher_is_better else model < baseline
    return mean_interval(100.0 * better, level, resamples, seed)
