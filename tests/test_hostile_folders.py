"""Folders of photos holding what a folder can hold: broken and looping links, a named pipe, a
socket, a device, a folder named like a photo. Training, evaluate and colorize skip and count
each (one line each), never open a non-regular file and never wait on one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.configs import REPO, TINY
from test_folder import write_tree

from colorgan.data.images import filter_images, scan_images
from colorgan.image_io import find_images

HOSTILE = {  # name -> the words its one line says
    "broken.jpg": "broken symbolic link",
    "loop.jpg": "symbolic link loop",
    "pipe.jpg": "named pipe",
    "socket.png": "a socket",
    "null.jpg": "character device",
}


def add_hostile(root: Path) -> socket.socket:
    """The entries of HOSTILE under root/odd, a working link to a photo, and a folder named
    like a photo holding one. Returns the bound socket (closed by the caller)."""
    odd = root / "odd"
    odd.mkdir()
    (odd / "broken.jpg").symlink_to(odd / "missing.jpg")
    (odd / "loop.jpg").symlink_to(odd / "loop.jpg")
    os.mkfifo(odd / "pipe.jpg")  # opening it for reading would wait for a writer forever
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(odd / "socket.png"))
    (odd / "null.jpg").symlink_to("/dev/null")
    photo = next(root.glob("portraits/photo_*.png"))
    (odd / "link.png").symlink_to(photo)  # a link to a photo is a photo
    (odd / "folder.jpg").mkdir()  # a folder named like a photo is a folder: its photos are used
    (odd / "folder.jpg" / "inside.png").write_bytes(photo.read_bytes())
    return server


@pytest.fixture
def hostile_tree(tmp_path):
    photos = tmp_path / "photos"
    write_tree(photos)
    server = add_hostile(photos)
    yield photos
    server.close()


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    # A hang on the pipe would end in TimeoutExpired, a failure.
    return subprocess.run(cmd, cwd=REPO, env=dict(os.environ), capture_output=True, text=True, timeout=300)


def test_the_scan_judges_other_files_from_their_stat(hostile_tree):
    paths = find_images(hostile_tree)
    names = {p.name for p in paths}
    assert set(HOSTILE) | {"link.png", "inside.png"} <= names and "folder.jpg" not in names
    infos = scan_images(paths, num_workers=0, cache_file=hostile_tree.parent / "cache.json")
    result = filter_images(paths, infos, min_size=32, gray_chroma=5.0)
    reasons = {path.name: error for path, error in result.errors.items()}
    for name, words in HOSTILE.items():
        assert words in reasons[name], (name, reasons[name])
    assert set(reasons) == set(HOSTILE) | {"truncated.jpg"}
    assert {"link.png", "inside.png"} <= {p.name for p in result.paths}
    # the cache holds regular files only, and a second scan gives the same answer
    cached = json.loads((hostile_tree.parent / "cache.json").read_text())["files"]
    assert not any("/odd/" in key and "link.png" not in key and "inside.png" not in key for key in cached)
    assert scan_images(paths, 0, hostile_tree.parent / "cache.json") == infos


def test_train_evaluate_and_colorize_skip_and_count_them(hostile_tree, tmp_path):
    run_dir = tmp_path / "run"
    out = run([sys.executable, "-m", "colorgan.train", "+experiment=places_unet", f"data.root={hostile_tree}", *TINY,
               "data.val_size=2", "data.test_size=2", "data.image_size=64", "data.num_workers=1", "test=false",
               f"hydra.run.dir={run_dir}", f"paths.cache_dir={tmp_path / 'cache'}"])
    assert out.returncode == 0, out.stderr[-3000:]
    logged = out.stdout + out.stderr
    assert "28 images found, skipped 3 grayscale (Lab chroma p99 < 5), 1 smaller than 64 px, 6 unreadable" in logged
    for name, words in HOSTILE.items():
        assert [line for line in logged.splitlines() if f"odd/{name} (" in line and words in line], name

    output = tmp_path / "eval.json"
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    out = run([sys.executable, "-m", "colorgan.evaluate", str(checkpoint), str(hostile_tree), "--output", str(output)])
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(output.read_text())
    assert result["found"] == 28 and result["skipped"] == {"gray": 3, "small": 1, "unreadable": 6}
    assert {Path(p).name for p in result["skipped_files"]["unreadable"]} == set(HOSTILE) | {"truncated.jpg"}

    colorized = tmp_path / "colorized"
    out = run([sys.executable, "-m", "colorgan.colorize", str(checkpoint), str(hostile_tree / "odd"), "-o", str(colorized)])
    assert out.returncode == 1, out.stderr[-3000:]  # some inputs failed, the rest were done
    assert "Traceback" not in out.stderr
    for name, words in HOSTILE.items():
        assert [line for line in out.stderr.splitlines() if line.startswith("error:") and name in line and words in line]
    summary = " ".join(out.stdout.split())  # rich wraps lines at the terminal width
    assert summary.startswith("2 colorized into") and summary.endswith("5 failed")
    assert (colorized / "link.png").is_file() and (colorized / "folder.jpg" / "inside.png").is_file()


def test_evaluate_writes_its_results_in_the_checkpoints_run_not_here(tiny_checkpoint, tmp_path):
    photos = tmp_path / "photos"
    write_tree(photos, colour=3)
    checkpoint = tiny_checkpoint("lab")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    out = subprocess.run([sys.executable, "-m", "colorgan.evaluate", str(checkpoint), str(photos), "--size", "32",
                          "--workers", "0", "--no-extra"], cwd=elsewhere, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr[-3000:]
    written = checkpoint.parent.parent / "eval_photos_32px.json"
    assert json.loads(written.read_text())["images"] == 3 and not list(elsewhere.iterdir())
