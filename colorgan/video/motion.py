"""Motion between two frames: OpenCV's dense optical flow (DIS, Kroeger et al. 2016) on their
lightness, a frame carried along it (warped), and where that carrying can be trusted (the
forward-backward check of Sundaram et al. 2010, as Lai et al. 2018 mask their warping error).

    flow, seen = trusted_flow(l_now, l_before)  # where each pixel of now was before; where that holds
    carried = warp(before, flow)                # before, moved onto now

OpenCV is an optional extra (`pip install 'colorgan[flow]'`): what needs it says so in one line.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

FLOW_EXTRA = "colorgan[flow]"


def opencv():
    """The cv2 module, or ImportError in one line naming the extra that brings it."""
    try:
        import cv2
    except ImportError:
        raise ImportError(f"Following motion needs OpenCV's optical flow: pip install '{FLOW_EXTRA}' "
                          "(opencv-python-headless)") from None
    return cv2


def _as_8bit(lightness: torch.Tensor):
    return lightness.detach().float().mul(2.55).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


def backward_flow(now: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
    """Lightness (h, w) in [0, 100] of two frames -> flow (2, h, w) in pixels (x, y): pixel p of
    `now` shows what `before` showed at p + flow[:, p]. DIS at its medium preset: milliseconds at
    a network's working size."""
    cv2 = opencv()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(_as_8bit(now), _as_8bit(before), None)  # (h, w, 2)
    return torch.from_numpy(flow).permute(2, 0, 1).to(now.device)


def sources(flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """backward_flow (2, h, w) -> (x, y) each (h, w): where in `before` each pixel of `now` came from."""
    height, width = flow.shape[-2:]
    rows, cols = torch.meshgrid(torch.arange(height, device=flow.device, dtype=flow.dtype),
                                torch.arange(width, device=flow.device, dtype=flow.dtype), indexing="ij")
    return cols + flow[0], rows + flow[1]


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """(C, h, w) `before` and backward_flow (2, h, w) -> (C, h, w) `before` moved onto `now`
    (bilinear; a pixel whose source lies outside takes the nearest border pixel)."""
    height, width = image.shape[-2:]
    x, y = sources(flow)
    x = x * (2.0 / max(width - 1, 1)) - 1.0
    y = y * (2.0 / max(height - 1, 1)) - 1.0
    grid = torch.stack([x, y], dim=-1)[None].to(image.dtype)
    return F.grid_sample(image[None], grid, mode="bilinear", padding_mode="border", align_corners=True)[0]


def visible(backward: torch.Tensor, forward: torch.Tensor) -> torch.Tensor:
    """(h, w) bool: the pixels of `now` whose motion the two flows agree on (going back then
    forward returns near the start), and whose source lies inside the frame: not occluded,
    not new at an edge. backward = backward_flow(now, before), forward = backward_flow(before, now)."""
    height, width = backward.shape[-2:]
    there = warp(forward, backward)  # the forward flow at each pixel's source
    loop = (backward + there).pow(2).sum(0)
    agree = loop < 0.01 * (backward.pow(2).sum(0) + there.pow(2).sum(0)) + 0.5
    x, y = sources(backward)
    inside = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
    return agree & inside


def trusted_flow(now: torch.Tensor, before: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lightness (h, w) of two frames -> (backward_flow (2, h, w), visible (h, w) bool): the motion
    from `now` back to `before`, and where it can be trusted (both flows, checked against each other)."""
    back = backward_flow(now, before)
    return back, visible(back, backward_flow(before, now))
