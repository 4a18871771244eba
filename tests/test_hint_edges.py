"""Hints stopped at edges (colorgan.inference.hint_edges): the scans give the geodesic distance a
shortest-path search gives, a hint's change stays on its side of a lightness edge, and the command,
the engine and Python agree on it with the shipped hint model."""

from __future__ import annotations

import heapq
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorgan.colorize import main
from colorgan.inference import LAB, ColorizeEngine, ColorizeOptions, Colorizer, Hint
from colorgan.inference.hint_edges import SHADING, SPAN_COST, confine_hints, geodesic_distance, hint_seeds
from colorgan.nets.hint_unet import hint_map


def dijkstra(seeds: np.ndarray, lightness: np.ndarray) -> np.ndarray:
    """The geodesic distance by a shortest-path search, with geodesic_distance's step costs."""
    height, width = lightness.shape
    span = SPAN_COST / max(height, width)
    distance = np.full((height, width), np.inf)
    heap = [(0.0, int(r), int(c)) for r, c in zip(*np.nonzero(seeds), strict=True)]
    for _, r, c in heap:
        distance[r, c] = 0.0
    while heap:
        d, r, c = heapq.heappop(heap)
        if d > distance[r, c]:
            continue
        for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= rr < height and 0 <= cc < width:
                step = max(0.0, abs(float(lightness[rr, cc] - lightness[r, c])) - SHADING) + span
                if d + step < distance[rr, cc]:
                    distance[rr, cc] = d + step
                    heapq.heappush(heap, (d + step, rr, cc))
    return distance


def test_the_scans_find_the_shortest_paths_a_search_finds():
    generator = torch.Generator().manual_seed(0)
    lightness = torch.rand(13, 17, generator=generator) * 40  # rough: paths must wind
    seeds = torch.zeros(13, 17, dtype=torch.bool)
    seeds[6, 3] = seeds[1, 15] = True
    expected = dijkstra(seeds.numpy(), lightness.double().numpy())
    assert np.allclose(geodesic_distance(seeds, lightness, iterations=30).numpy(), expected, atol=1e-3)
    rough = geodesic_distance(seeds, lightness)  # the default rounds: never shorter than the truth
    assert (rough.numpy() >= expected - 1e-3).all()


def test_a_hints_change_stays_on_its_side_of_an_edge():
    """Left half dark, right half light: a hint on the left moves the left and leaves the right as
    the automatic colour, though the network moved both."""
    lightness = torch.full((32, 48), 30.0)
    lightness[:, 24:] = 80.0
    automatic, hinted = torch.zeros(2, 8, 12), torch.full((2, 8, 12), 0.4)  # the model spread the hint everywhere
    mask = torch.zeros(1, 1, 8, 12)
    mask[..., 3:6, 2:5] = 1.0
    hints = hint_map(torch.full((1, 2, 8, 12), 0.4), mask)[0]
    ab = confine_hints(hinted, automatic, hints, lightness)
    assert ab.shape == (2, 32, 48)
    assert torch.allclose(ab[:, :, :20], torch.tensor(0.4), atol=0.1)  # the hint's side, shading and all
    assert ab[:, :, 28:].abs().max() < 0.01  # beyond the 50-unit edge: e^-4.85 of the change and less
    assert torch.equal(confine_hints(hinted, automatic, hint_map(hinted[None], torch.zeros(1, 1, 8, 12))[0], lightness),
                       torch.nn.functional.interpolate(hinted[None], size=(32, 48), mode="bilinear")[0])


def test_seeds_are_the_middle_of_each_hinted_patch():
    mask = torch.zeros(8, 8)
    mask[2:5, 2:5] = 1.0
    seeds = hint_seeds(mask, (32, 32))  # a working pixel is 4 guide pixels; the patch 12
    rows, cols = seeds.nonzero(as_tuple=True)
    assert seeds.sum() > 0 and rows.min() >= 12 and rows.max() <= 19 and cols.min() >= 12 and cols.max() <= 19


def two_halves(path) -> None:
    """A photo whose left half is dark red and right half light blue-gray: one strong lightness edge."""
    rgb = np.zeros((96, 128, 3), dtype=np.uint8)
    rgb[:, :64] = (110, 40, 40)
    rgb[:, 64:] = (190, 200, 215)
    Image.fromarray(rgb).save(path)


def test_the_shipped_model_stops_a_hint_at_an_edge_on_the_command_and_in_python(tmp_path, one_thread, capsys):
    photo = tmp_path / "halves.png"
    two_halves(photo)
    shipped = Colorizer.pretrained(device="cpu")
    hints = [Hint(20, 48, (0, 200, 0))]
    automatic = np.asarray(shipped(photo), dtype=float)
    spread = np.asarray(shipped(photo, hints), dtype=float)  # the default
    stopped = np.asarray(shipped(photo, hints, hint_edges=True), dtype=float)

    def moved(image: np.ndarray, columns: slice) -> float:
        return float(np.abs(image[:, columns] - automatic[:, columns]).mean())

    assert moved(stopped, slice(0, 40)) > 0.5 * moved(spread, slice(0, 40)) > 2  # the hint still colours its half
    assert moved(stopped, slice(90, 128)) < 0.2 * moved(spread, slice(90, 128))  # and far less beyond the edge
    assert main([str(photo), "-o", str(tmp_path / "out"), "--hint", "20,48,#00c800", "--hint-edges", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "halves.png"), dtype=float), stopped)
    assert main([str(photo), "-o", str(tmp_path / "spread"), "--hint", "20,48,#00c800", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert np.array_equal(np.asarray(Image.open(tmp_path / "spread" / "halves.png"), dtype=float), spread)
    engine = ColorizeEngine(shipped, ColorizeOptions(hints=tuple(hints), hint_edges=True), print)
    engine.process(engine.plan([(photo, Path("e.png"))], tmp_path / "engine"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "engine" / "e.png"), dtype=float), stopped)

    def green_red(image: np.ndarray) -> float:  # Lab a at the hint: negative is green
        return float(LAB.split(torch.from_numpy(image / 255).permute(2, 0, 1)[None].float())[1][0, 0, 48, 20])

    assert green_red(stopped) < green_red(automatic) - 0.05


@pytest.mark.parametrize("flag", ["--hint-edges", "--both"])
def test_the_pictures_take_the_edges_too(flag, tiny_hint_checkpoint, tmp_path, one_thread, capsys):
    from colorgan.hints.pictures import main as pictures

    photo = tmp_path / "halves.png"
    two_halves(photo)
    out = tmp_path / "fig.png"
    assert pictures([str(tiny_hint_checkpoint), str(photo), "--hint", "20,48,green", flag, "-o", str(out), "--device", "cpu"]) == 0
    rows = 2 if flag == "--both" else 1
    with Image.open(out) as figure:
        assert figure.size == (2 + 4 * (128 + 2), 2 + rows * (96 + 2))
