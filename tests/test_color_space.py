import pytest
import torch

from colorgan.color_space import ColorSpace, ab_length


@pytest.mark.parametrize("name", ["lab", "rgb"])
def test_split_then_merge_gives_back_the_image(name):
    rgb = torch.rand(4, 3, 16, 16)
    space = ColorSpace(name)
    inputs, targets = space.split(rgb)
    assert inputs.shape == (4, 1, 16, 16) and targets.shape == (4, space.out_channels, 16, 16)
    assert inputs.min() >= -1 and inputs.max() <= 1
    assert targets.abs().max() <= 1.0 + 1e-4
    # Lab goes through cube roots and a matrix inverse: 1e-4 of the [0, 1] range; RGB is exact.
    assert torch.allclose(space.merge(inputs, targets), rgb, atol=1e-4 if name == "lab" else 1e-6)


def test_lab_scalings_match_the_paper():
    white, black = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    space = ColorSpace("lab")
    (l_white, ab_white), (l_black, _) = space.split(white), space.split(black)
    assert torch.allclose(l_white, torch.ones_like(l_white), atol=1e-4)  # L = 100 -> 1
    assert torch.allclose(l_black, -torch.ones_like(l_black), atol=1e-4)  # L = 0 -> -1
    assert ab_white.abs().max() < 1e-3  # white has no colour
    red = torch.zeros(1, 3, 1, 1)
    red[:, 0] = 1.0
    _, ab_red = space.split(red)
    assert ab_red[0, 0].item() == pytest.approx(80.1 / 110, abs=0.01)  # a* of sRGB red is about 80


@pytest.mark.parametrize("name", ["lab", "rgb"])
def test_gray_target_is_the_grayscale_baseline(name):
    rgb = torch.rand(2, 3, 8, 8)
    space = ColorSpace(name)
    inputs, _ = space.split(rgb)
    gray = space.merge(inputs, space.gray_target(inputs))
    assert torch.allclose(gray[:, 0], gray[:, 1], atol=1e-4) and torch.allclose(gray[:, 1], gray[:, 2], atol=1e-4)


@pytest.mark.parametrize("name", ["lab", "rgb"])
def test_gray_rgb_is_gray_and_keeps_the_input(name):
    space = ColorSpace(name)
    inputs, _ = space.split(torch.rand(2, 3, 8, 8))
    gray = space.gray_rgb(inputs)
    assert gray.shape == (2, 3, 8, 8)
    assert torch.allclose(gray[:, 0], gray[:, 1], atol=1e-4) and torch.allclose(gray[:, 1], gray[:, 2], atol=1e-4)
    assert torch.allclose(space.split(gray)[0], inputs, atol=1e-3)  # the baseline's lightness is the input's


def test_split_is_float32_under_autocast():
    rgb = torch.rand(1, 3, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inputs, targets = ColorSpace("lab").split(rgb)
    assert inputs.dtype == targets.dtype == torch.float32


def test_unknown_color_space_lists_the_choices():
    with pytest.raises(ValueError, match="lab, rgb"):
        ColorSpace("hsv")


def test_lab_conversions_give_kornias_values_with_constants_made_once():
    """Same formulas as kornia.color, to 1e-5, for every colour of a dense RGB grid and beyond."""
    import kornia.color

    from colorgan.color_space import _CONSTANTS, lab_to_rgb, rgb_to_lab

    torch.manual_seed(0)
    rgb = torch.cat([torch.rand(4, 3, 16, 16), torch.linspace(0, 1, 3 * 32 * 32).view(1, 3, 32, 32).expand(4, -1, -1, -1)[:, :, :16, :16]])
    lab = rgb_to_lab(rgb)
    assert torch.allclose(lab, kornia.color.rgb_to_lab(rgb), atol=1e-5, rtol=0)
    wild = lab + torch.randn_like(lab) * 20  # out of gamut too: clip and no clip
    for clip in (True, False):
        assert torch.allclose(lab_to_rgb(wild, clip=clip), kornia.color.lab_to_rgb(wild, clip=clip), atol=1e-5, rtol=0)
    assert torch.allclose(rgb_to_lab(rgb[0]), lab[0], atol=1e-6)  # (3, H, W) works as kornia's does
    made = len(_CONSTANTS)
    rgb_to_lab(rgb), lab_to_rgb(lab)
    assert len(_CONSTANTS) == made  # no new constants for a device and dtype seen before
    with pytest.raises(ValueError, match=r"\(\*, 3, H, W\)"):
        rgb_to_lab(torch.rand(2, 4, 8, 8))


def test_constants_made_while_tracing_are_not_kept():
    """An export traces the conversion with fake tensors; eager calls afterwards must not get them."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    from colorgan import color_space

    color_space._CONSTANTS.clear()
    with FakeTensorMode():
        color_space.rgb_to_lab(torch.rand(1, 3, 4, 4))
    lab = color_space.rgb_to_lab(torch.ones(1, 3, 4, 4))
    assert float(lab[0, 0].mean()) == pytest.approx(100.0, abs=1e-3)  # white: L = 100


def test_ab_length_is_the_norm_over_its_dimension():
    """ab_length replaces Tensor.norm (50-100x slower on a CPU over a dimension of two) in the
    video measures and the hint measure: the same numbers, keepdim included."""
    ab = torch.randn(3, 2, 5, 7) * 40
    assert torch.allclose(ab_length(ab), ab.norm(dim=1), rtol=1e-5)
    assert torch.allclose(ab_length(ab[0], dim=0), ab[0].norm(dim=0), rtol=1e-5)
    assert ab_length(ab, dim=1, keepdim=True).shape == (3, 1, 5, 7)
