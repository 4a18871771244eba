"""The Colorizer API: any size, the input's lightness kept, every Pillow mode, batch independence."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.configs import CONF_DIR, REPO, TINY, compose_train, experiment_spaces, on_a_photo_folder, tiny_overrides
from PIL import Image, ImageOps
from test_folder import FOLDER_TINY, write_tree

from colorgan import Colorizer
from colorgan.image_io import read_photo
from colorgan.inference import LAB, merge_in_gamut, merge_in_gamut_dense
from colorgan.metrics import colorfulness
from colorgan.train import train


def lightness(image: Image.Image) -> torch.Tensor:
    """L in Lab units (0-100) of a Pillow image (any mode Pillow converts to RGB), (H, W)."""
    rgb = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)
    return (LAB.split(rgb[None])[0][0, 0] + 1.0) * 50.0


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth colour test image with some saturated, dark and bright areas."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    channels = [np.sin(xx / max(width, 2) * a + yy / max(height, 2) * b + c) for a, b, c in rng.uniform(0, 6, (3, 3))]
    array = (np.stack(channels, -1) * 0.5 + 0.5) * 255
    return Image.fromarray(array.round().astype(np.uint8), "RGB")


@pytest.fixture(scope="module")
def lab_colorizer(tiny_checkpoint):
    return Colorizer.from_checkpoint(tiny_checkpoint("lab"), device="cpu")


@pytest.fixture(scope="module")
def rgb_colorizer(tiny_checkpoint):
    return Colorizer.from_checkpoint(tiny_checkpoint("rgb"), device="cpu")


@pytest.mark.parametrize("size", [(1, 1), (33, 47), (1000, 17), (17, 1000), (64, 64)])
def test_output_has_the_input_size(lab_colorizer, size):
    out = lab_colorizer(photo(*size))
    assert out.size == size and out.mode == "RGB"


@pytest.mark.parametrize("space", ["lab", "rgb"])
def test_output_keeps_the_input_lightness_and_adds_colour(space, lab_colorizer, rgb_colorizer):
    colorizer = lab_colorizer if space == "lab" else rgb_colorizer
    assert colorizer.color_space.name == space
    image = photo(97, 61)
    out = colorizer(image)
    # The 8-bit output's L equals the input's within rounding, even where predictions leave the gamut.
    assert (lightness(out) - lightness(image)).abs().max() < 0.5
    # ... and it is not just the gray input: the tiny model does predict colour.
    rgb = torch.from_numpy(np.asarray(out, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    assert colorfulness(rgb).item() > 5.0


def to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)


def test_colour_inputs_are_treated_as_gray(lab_colorizer):
    colour = to_tensor(photo(32, 32))  # at the working size: no resizing blurs the comparison
    gray = LAB.merge(LAB.split(colour[None])[0], torch.zeros(1, 2, 32, 32))[0]  # same L, no colour
    from_colour, from_gray = lab_colorizer.colorize([colour, gray])
    torch.testing.assert_close(from_colour, from_gray, atol=1e-3, rtol=0)
    assert (from_colour - colour).abs().mean() > 0.02  # the input's own colours are not copied


def test_result_does_not_depend_on_the_batch(lab_colorizer):
    images = [to_tensor(photo(w, h, seed)) for seed, (w, h) in enumerate([(32, 32), (50, 20), (32, 32), (7, 90)])]
    together = lab_colorizer.colorize(images)
    for image, batched in zip(images, together, strict=True):
        torch.testing.assert_close(lab_colorizer.colorize([image])[0], batched, atol=1e-5, rtol=0)



def test_a_photo_is_shrunk_once_the_network_takes_it_as_it_is(tiny_checkpoint, monkeypatch):
    """working_input shrinks the photo to its working shape; predict_working does not resize again
    (predict_ab, for tensors of any size, resizes and then calls it), so both paths agree."""
    from colorgan.image_io import photo_from_pil
    from colorgan.inference import colorizer as colorizer_module

    colorizer = Colorizer.from_checkpoint(tiny_checkpoint("lab"), size=32, device="cpu")
    image = photo(200, 100)
    working = colorizer.working_input(photo_from_pil(image))
    assert working.shape[-2:] == (16, 32)
    assert colorizer.predict_working([torch.rand(3, 20, 44)])[0].shape[-2:] == (20, 44)  # as it is
    resized = []
    real = colorizer_module.F.interpolate
    monkeypatch.setattr(colorizer_module.F, "interpolate", lambda *a, **k: resized.append(k) or real(*a, **k))
    from_working = colorizer.predict_working([working])[0]
    assert resized == []
    torch.testing.assert_close(from_working, colorizer.predict_ab([working])[0])


def test_working_size_changes_what_the_network_sees(tiny_checkpoint):
    image = photo(200, 100)
    small = Colorizer.from_checkpoint(tiny_checkpoint("lab"), size=32, device="cpu")
    large = Colorizer.from_checkpoint(tiny_checkpoint("lab"), size=96, device="cpu")
    assert [ab.shape[-2:] for ab in small.predict_ab([to_tensor(image)])] == [(16, 32)]
    assert [ab.shape[-2:] for ab in large.predict_ab([to_tensor(image)])] == [(48, 96)]
    assert large(image).size == small(image).size == (200, 100)


def test_gamut_fit_keeps_lightness_where_clipping_would_not():
    generator = torch.Generator().manual_seed(0)
    lab_in = torch.rand(1, 1, 20, 30, generator=generator) * 2 - 1
    ab = torch.rand(1, 2, 20, 30, generator=generator) * 2 - 1  # mostly far outside the gamut
    fitted = merge_in_gamut(lab_in, ab)
    assert ((LAB.split(fitted)[0] - lab_in).abs() * 50).max() < 0.1
    assert ((LAB.split(LAB.merge(lab_in, ab))[0] - lab_in).abs() * 50).max() > 5  # what clipping does
    torch.testing.assert_close(merge_in_gamut_dense(lab_in, ab), fitted, atol=1e-5, rtol=0)
    small = ab * 0.05
    mid = (lab_in.abs() < 0.5).expand(-1, 3, -1, -1)  # mid lightness: small chroma always fits
    torch.testing.assert_close(merge_in_gamut(lab_in, small)[mid], LAB.merge(lab_in, small)[mid])


# -- Pillow modes -------------------------------------------------------------------------------


def test_rgba_keeps_its_alpha(lab_colorizer, tmp_path):
    image = photo(30, 20)
    alpha = Image.fromarray(np.random.default_rng(1).integers(0, 256, (20, 30), dtype=np.uint8), "L")
    image.putalpha(alpha)
    image.save(tmp_path / "rgba.png")
    out = lab_colorizer(tmp_path / "rgba.png")
    assert out.mode == "RGBA" and out.size == (30, 20)
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))


def test_palette_with_transparency_keeps_it(lab_colorizer, tmp_path):
    image = photo(24, 16).quantize(16)
    image.info["transparency"] = 0
    image.save(tmp_path / "palette.png", transparency=0)
    out = lab_colorizer(tmp_path / "palette.png")
    expected_alpha = (np.asarray(Image.open(tmp_path / "palette.png")) != 0) * 255
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out.getchannel("A")), expected_alpha)


def test_16_bit_gray_png_uses_its_full_range(lab_colorizer, tmp_path):
    ramp = np.linspace(0, 65535, 40 * 24).reshape(24, 40).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "gray16.png")
    loaded = read_photo(tmp_path / "gray16.png")
    assert loaded.is_gray and Image.open(tmp_path / "gray16.png").mode.startswith("I")
    torch.testing.assert_close(loaded.rgb[0], torch.from_numpy(ramp / 65535.0).float())
    out = lab_colorizer(tmp_path / "gray16.png")
    gray8 = Image.fromarray((ramp / 257.0).round().astype(np.uint8), "L")
    assert (lightness(out) - lightness(gray8)).abs().max() < 0.6


def test_cmyk_jpeg(lab_colorizer, tmp_path):
    photo(30, 20).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    out = lab_colorizer(tmp_path / "cmyk.jpg")
    assert out.size == (30, 20)
    assert (lightness(out) - lightness(Image.open(tmp_path / "cmyk.jpg"))).abs().max() < 0.5


def test_exif_rotated_jpeg_comes_out_upright(lab_colorizer, tmp_path):
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:, 20:] = 230  # left half dark, right half light, as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(stored).save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    out = lab_colorizer(tmp_path / "rotated.jpg")
    upright = ImageOps.exif_transpose(Image.open(tmp_path / "rotated.jpg"))
    assert out.size == upright.size == (20, 40)
    assert (lightness(out) - lightness(upright)).abs().max() < 0.5
    assert lightness(out)[:18].mean() < 20 < lightness(out)[22:].mean()  # dark top, light bottom


def test_gray_and_colour_modes_all_read(tmp_path):
    base = photo(12, 9)
    modes = {"L": base.convert("L"), "1": base.convert("1"), "LA": base.convert("LA"), "P": base.quantize(8),
             "I": base.convert("I"), "F": base.convert("L").point(lambda v: v / 255.0, "F")}
    for mode, image in modes.items():
        path = tmp_path / f"{mode}.tif"
        image.save(path)
        loaded = read_photo(path)
        assert loaded.rgb.shape == (3, 9, 12) and 0 <= loaded.rgb.min() and loaded.rgb.max() <= 1, mode
        assert loaded.is_gray == (mode != "P"), mode
        assert (loaded.alpha is not None) == (mode == "LA"), mode


@pytest.mark.slow
@pytest.mark.parametrize(("experiment", "space"),
                         experiment_spaces(sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))))
def test_every_experiment_checkpoint_colorizes(experiment, space, tiny_cfg, tmp_path):
    """Whatever module an experiment trains (U-Net, GAN...), on whatever data, its checkpoint colorizes photos."""
    data = []
    if on_a_photo_folder(experiment):
        write_tree(tmp_path / "photos")
        data = [f"data.root={tmp_path / 'photos'}", *FOLDER_TINY[len(TINY):]]
    if experiment in ("photo_gan", "photo_lite_gan"):  # warm-started from an L1 checkpoint of the same generator
        warm, warm_experiment = tmp_path / "warm", experiment.replace("_gan", "_unet")
        train(compose_train([f"+experiment={warm_experiment}", *tiny_overrides(warm_experiment),
                             f"data.color_space={space}", "test=false", *data], warm))
        data.append(f"model.generator_init={warm / 'checkpoints' / 'last.ckpt'}")
    train(tiny_cfg(f"data.color_space={space}", "test=false", *data, experiment=experiment))
    colorizer = Colorizer.from_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt", device="cpu")
    assert colorizer.color_space.name == space
    image = photo(45, 30)
    out = colorizer(image)
    assert out.size == (45, 30) and (lightness(out) - lightness(image)).abs().max() < 0.5


def test_the_engine_example_of_docs_colorize_runs_as_written(tmp_path, monkeypatch, capsys):
    """docs/colorize.md's example of the engine the command and the page share, with the shipped model."""
    text = (REPO / "docs" / "colorize.md").read_text()
    example = next(block.split("\n", 1)[1] for block in text.split("```python")[1:] if "ColorizeEngine" in block)
    example = example.split("```", 1)[0]
    (tmp_path / "photos").mkdir()
    photo(90, 60).save(tmp_path / "photos" / "a.png")
    (tmp_path / "photos" / "b.png").write_text("not an image")
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "docs/colorize.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("photos/b.png not an image Pillow can read")
    done, failed, metrics = printed[-1].split(" ", 2)
    assert (done, failed) == ("1", "1") and "'images': 1" in metrics
    assert Image.open(tmp_path / "out" / "a.png").size == (90, 60)
    assert (tmp_path / "out" / "a.compare.png").is_file()
