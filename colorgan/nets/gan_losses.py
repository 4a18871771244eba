"""Adversarial losses on raw discriminator outputs (logits), so no model ends in a sigmoid.

Every loss has the same shape: the discriminator's loss is a real term plus a fake term, the
generator's is one term on D(fake). The L1 term of the colorizer is added by the model.

    vanilla  the paper's log loss, as BCE-with-logits (numerically safe); the generator uses the
             non-saturating form -log D(G(x)) rather than log(1 - D(G(x))).
    lsgan    least squares (Mao et al. 2017): D pushes real to 1 and fake to 0, G pushes fake to 1.
    hinge    D: relu(1 - D(real)) + relu(1 + D(fake)); G: -D(fake) (Miyato et al., SAGAN).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

GAN_LOSSES = ("vanilla", "lsgan", "hinge")


class GANLoss:
    """Discriminator and generator losses of one kind, on logits of any shape (patches or one per image).

    Args:
        kind: "vanilla", "lsgan" or "hinge".
        real_label: the target for real samples in D's loss; 0.9 is one-sided label smoothing
            (Salimans et al. 2016). Fake targets stay 0 and G's target stays 1. Vanilla and lsgan only.
    """

    def __init__(self, kind: str = "vanilla", real_label: float = 1.0) -> None:
        if kind not in GAN_LOSSES:
            raise ValueError(f"Unknown GAN loss {kind!r}; valid names: {', '.join(GAN_LOSSES)}.")
        if not 0.0 < real_label <= 1.0:
            raise ValueError(f"real_label must be in (0, 1] (1.0: no smoothing, 0.9: one-sided smoothing), got {real_label}.")
        if kind == "hinge" and real_label != 1.0:
            raise ValueError("Label smoothing has no meaning for the hinge loss; use real_label=1.0 with gan_loss=hinge.")
        self.kind, self.real_label = kind, float(real_label)

    def __repr__(self) -> str:
        return f"GANLoss({self.kind!r}, real_label={self.real_label})"

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """D's loss from its logits on real and on (detached) generated samples."""
        real, fake = real.float(), fake.float()
        if self.kind == "vanilla":
            return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, self.real_label))
                    + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        if self.kind == "lsgan":
            return F.mse_loss(real, torch.full_like(real, self.real_label)) + F.mse_loss(fake, torch.zeros_like(fake))
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()

    def generator(self, fake: torch.Tensor) -> torch.Tensor:
        """G's adversarial loss from D's logits on generated samples (gradient flows into G)."""
        fake = fake.float()
        if self.kind == "vanilla":
            return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))  # -log sigmoid(fake)
        if self.kind == "lsgan":
            return F.mse_loss(fake, torch.ones_like(fake))
        return -fake.mean()

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        """Mean D(x) as the loss reads it: a probability for vanilla, the raw output otherwise."""
        logits = logits.detach().float()
        return torch.sigmoid(logits).mean() if self.kind == "vanilla" else logits.mean()
