"""The false-colour measure on constructed cases: the truth scores best, coloured blotches score
clearly worse, and desaturated (sepia-like) versions do not count as false colour."""

from __future__ import annotations

import pytest
import torch

from colorgan.color_space import lab_to_rgb, rgb_to_lab
from colorgan.metrics import FalseColor, colorization_metrics, false_color, per_image_metrics


def _scene() -> torch.Tensor:
    """(1, 3, 64, 64) RGB: a blue sky over green grass, a red ball and a gray wall (Lab built)."""
    lab = torch.zeros(1, 3, 64, 64)
    lab[:, 0] = 60.0
    lab[:, 1:, :32] = torch.tensor([-5.0, -35.0]).view(2, 1, 1)  # sky
    lab[:, 1:, 32:] = torch.tensor([-35.0, 30.0]).view(2, 1, 1)  # grass
    lab[:, 1:, 40:56, 8:24] = torch.tensor([50.0, 35.0]).view(2, 1, 1)  # red ball
    lab[:, 1:, 8:24, 40:60] = 0.0  # gray wall
    return lab_to_rgb(lab)


def _with_ab(rgb: torch.Tensor, edit) -> torch.Tensor:
    lab = rgb_to_lab(rgb)
    edit(lab)
    return lab_to_rgb(lab)


def test_truth_scores_zero():
    truth = _scene()
    assert false_color(truth, truth).item() == 0.0


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.6, 1.0])
def test_desaturated_versions_are_not_false_colour(keep):
    truth = _scene()
    faded = _with_ab(truth, lambda lab: lab[:, 1:].mul_(keep))
    assert false_color(faded, truth).item() < 0.5


def test_sepia_tint_is_not_false_colour():
    truth = _scene()

    def sepia(lab):
        lab[:, 1] = 6.0
        lab[:, 2] = 16.0

    assert false_color(_with_ab(truth, sepia), truth).item() < 0.5


def test_blotches_score_clearly_worse():
    truth = _scene()

    def blotches(lab):
        lab[:, 1:, 8:24, 40:60] = torch.tensor([10.0, -45.0]).view(2, 1, 1)  # blue on the gray wall
        lab[:, 1:, 44:60, 36:52] = torch.tensor([45.0, -20.0]).view(2, 1, 1)  # magenta on the grass

    painted = _with_ab(truth, blotches)
    score = false_color(painted, truth).item()
    share = 100.0 * (16 * 20 + 16 * 16) / 64**2  # the blotches' area
    assert score == pytest.approx(share, abs=1.0)
    assert score > 10.0


def test_wrong_hue_everywhere_is_all_false_colour():
    truth = _scene()
    swapped = _with_ab(truth, lambda lab: lab[:, 1:].neg_())  # every colour to its opposite
    gray_wall = 100.0 * 16 * 20 / 64**2  # the gray wall stays gray
    assert false_color(swapped, truth).item() == pytest.approx(100.0 - gray_wall, abs=1.0)


def test_metric_collection_and_per_image_agree():
    truth = torch.cat([_scene(), _scene()])
    pred = torch.cat([truth[:1], _with_ab(truth[1:], lambda lab: lab[:, 1:].neg_())])
    collection = colorization_metrics()
    collection.update(pred, truth)
    per_image = per_image_metrics(pred, truth)["false_color"]
    assert per_image[0].item() == 0.0 and per_image[1].item() > 50.0
    assert collection.compute()["false_color"].item() == pytest.approx(per_image.mean().item(), rel=1e-5)
    alone = FalseColor()
    alone.update(pred, truth)
    assert alone.compute().item() == pytest.approx(per_image.mean().item(), rel=1e-5)
