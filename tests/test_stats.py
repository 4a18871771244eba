"""Bootstrap intervals and paired differences against cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from colorgan.report.stats import bootstrap_means, mean_interval, paired_difference, share_better


def test_the_interval_of_a_normal_sample_matches_the_textbook_one():
    rng = np.random.default_rng(1)
    values = rng.normal(10.0, 2.0, 4000)
    interval = mean_interval(values, resamples=4000)
    half_width = 1.96 * values.std() / np.sqrt(len(values))  # 0.062
    assert interval.mean == pytest.approx(values.mean())
    assert interval.low == pytest.approx(values.mean() - half_width, abs=0.01)
    assert interval.high == pytest.approx(values.mean() + half_width, abs=0.01)


def test_a_constant_has_a_zero_width_interval_and_resampling_is_seeded():
    interval = mean_interval(np.full(50, 3.5))
    assert (interval.mean, interval.low, interval.high) == (3.5, 3.5, 3.5)
    values = np.arange(100.0)
    assert np.array_equal(bootstrap_means(values, 10, seed=3), bootstrap_means(values, 10, seed=3))
    assert not np.array_equal(bootstrap_means(values, 10, seed=3), bootstrap_means(values, 10, seed=4))


def test_a_paired_difference_sees_a_shift_that_unpaired_intervals_hide():
    """Per-image difficulty varies a lot (sd 5) but run b is exactly 0.1 worse on every image: the
    two runs' own intervals overlap, their paired difference is exactly 0.1, clearly not 0."""
    rng = np.random.default_rng(0)
    a = rng.normal(12.0, 5.0, 1000)
    b = a + 0.1
    ia, ib = mean_interval(a), mean_interval(b)
    assert ia.high > ib.low  # unpaired: overlapping
    diff = paired_difference(b, a)
    assert diff.mean == pytest.approx(0.1) and diff.low == pytest.approx(0.1) and diff.high == pytest.approx(0.1)
    assert diff.excludes_zero


def test_noise_alone_is_not_called_a_difference():
    rng = np.random.default_rng(2)
    a = rng.normal(12.0, 5.0, 2000)
    b = a + rng.normal(0.0, 1.0, 2000) - 0.0  # no systematic difference
    b += -(b - a).mean()  # exactly zero mean difference
    diff = paired_difference(a, b)
    assert diff.low < 0 < diff.high and not diff.excludes_zero
    assert diff.high - diff.low == pytest.approx(2 * 1.96 / np.sqrt(2000), rel=0.15)


def test_unpaired_inputs_are_refused():
    with pytest.raises(ValueError, match="same images"):
        paired_difference(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="non-empty"):
        mean_interval([])


def test_share_better_counts_wins_in_the_metric_s_direction_and_ties_as_no_win():
    model, gray = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.0, 2.0, 2.0])
    assert share_better(model, gray, higher_is_better=False).mean == 25.0  # MAE: only 1.0 < 2.0
    assert share_better(model, gray, higher_is_better=True).mean == 50.0  # PSNR: 3.0 and 4.0
    with pytest.raises(ValueError, match="same images"):
        share_better(model, gray[:3], higher_is_better=True)
