"""Each metric against a value computed by hand on a small tensor."""

import pytest
import torch
from kornia.color import lab_to_rgb

from colorgan.color_space import ColorSpace
from colorgan.metrics import (
    MAE255,
    ABErrorAuC,
    AgainstGray,
    Colorfulness,
    LabPixelAccuracy,
    colorfulness,
    colorization_metrics,
)


def lab_image(lightness, a, b, size=4):
    lab = torch.tensor([lightness, a, b], dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, size, size)
    return lab_to_rgb(lab.contiguous())


def test_perfect_prediction_scores_perfectly():
    rgb = torch.rand(3, 3, 32, 32)
    m = colorization_metrics()
    m.update(rgb, rgb)
    out = m.compute()
    assert out["mae"] == 0 and out["acc"] == 1 and out["auc"] == 1
    assert out["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert out["colorfulness"] == pytest.approx(out["colorfulness_true"].item())


def test_mae_is_on_the_0_255_scale():
    m = MAE255()
    m.update(torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5))
    assert m.compute() == pytest.approx(127.5)


def test_psnr_is_the_mean_of_per_image_psnr():
    target = torch.full((2, 3, 8, 8), 0.5)
    preds = target.clone()
    preds[0] += 0.1  # MSE 0.01 -> 20 dB
    preds[1] += 0.01  # MSE 0.0001 -> 40 dB
    m = colorization_metrics()
    m.update(preds, target)
    # Per image then mean: 30 dB (the pooled MSE would give 22.97 dB).
    assert m.compute()["psnr"] == pytest.approx(30.0, abs=1e-3)


def test_pixel_accuracy_uses_the_paper_tolerances():
    truth = lab_image(50, 0, 0)
    inside = lab_image(51.5, 2.0, -2.0)  # |dL| 1.5 <= 2, |da|, |db| 2 <= 2.2
    outside = lab_image(50, 3.0, 0)  # |da| 3 > 2.2
    m = LabPixelAccuracy()
    m.update(torch.cat([inside, outside]), torch.cat([truth, truth]))
    assert m.compute() == pytest.approx(0.5)


def test_auc_of_a_constant_ab_error():
    truth = lab_image(50, 0, 0)
    pred = lab_image(50, 30.3, 40.4)  # ab error 50.5: counted from threshold 51 on, 100 of 151
    m = ABErrorAuC()
    m.update(pred, truth)
    assert m.compute() == pytest.approx(100 / 151, abs=1e-6)


def test_colorfulness_by_hand():
    image = torch.zeros(1, 3, 2, 2)
    image[0, 0, 0] = 1.0  # top row red
    image[0, 1, 1] = 1.0  # bottom row green
    # rg = +-255 (mean 0, std 255); yb = 127.5 everywhere (mean 127.5, std 0): 255 + 0.3 * 127.5
    assert colorfulness(image).item() == pytest.approx(293.25, rel=1e-5)
    gray = torch.full((1, 3, 2, 2), 0.3)
    m, truth = Colorfulness(), Colorfulness(of_target=True)
    m.update(gray, image)
    truth.update(gray, image)
    assert m.compute() == 0 and truth.compute() == pytest.approx(293.25, rel=1e-5)


@pytest.mark.parametrize("space", ["lab", "rgb"])
def test_grayscale_baseline_has_no_colour_and_keeps_structure(space):
    rgb = torch.rand(2, 3, 32, 32)
    cs = ColorSpace(space)
    inputs, _ = cs.split(rgb)
    m = colorization_metrics()
    m.update(cs.merge(inputs, cs.gray_target(inputs)), rgb)
    out = m.compute()
    assert out["colorfulness"] < 1e-2 < out["colorfulness_true"]
    assert 0 < out["mae"] < 255 and out["acc"] < 1


def test_against_gray_is_the_suite_of_the_prediction_beside_that_of_the_gray_input():
    torch.manual_seed(0)
    target, pred = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)
    gray = target.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    pair = AgainstGray(prefix="test/", baseline_prefix="test_baseline/")
    pair.update(pred, gray, target)
    model, baseline = pair.compute()
    for got, images, prefix in ((model, pred, "test/"), (baseline, gray, "test_baseline/")):
        alone = colorization_metrics(prefix)
        alone.update(images, target)
        assert got == {k: float(v) for k, v in alone.compute().items()}
    assert "test/mae" in model and "test_baseline/mae" in baseline
