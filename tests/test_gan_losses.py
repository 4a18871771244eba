"""GAN losses on hand-made logits, and the discriminators' shapes and errors."""

from __future__ import annotations

import math

import pytest
import torch

from colorgan.nets.discriminators import GlobalDiscriminator, PatchDiscriminator, build_discriminator
from colorgan.nets.gan_losses import GANLoss


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values).view(len(values), 1, 1, 1)


def test_vanilla_is_the_log_loss_with_a_non_saturating_generator():
    loss = GANLoss("vanilla")
    # D: -log D(real) - log(1 - D(fake)), averaged over logits; at logit 0 each term is log 2.
    assert loss.discriminator(t(0.0, 0.0), t(0.0)).item() == pytest.approx(2 * math.log(2))
    expected = -(log_sigmoid(2.0) + log_sigmoid(-1.0)) / 2 - log_sigmoid(-0.5)  # 1 - sigmoid(x) = sigmoid(-x)
    assert loss.discriminator(t(2.0, -1.0), t(0.5)).item() == pytest.approx(expected, rel=1e-6)
    # G: -log D(fake), which is large (not flat) when D rejects the fake.
    assert loss.generator(t(-3.0)).item() == pytest.approx(-log_sigmoid(-3.0), rel=1e-6)
    assert loss.generator(t(-3.0)).item() > 3.0
    # D(x) is reported as a probability.
    assert loss.score(t(0.0, 100.0)).item() == pytest.approx(0.75)


def test_vanilla_is_finite_on_extreme_logits():
    loss = GANLoss("vanilla")
    huge = t(1e4, -1e4)
    assert torch.isfinite(loss.discriminator(huge, huge)) and torch.isfinite(loss.generator(huge))
    assert loss.discriminator(t(1e4), t(-1e4)).item() == pytest.approx(0.0, abs=1e-6)


def test_one_sided_label_smoothing_changes_only_the_real_target():
    smooth = GANLoss("vanilla", real_label=0.9)
    x = 2.0
    real_term = -(0.9 * log_sigmoid(x) + 0.1 * log_sigmoid(-x))
    assert smooth.discriminator(t(x), t(-x)).item() == pytest.approx(real_term - log_sigmoid(x), rel=1e-6)
    # The generator still aims at 1, the fake target is still 0.
    assert smooth.generator(t(x)).item() == pytest.approx(GANLoss("vanilla").generator(t(x)).item())
    lsgan = GANLoss("lsgan", real_label=0.9)
    assert lsgan.discriminator(t(0.9), t(0.0)).item() == pytest.approx(0.0)


def test_lsgan_and_hinge_values():
    lsgan = GANLoss("lsgan")
    assert lsgan.discriminator(t(0.5, 1.0), t(0.5)).item() == pytest.approx(0.25 / 2 + 0.25)
    assert lsgan.generator(t(0.0, 2.0)).item() == pytest.approx(1.0)
    assert lsgan.score(t(0.5, -0.5)).item() == pytest.approx(0.0)
    hinge = GANLoss("hinge")
    # relu(1 - real) + relu(1 + fake): real 0.5 -> 0.5, real 3 -> 0; fake -2 -> 0, fake 0 -> 1.
    assert hinge.discriminator(t(0.5, 3.0), t(-2.0, 0.0)).item() == pytest.approx(0.25 + 0.5)
    assert hinge.generator(t(1.0, -3.0)).item() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "wgan"}, "valid names: vanilla, lsgan, hinge"),
        ({"kind": "vanilla", "real_label": 1.5}, "real_label must be in"),
        ({"kind": "hinge", "real_label": 0.9}, "no meaning for the hinge"),
    ],
)
def test_bad_loss_settings_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GANLoss(**kwargs)


@pytest.mark.parametrize(("n_layers", "side"), [(1, 14), (2, 6), (3, 2)])
def test_patch_discriminator_gives_one_logit_per_patch(n_layers, side):
    d = PatchDiscriminator(3, channels=4, n_layers=n_layers, norm="instance")
    assert d(torch.randn(2, 3, 32, 32)).shape == (2, 1, side, side)
    assert d.output_size(32, 32) == (side, side)
    assert isinstance(d.model[1], torch.nn.Identity)  # no norm on the first layer
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in d.modules())


def test_global_discriminator_gives_one_logit_per_image():
    d = build_discriminator(4, name="global", channels=4, n_layers=5, norm="batch")
    assert isinstance(d, GlobalDiscriminator)
    assert d(torch.randn(3, 4, 32, 32)).shape == (3, 1)


def test_discriminator_errors_say_what_to_change():
    with pytest.raises(ValueError, match="to log2 of the image side"):
        GlobalDiscriminator(4, channels=4, n_layers=4)(torch.randn(2, 4, 32, 32))
    with pytest.raises(ValueError, match="at least 48 pixels"):
        PatchDiscriminator(4, channels=4, n_layers=4)(torch.randn(2, 4, 32, 32))
    with pytest.raises(ValueError, match="valid names: patch, global"):
        build_discriminator(4, name="pixel")
    with pytest.raises(ValueError, match="Unknown normalization"):
        PatchDiscriminator(4, norm="layer")
