"""Colorization metrics, all computed on RGB images in [0, 1] (B, 3, H, W): the merged prediction
against the true image. torchmetrics where it has the metric, torchmetrics.Metric classes otherwise,
so every metric accumulates on the device and syncs across processes the same way. No update reads
a value back to the host (no bincount, no tensors made from Python lists per batch): on a GPU each
such read waits for every queued kernel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torchmetrics import MeanAbsoluteError, Metric, MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from colorgan.color_space import rgb_to_lab


class MAE255(MeanAbsoluteError):
    """Mean absolute error on the 0-255 scale (the unit of Nazeri et al.'s 5.1 on CIFAR-10)."""

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        super().update(preds.float() * 255.0, target.float() * 255.0)


class LabOfPair:
    """rgb_to_lab of a (preds, target) pair, shared by the Lab metrics of one collection: they are
    updated with the same two tensors, so each batch is converted once instead of once per metric
    (the Lab conversion is the costliest part of these metrics).

    The pair is held until `users` metrics have read it, then released. A pair is recognised by
    tensor identity and version counter, so a new batch (or one changed in place) is converted
    anew; inference tensors (Lightning's validate and test) have no version counter and are
    recognised by identity, which the collection's back-to-back updates make exact.
    """

    def __init__(self, users: int = 1) -> None:
        self.users = users
        self._pair: tuple | None = None
        self._lab: tuple[torch.Tensor, torch.Tensor] | None = None
        self._reads = 0

    def __call__(self, preds: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) RGB in [0, 1], twice -> their Lab, unscaled, in float32."""
        key = tuple(None if t.is_inference() else t._version for t in (preds, target))
        cached = self._pair is not None and self._pair[0] is preds and self._pair[1] is target and self._pair[2] == key
        if not cached:
            self._pair, self._reads = (preds, target, key), 0
            self._lab = rgb_to_lab(preds.float()), rgb_to_lab(target.float())
        lab = self._lab
        self._reads += 1
        if self._reads >= self.users:  # every user has it: hold no tensors between batches
            self._pair = self._lab = None
        return lab


class LabPixelAccuracy(Metric):
    """Share of pixels whose L, a and b are all within a tolerance of the truth (Nazeri et al.:
    |dL| <= 2, |da| <= 2.2, |db| <= 2.2 in unscaled Lab, i.e. 2% of each channel's range)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, tol_l: float = 2.0, tol_ab: float = 2.2, lab: LabOfPair | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tol = (tol_l, tol_ab, tol_ab)
        # (1, 3, 1, 1); a buffer, so it moves with the metric and is not rebuilt from a list per batch.
        self.register_buffer("tolerance", torch.tensor(self.tol).view(1, 3, 1, 1), persistent=False)
        self.lab = lab or LabOfPair()
        self.add_state("hits", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        lab_p, lab_t = self.lab(preds, target)
        diff = (lab_p - lab_t).abs()  # (B, 3, H, W)
        hits = (diff <= self.tolerance).all(dim=1)
        self.hits += hits.sum()
        self.total += hits.numel()

    def compute(self) -> torch.Tensor:
        return (self.hits / self.total).float()


class ABErrorAuC(Metric):
    """Area under the curve of "share of pixels whose Euclidean ab error is <= t" for integer
    thresholds t = 0..max_threshold, normalised to [0, 1] (Zhang et al. 2016's raw accuracy)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, max_threshold: int = 150, lab: LabOfPair | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_threshold = max_threshold
        self.lab = lab or LabOfPair()
        # counts[k]: pixels whose ceil(error) == k, for k < max+1; the last bin holds the rest.
        self.add_state("counts", torch.zeros(max_threshold + 2, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        lab_p, lab_t = self.lab(preds, target)
        ab_p, ab_t = lab_p[:, 1:], lab_t[:, 1:]
        err = (ab_p - ab_t).pow(2).sum(dim=1).sqrt().flatten()
        # error <= t  <=>  ceil(error) <= t for integer t. index_add_, not bincount: bincount reads the
        # largest bin back to the host to size its result.
        bins = err.ceil().clamp(max=self.max_threshold + 1).long()
        self.counts.index_add_(0, bins, torch.ones_like(err, dtype=self.counts.dtype))

    def compute(self) -> torch.Tensor:
        cdf = self.counts.cumsum(0)[: self.max_threshold + 1] / self.counts.sum()
        return cdf.mean().float()


class Colorfulness(Metric):
    """Hasler and Suesstrunk (2003) colorfulness on the 0-255 scale, averaged over images.

    With `of_target=True` it measures the true images instead of the predictions, so the
    model's colorfulness can be read next to that of the truth.
    """

    full_state_update = False
    higher_is_better = None

    def __init__(self, of_target: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.of_target = of_target
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        self.total += colorfulness(target if self.of_target else preds).sum()
        self.count += preds.shape[0]

    def compute(self) -> torch.Tensor:
        return (self.total / self.count).float()


FALSE_COLOR_DISTANCE = 20.0  # ab units: a clearly different colour, not a shade or a faint tint (sepia: chroma ~17)


def false_color_mask(lab_pred: torch.Tensor, lab_true: torch.Tensor, distance: float = FALSE_COLOR_DISTANCE) -> torch.Tensor:
    """(B, H, W) bool: pixels painted with a colour the truth does not have.

    A pixel's prediction is false colour when its ab lies more than `distance` from every
    desaturated version of the true colour: the segment from gray (0, 0) to the true ab. Gray,
    a weaker (sepia-like or faded) version of the right colour, or a faint tint (chroma under
    `distance`) are never false colour; a vivid wrong hue, a colour on a gray object, or a colour
    far more saturated than the truth's are. Lab images (B, 3, H, W), unscaled (a, b in about
    [-110, 110])."""
    ab_p, ab_t = lab_pred[:, 1:].float(), lab_true[:, 1:].float()
    # Projection of the prediction onto the segment [0, ab_t], as a fraction t in [0, 1] of ab_t.
    t = ((ab_p * ab_t).sum(dim=1) / ab_t.pow(2).sum(dim=1).clamp_min(1e-6)).clamp(0.0, 1.0)
    nearest = ab_t * t.unsqueeze(1)
    return (ab_p - nearest).pow(2).sum(dim=1) > distance**2


class FalseColor(Metric):
    """Share of pixels, in percent, painted with false colour (see false_color_mask): 0 for the
    truth and for any desaturated version of it, high for vivid colour in the wrong places.
    Read beside colorfulness: vivid and right is high colorfulness with low false colour."""

    full_state_update = False
    higher_is_better = False

    def __init__(self, distance: float = FALSE_COLOR_DISTANCE, lab: LabOfPair | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.distance = distance
        self.lab = lab or LabOfPair()
        self.add_state("hits", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        mask = false_color_mask(*self.lab(preds, target), self.distance)
        self.hits += mask.sum()
        self.total += mask.numel()

    def compute(self) -> torch.Tensor:
        return (100.0 * self.hits / self.total).float()


def false_color(preds: torch.Tensor, target: torch.Tensor, distance: float = FALSE_COLOR_DISTANCE) -> torch.Tensor:
    """Per-image false colour (percent of pixels) of (B, 3, H, W) RGB in [0, 1] -> (B,)."""
    mask = false_color_mask(rgb_to_lab(preds.float()), rgb_to_lab(target.float()), distance)
    return 100.0 * mask.flatten(1).float().mean(dim=1)


def colorfulness(rgb: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Per-image colorfulness M = sigma_rgyb + 0.3 mu_rgyb of (B, 3, H, W) RGB in [0, 1] -> (B,).
    `eps` under each square root gives it gradients everywhere (a loss's; a gray photo's sigma is 0)."""
    r, g, b = (rgb.float() * 255.0).flatten(2).unbind(dim=1)  # each (B, H*W)
    rg, yb = r - g, 0.5 * (r + g) - b
    sigma = (rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False) + eps).sqrt()
    mu = (rg.mean(dim=1).pow(2) + yb.mean(dim=1).pow(2) + eps).sqrt()
    return sigma + 0.3 * mu


def colorization_metrics(prefix: str = "") -> MetricCollection:
    """Every metric we report, keyed by short names (mae, psnr, ssim, acc, auc, colorfulness, ...)."""
    lab = LabOfPair(users=3)  # acc, auc and false_color convert each batch to Lab once between them
    return MetricCollection(
        {
            "mae": MAE255(),
            # Per-image PSNR, then the mean over images (dim makes it per image).
            "psnr": PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3), reduction="elementwise_mean"),
            "ssim": StructuralSimilarityIndexMeasure(data_range=1.0),
            "acc": LabPixelAccuracy(lab=lab),
            "auc": ABErrorAuC(lab=lab),
            "colorfulness": Colorfulness(),
            "colorfulness_true": Colorfulness(of_target=True),
            "false_color": FalseColor(lab=lab),
        },
        prefix=prefix,
        # Colorfulness and colorfulness_true share a state layout; grouping would merge them.
        compute_groups=False,
    )


def per_image_metrics(preds: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """MAE (0-255), PSNR (dB), colorfulness and false colour (%) of each image of a (B, 3, H, W) RGB
    pair in [0, 1]: what the report's bootstrap intervals resample. Their means equal the
    collection's mae, psnr, colorfulness and false_color over the same (equal-sized) images."""
    preds, target = preds.float(), target.float()
    diff = preds - target
    mse = diff.pow(2).flatten(1).mean(dim=1)
    return {
        "mae": diff.abs().flatten(1).mean(dim=1) * 255.0,
        "psnr": 10.0 * torch.log10(1.0 / mse.clamp_min(1e-10)),
        "colorfulness": colorfulness(preds),
        "false_color": false_color(preds, target),
    }


class AgainstGray(torch.nn.Module):
    """The metric suite of a prediction (`model`) and, beside it, of the gray input it was made from
    (`baseline`), both against the colour original: the one form in which testing and validation
    (models/base.py), evaluate and colorize --compare keep "model against gray" over many images.
    Image by image, the same pair is per_image_against_gray's."""

    def __init__(self, prefix: str = "", baseline_prefix: str = "") -> None:
        super().__init__()
        self.model, self.baseline = colorization_metrics(prefix), colorization_metrics(baseline_prefix)

    def update(self, pred: torch.Tensor, gray: torch.Tensor, target: torch.Tensor) -> None:
        """Add (B, 3, H, W) RGB predictions and the gray inputs they were made from, against `target`.
        A channels_last prediction (model.channels_last, RGB space) is made contiguous: torchmetrics views it."""
        target = target.contiguous()
        self.model.update(pred.contiguous(), target)
        self.baseline.update(gray.contiguous(), target)

    def compute(self) -> tuple[dict[str, float], dict[str, float]]:
        """({metric: value} of the model, the same of the gray baseline)."""
        return ({k: float(v) for k, v in self.model.compute().items()},
                {k: float(v) for k, v in self.baseline.compute().items()})


def per_image_against_gray(pred: torch.Tensor, gray: torch.Tensor, target: torch.Tensor,
                           semantic: Callable[..., dict[str, torch.Tensor]] | None = None,
                           labels: Sequence[int] | None = None) -> dict[str, torch.Tensor]:
    """per_image_metrics of the prediction and, under `baseline_*`, of the gray input it was made
    from: the one form in which testing and evaluate keep "model against gray" image by image.
    `semantic` (colorgan.nets.judge.SemanticJudge) adds the semantic test's columns (agree, ...;
    class_acc with `labels`, the ImageNet class of each photo or -1)."""
    both = per_image_metrics(pred, target)
    both.update({f"baseline_{k}": v for k, v in per_image_metrics(gray, target).items()})
    if semantic is not None:
        both.update(semantic(pred, gray, target, labels))
    return both


def semantic_means(columns: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """({agree, class_acc} of the model, the same of the gray input, and `truth_class_acc`) as means
    over photos, NaN rows (no label) left out; empty when the semantic test did not run."""
    model, baseline = {}, {}
    for key, target in (("agree", model), ("class_acc", model), ("truth_class_acc", model),
                        ("baseline_agree", baseline), ("baseline_class_acc", baseline)):
        if key in columns:
            values = torch.as_tensor(columns[key], dtype=torch.float64)
            values = values[~values.isnan()]
            if len(values):
                target[key.removeprefix("baseline_")] = float(values.mean())
    return model, baseline
