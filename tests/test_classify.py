"""The classification colorizer: ab bins, soft encoding, rebalancing and annealed-mean decoding by
hand, then `+experiment=classify` through the real trainer, colorize and export."""

from __future__ import annotations

import pytest
import torch
from helpers.configs import TINY, compose_train
from hydra.utils import instantiate

from colorgan.color_space import AB_SCALE, ColorSpace
from colorgan.inference import Colorizer
from colorgan.models.classify_colorizer import ClassifyColorizer
from colorgan.models.unet_colorizer import UNetColorizer
from colorgan.nets.ab_bins import (
    annealed_mean,
    gamut_bins,
    nearest_bin,
    rebalancing_weights,
    smoothed_prior,
    soft_encode_sparse,
)
from colorgan.nets.colourfulness_loss import chroma_deficit, colourfulness_deficit
from colorgan.train import train


def test_gamut_bins_are_the_grid_cells_sRGB_reaches():
    bins = gamut_bins() * AB_SCALE
    assert bins.shape == (262, 2)
    assert (bins.abs() <= AB_SCALE).all() and (bins % 10 == 0).all()
    assert (bins == 0).all(dim=1).any()  # gray
    # Saturated sRGB primaries fall in a bin: red (a~80, b~67), blue (a~79, b~-108), green (a~-86, b~83).
    for a, b in [(80, 70), (80, -110), (-90, 80)]:
        assert ((bins - torch.tensor([a, b])).abs().max(dim=1).values == 0).any(), (a, b)
    assert not ((bins - torch.tensor([-110, -110])).abs().max(dim=1).values == 0).any()  # no sRGB colour there


def _ab(*pairs: tuple[float, float]) -> torch.Tensor:
    """(1, 2, 1, N) scaled ab of unscaled (a, b) pairs."""
    return torch.tensor(pairs).T.reshape(1, 2, 1, len(pairs)) / AB_SCALE


def soft_encode(ab: torch.Tensor, bins: torch.Tensor, **options) -> torch.Tensor:
    """soft_encode_sparse as a dense (B, Q, H, W) distribution, to read by bin."""
    index, weights = soft_encode_sparse(ab, bins, **options)
    return ab.new_zeros(*index.shape[:3], bins.shape[0]).scatter_(-1, index, weights).permute(0, 3, 1, 2)


def test_nearest_bin_and_soft_encoding_by_hand():
    bins = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [30.0, 30.0]]) / AB_SCALE
    ab = _ab((1.0, 0.0), (6.0, 0.0), (29.0, 33.0))
    assert nearest_bin(ab, bins).flatten().tolist() == [0, 1, 3]
    z = soft_encode(ab, bins, neighbours=2, sigma=5.0)[0, :, 0]  # (Q, N)
    assert torch.allclose(z.sum(dim=0), torch.ones(3))
    # Pixel 0 (a=1): nearest bins 0 (d^2=1) and 1 (d^2=81); weights exp(-d^2/50), normalised.
    w0, w1 = torch.exp(torch.tensor(-1 / 50)), torch.exp(torch.tensor(-81 / 50))
    assert z[0, 0].item() == pytest.approx((w0 / (w0 + w1)).item(), rel=1e-5)
    assert z[1, 0].item() == pytest.approx((w1 / (w0 + w1)).item(), rel=1e-5)
    assert z[2, 0].item() == 0.0 and z[3, 0].item() == 0.0


def test_rebalancing_weights_by_hand():
    prior = torch.tensor([0.5, 0.3, 0.2])
    # lambda 0.5: w ~ 1 / (0.5 p + 0.5 / 3), scaled so that sum(p w) = 1.
    raw = [1 / (0.5 * 0.5 + 0.5 / 3), 1 / (0.5 * 0.3 + 0.5 / 3), 1 / (0.5 * 0.2 + 0.5 / 3)]
    scale = sum(p * w for p, w in zip([0.5, 0.3, 0.2], raw, strict=True))
    expected = [w / scale for w in raw]
    assert rebalancing_weights(prior, 0.5).tolist() == pytest.approx(expected, rel=1e-6)
    assert rebalancing_weights(prior, 1.0).tolist() == pytest.approx([1.0, 1.0, 1.0])  # uniform: no rebalancing
    assert rebalancing_weights(prior, 0.0).tolist() == pytest.approx([1 / 0.5 / 3, 1 / 0.3 / 3, 1 / 0.2 / 3])  # 1/p
    w = rebalancing_weights(prior, 0.5)
    assert w[2] > w[1] > w[0]  # rarer colours weigh more


def test_smoothed_prior():
    bins = torch.tensor([[0.0, 0.0], [10.0, 0.0], [100.0, 100.0]]) / AB_SCALE
    counts = torch.tensor([3.0, 1.0, 0.0])
    assert smoothed_prior(counts, bins, sigma=0.01).tolist() == pytest.approx([0.75, 0.25, 0.0], abs=1e-6)
    smoothed = smoothed_prior(counts, bins, sigma=5.0)
    assert smoothed.sum().item() == pytest.approx(1.0)
    assert 0.25 < smoothed[1] < smoothed[0] < 0.75 and smoothed[2] < 1e-6  # mass spreads to the neighbour only


def test_annealed_mean_is_the_mean_at_1_and_the_mode_towards_0():
    bins = torch.tensor([[0.0, 0.0], [0.5, 0.0], [0.0, -0.5]])
    probs = torch.tensor([0.2, 0.5, 0.3]).view(1, 3, 1, 1)
    logits = probs.log().permute(0, 2, 3, 1) + 1.7  # (B, H, W, Q); any constant: softmax ignores it
    mean = (probs[0, :, 0, 0, None] * bins).sum(dim=0)
    assert annealed_mean(logits, bins, 1.0)[0, :, 0, 0].tolist() == pytest.approx(mean.tolist(), abs=1e-6)
    for temperature in (0.0, 1e-3):
        assert annealed_mean(logits, bins, temperature)[0, :, 0, 0].tolist() == pytest.approx([0.5, 0.0], abs=1e-5)
    # In between: more saturated than the mean, less than the mode.
    mid = annealed_mean(logits, bins, 0.38)[0, :, 0, 0]
    assert mean.norm() < mid.norm() < 0.5


def test_rgb_is_refused_clearly():
    with pytest.raises(ValueError, match="needs color_space 'lab'"):
        ClassifyColorizer(color_space="rgb")


def test_decoded_l1_adds_the_decoded_colours_distance_and_reaches_the_logits():
    """A head biased towards one vivid bin tints a gray photo: the decoded L1 term is that tint's
    size, added to the cross-entropy, and its gradient reaches the head's bias."""
    torch.manual_seed(0)
    plain = ClassifyColorizer(generator={"channels": [8, 16]})
    tinted = ClassifyColorizer(generator={"channels": [8, 16]}, decoded_l1=2.0)
    tinted.load_state_dict(plain.state_dict())
    vivid = int(plain.generator.bins.norm(dim=1).argmax())
    for model in (plain, tinted):
        with torch.no_grad():
            model.generator.logits_head.bias[vivid] = 20.0
    inputs, targets = torch.rand(2, 1, 16, 16) * 2 - 1, torch.zeros(2, 2, 16, 16)  # gray originals
    base = plain.training_loss(inputs, targets)
    loss = tinted.training_loss(inputs, targets)
    tint = tinted.generator(inputs).abs().mean()
    assert float(tint) > 0.3  # the bias paints a strong colour
    assert float(tinted.loss_parts["decoded_l1"]) == pytest.approx(float(tint), rel=1e-4)
    assert float(loss) == pytest.approx(float(base) + 2.0 * float(tint), rel=1e-4)
    loss.backward()
    assert float(tinted.generator.logits_head.bias.grad[vivid]) > 0  # lowering the vivid bin's logit lowers the loss
    with pytest.raises(ValueError, match="decoded_l1"):
        ClassifyColorizer(decoded_l1=-1.0)


def test_colourfulness_charges_a_pale_prediction_and_not_a_vivid_one():
    """The deficit is zero once the prediction is as colourful as the original, positive and
    pushing the head towards colour when it is paler (a gray head on vivid originals)."""
    torch.manual_seed(0)
    model = ClassifyColorizer(generator={"channels": [8, 16]}, colourfulness=3.0)
    inputs = torch.rand(2, 1, 16, 16) * 2 - 1
    vivid = torch.zeros(2, 2, 16, 16)
    vivid[:, 0, :, :8], vivid[:, 1, :, 8:] = 0.5, -0.5  # half red-ish, half blue-ish
    loss = model.training_loss(inputs, vivid)
    deficit = float(model.loss_parts["colourfulness"])
    assert deficit > 0.1  # an untrained head is near gray: well under the originals' colour
    loss.backward()
    assert model.generator.logits_head.bias.grad.abs().sum() > 0
    pale = model.training_loss(inputs, torch.zeros(2, 2, 16, 16))  # gray originals: nothing to make up
    assert float(model.loss_parts["colourfulness"]) == 0.0
    assert torch.isfinite(pale)
    with pytest.raises(ValueError, match="colourfulness"):
        ClassifyColorizer(colourfulness=-1.0)


def test_the_unet_takes_the_same_charge_for_paleness_and_it_pushes_its_colour_out():
    """UNetColorizer's colourfulness term (the hint model's too): L1 plus weight x the deficit, and
    one gradient step on a pale prediction makes the next one more colourful."""
    torch.manual_seed(0)
    model = UNetColorizer(generator={"channels": [8, 16]}, colourfulness=2.0)
    inputs = torch.rand(2, 1, 16, 16) * 2 - 1
    vivid = torch.zeros(2, 2, 16, 16)
    vivid[:, 0, :, :8], vivid[:, 1, :, 8:] = 0.5, -0.5
    loss = model.training_loss(inputs, vivid)
    deficit, colour = float(model.loss_parts["colourfulness"]), float(model.loss_parts["colour"])
    assert deficit > 0.1 and float(loss) == pytest.approx(colour + 2.0 * deficit, rel=1e-5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    optimizer.zero_grad()
    (2.0 * colourfulness_deficit(model.color_space.merge(inputs, model(inputs)), model.color_space.merge(inputs, vivid))).backward()
    optimizer.step()
    model.training_loss(inputs, vivid)
    assert float(model.loss_parts["colourfulness"]) < deficit
    model.training_loss(inputs, torch.zeros(2, 2, 16, 16))
    assert float(model.loss_parts["colourfulness"]) == 0.0  # gray originals: nothing to make up
    with pytest.raises(ValueError, match="colourfulness"):
        UNetColorizer(colourfulness=-1.0)


def test_the_charge_per_pixel_asks_for_colour_only_where_the_original_has_it():
    """model.colourfulness_where=pixel: a photo half gray and half red in its original. Painting the
    gray half pink pays the per-photo charge but not the per-pixel one; a gradient step of the
    per-pixel charge makes the red half more colourful (along the hue it has) and asks nothing of the gray half."""
    torch.manual_seed(0)
    inputs = torch.zeros(1, 1, 16, 16)
    half_red = torch.zeros(1, 2, 16, 16)
    half_red[:, 0, :, 8:] = 0.5  # left half gray, right half red (a > 0)
    pink_left = torch.zeros(1, 2, 16, 16)
    pink_left[:, 0, :, :8] = 0.6  # colour, but on the wrong half
    space = UNetColorizer(generator={"channels": [8, 16]}).color_space
    true_rgb, wrong_rgb = space.merge(inputs, half_red), space.merge(inputs, pink_left)
    assert float(colourfulness_deficit(wrong_rgb, true_rgb)) == 0.0  # the photo is colourful enough
    assert float(chroma_deficit(wrong_rgb, true_rgb)) > 0.1  # but the red half is left gray
    assert float(chroma_deficit(true_rgb, true_rgb)) == pytest.approx(0.0, abs=1e-6)

    model = UNetColorizer(generator={"channels": [8, 16]}, colourfulness=1.0, colourfulness_where="pixel")
    model.training_loss(inputs, half_red)
    assert float(model.loss_parts["colourfulness"]) > 0.1
    pred = (0.02 * torch.randn(1, 2, 16, 16)).requires_grad_()  # pale, of no one hue
    chroma_deficit(space.merge(inputs, pred), true_rgb).backward()
    stepped = pred.detach() - 20.0 * pred.grad
    assert stepped[:, :, :, 8:].norm(dim=1).mean() > 2 * pred.detach()[:, :, :, 8:].norm(dim=1).mean()
    assert float(pred.grad[:, :, :, :8].abs().max()) == 0.0  # nothing asked of the gray half
    with pytest.raises(ValueError, match="colourfulness_where"):
        UNetColorizer(colourfulness=1.0, colourfulness_where="everywhere")


def test_classify_trains_with_the_semantic_loss_on_its_decoded_colour(tiny_cifar, tmp_path):
    overrides = ["+experiment=classify", *TINY, "test=false", "model.decoded_l1=1.0",
                 "model.semantic={classifier: efficientnet_lite0, feature: 0.05, kl: 0.05, size: 64}",
                 "model.colourfulness=1.0"]
    cfg = compose_train(overrides, tmp_path / "run", tiny_cifar)
    train(cfg)
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["hyper_parameters"]["semantic"]["classifier"] == "efficientnet_lite0"
    assert not any("semantic" in k for k in checkpoint["state_dict"])  # the frozen classifier stays out


def test_prior_is_counted_once_from_the_training_images(tiny_cifar, tmp_path):
    cfg = compose_train(["+experiment=classify", *TINY, "test=false"], tmp_path / "run", tiny_cifar)
    train(cfg)
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    state = checkpoint["state_dict"]
    assert state["prior_count"].item() == 64  # every synthetic training image (80 less 16 validating)
    prior, weights = state["prior"], state["class_weights"]
    assert prior.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert (prior * weights).sum().item() == pytest.approx(1.0, abs=1e-4)
    assert weights.max() / weights.min() > 1.5  # rebalancing took effect
    # The prior matches a count of the same images' ab by hand.
    model = ClassifyColorizer(generator={"channels": [8, 16, 32]})
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    counts = model.count_bins(datamodule.train_images)
    assert torch.allclose(prior, smoothed_prior(counts, model.generator.bins), atol=1e-6)


def test_classify_trains_tests_colorizes_and_exports(tiny_cifar, tmp_path, capsys):
    cfg = compose_train(["+experiment=classify_lrelu", *TINY, "model.temperature=0.5"], tmp_path / "run", tiny_cifar)
    metrics = train(cfg)
    for name in ("mae", "psnr", "colorfulness", "false_color"):
        assert torch.isfinite(torch.tensor(metrics[f"test/{name}"])), name
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    colorizer = Colorizer.from_checkpoint(checkpoint, device="cpu")
    assert colorizer.net.generator.temperature == 0.5
    photo = torch.rand(3, 45, 30, generator=torch.Generator().manual_seed(1))
    out = colorizer.colorize([photo])[0]
    assert out.shape == (3, 45, 30)
    lab = ColorSpace("lab")
    torch.testing.assert_close(lab.split(out[None])[0], lab.split(photo[None])[0], atol=2e-3, rtol=0)  # L kept

    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    from colorgan.export import build_module, main, run_onnx

    path = tmp_path / "classify.onnx"
    assert main([str(checkpoint), "--format", "onnx", "--fixed-shape", "-o", str(path)]) == 0
    rgb = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    module, _ = build_module(checkpoint)
    with torch.no_grad():
        torch.testing.assert_close(run_onnx(path, rgb), module(rgb), atol=1e-4, rtol=0)


def test_colorize_temperature_option(tiny_cifar, tiny_checkpoint, tmp_path, capsys):
    from colorgan.colorize import main as colorize

    cfg = compose_train(["+experiment=classify", *TINY, "test=false"], tmp_path / "run", tiny_cifar)
    train(cfg)
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.effect_noise((40, 30), 60).convert("RGB").save(photo)
    outputs = {}
    for temperature in ("1", "0"):
        out = tmp_path / f"out_t{temperature}"
        assert colorize([str(checkpoint), str(photo), "-o", str(out), "--temperature", temperature]) == 0
        outputs[temperature] = Image.open(next(out.glob("*.png")))
    assert outputs["1"].tobytes() != outputs["0"].tobytes()
    # A regression checkpoint has no temperature: one clear line, exit 2.
    assert colorize([str(tiny_checkpoint("lab")), str(photo), "-o", str(tmp_path / "x"), "--temperature", "0.5"]) == 2
    assert "a temperature applies to classification models" in capsys.readouterr().err

    # evaluate takes the same option, to compare temperatures on a folder of the user's photos
    from colorgan.evaluate import main as evaluate

    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(3):
        Image.effect_noise((32, 32), 60 + 20 * seed).convert("RGB").resize((32, 32)).save(photos / f"{seed}.png")
    tinted = Image.merge("RGB", [Image.effect_noise((32, 32), 50).point(lambda v, k=k: v * k // 4) for k in (4, 2, 3)])
    tinted.save(photos / "tinted.png")
    results = {t: evaluate([str(checkpoint), str(photos), "--size", "32", "--workers", "0", "--keep-gray", "--no-extra",
                            "--temperature", t, "--output", str(tmp_path / f"eval_t{t}.json")]) for t in ("1", "0")}
    assert results["1"]["temperature"] == 1.0 and results["0"]["temperature"] == 0.0
    assert results["1"]["model"]["mae"] != results["0"]["model"]["mae"]
    assert results["1"]["baseline"] == results["0"]["baseline"]
