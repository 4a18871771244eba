"""The page's colorizing path without a browser: colorize's reader and messages, sizes kept, the
default model, the command line's refusals."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from helpers.configs import REPO
from PIL import Image
from test_colorize import photo

from colorgan import app
from colorgan.errors import UserError
from colorgan.inference import Colorizer
from colorgan.metrics import colorfulness


@pytest.fixture(scope="module")
def colorizer(tiny_checkpoint):
    return Colorizer.from_checkpoint(tiny_checkpoint("lab"), device="cpu")


def rgb_of(image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)[None]


def test_uploads_are_colorized_at_full_size_and_bad_ones_get_colorize_messages(colorizer, tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    photo(97, 61).save(uploads / "good.png")
    photo(40, 30, seed=1).convert("L").save(uploads / "gray.jpg")
    photo(20, 30, seed=2).save(uploads / "gray.png")  # same stem: colorize refuses the name clash
    (uploads / "notes.png").write_text("not an image, only text\n")
    good = (uploads / "good.png").read_bytes()
    (uploads / "cut.png").write_bytes(good[: len(good) // 2])  # truncated
    photo(300, 200).save(uploads / "big.png")
    names = ["good.png", "gray.jpg", "gray.png", "notes.png", "cut.png", "big.png"]
    results, messages = app.colorize_uploads(colorizer, [uploads / n for n in names], 48, tmp_path / "out",
                                             max_pixels=100 * 100)
    assert [r.name for r in results] == ["good.png", "gray.jpg"]
    for result, size in zip(results, [(97, 61), (40, 30)], strict=True):
        colour, gray = Image.open(result.colour), Image.open(result.gray)
        assert colour.size == gray.size == size
        assert colorfulness(rgb_of(colour)).item() > 5.0  # coloured ...
        assert colorfulness(rgb_of(gray)).item() < 0.5  # ... next to its gray input
    assert results[1].colour.suffix == ".jpg"  # written in the input's format, as colorize does
    assert len(messages) == 4
    assert messages[0].startswith("error: gray.png: its output") and messages[0].endswith("; rename one")
    assert messages[1].startswith("error: notes.png: not an image Pillow can read")
    assert messages[2].startswith("error: cut.png: cannot decode")
    assert messages[3].startswith("error: big.png: 300x200 is 60,000 pixels, over the limit of 10,000")
    text = app.summary(results, messages, 48)
    assert text.endswith("2 colorized at working size 48 px, 4 failed")



def test_the_gray_input_keeps_the_upload_s_alpha_and_a_failed_write_names_its_file(colorizer, tmp_path):
    rgba = photo(40, 30).convert("RGBA")
    alpha = Image.linear_gradient("L").resize((40, 30))
    rgba.putalpha(alpha)
    rgba.save(tmp_path / "clear.png")
    results, messages = app.colorize_uploads(colorizer, [tmp_path / "clear.png"], 32, tmp_path / "a")
    assert messages == []
    gray = Image.open(results[0].gray)
    assert gray.mode == "RGBA" and np.array_equal(np.asarray(gray)[..., 3], np.asarray(alpha))
    assert colorfulness(rgb_of(gray)).item() < 0.5
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "gray").write_text("a file where the gray folder goes")
    results, messages = app.colorize_uploads(colorizer, [tmp_path / "clear.png"], 32, tmp_path / "b")
    assert results == [] and len(messages) == 1
    assert messages[0].startswith(f"error: clear.png: cannot write {tmp_path / 'b' / 'gray' / '0_clear.png'}: ")

def test_working_size_changes_the_prediction_not_the_output_size(colorizer, tmp_path):
    photo(120, 80).save(tmp_path / "p.png")
    small, _ = app.colorize_uploads(colorizer, [tmp_path / "p.png"], 16, tmp_path / "a")
    large, _ = app.colorize_uploads(colorizer, [tmp_path / "p.png"], 96, tmp_path / "b")
    a, b = Image.open(small[0].colour), Image.open(large[0].colour)
    assert a.size == b.size == (120, 80)
    assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max() > 0
    assert colorizer.size == 32  # the shared model keeps its own size


def test_without_a_checkpoint_the_page_loads_the_pretrained_model(monkeypatch, colorizer):
    monkeypatch.setattr(Colorizer, "pretrained", classmethod(lambda cls, *args, **kwargs: colorizer))
    assert app.load_colorizer(None, "cpu") is colorizer


def test_a_damaged_shipped_model_is_refused_with_what_to_do(monkeypatch, tmp_path):
    (tmp_path / "photo.pt").write_bytes(b"not the shipped weights")
    (tmp_path / "photo.sha256").write_text("0" * 64 + "  photo.pt\n")
    monkeypatch.setenv("COLORGAN_PRETRAINED_DIR", str(tmp_path))
    with pytest.raises(UserError, match="Refused to load .*photo.pt.*Reinstall colorgan"):
        app.load_colorizer(None, "cpu")


def test_missing_checkpoint_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not found|does not exist|No such"):
        app.load_colorizer(tmp_path / "missing.ckpt", "cpu")


def test_binds_to_localhost_unless_asked():
    assert app.build_parser().parse_args([]).host == "127.0.0.1"
    assert app.build_parser().parse_args(["--host", "0.0.0.0"]).host == "0.0.0.0"


def test_a_bad_checkpoint_stops_the_command_with_one_error_paragraph(tmp_path):
    (tmp_path / "notes.ckpt").write_text("not a checkpoint")
    out = subprocess.run([sys.executable, "-m", "colorgan.app", str(tmp_path / "notes.ckpt")], cwd=REPO,
                         capture_output=True, text=True, timeout=120, env={**os.environ, "HYDRA_FULL_ERROR": ""})
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    assert "notes.ckpt" in out.stderr


def test_old_request_folders_are_pruned(tmp_path):
    old, new = tmp_path / "request-old", tmp_path / "request-new"
    for folder in (old, new):
        folder.mkdir()
        (folder / "x_colorized.png").write_bytes(b"x")
    os.utime(old, (0, 0))
    app.prune(tmp_path)
    assert not old.exists() and new.exists()


def test_a_sessions_next_request_removes_the_folder_of_the_one_before(tmp_path):
    first = app.request_dir(tmp_path, None)
    (first / "gray").mkdir()
    (first / "gray" / "0_a.png").write_bytes(b"x")
    second = app.request_dir(tmp_path, {"dir": str(first), "pairs": []})
    assert not first.exists() and second.is_dir()
    app.remove_request({"dir": str(second), "pairs": []})  # the session ends
    assert not any(tmp_path.iterdir())


def test_stopping_the_page_with_sigterm_removes_its_temporary_folder(tiny_checkpoint, tmp_path):
    from helpers.cli import free_port

    port, log = free_port(), tmp_path / "app.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "colorgan.app", str(tiny_checkpoint("lab")), "--port",
                                    str(port), "--device", "cpu"], cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "TMPDIR": str(tmp_path)})
    try:
        deadline = time.monotonic() + 120
        while f"127.0.0.1:{port}" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        (work_dir,) = tmp_path.glob("colorgan-app-*")
        (work_dir / "request-x").mkdir()  # a request's files
        (work_dir / "request-x" / "a_colorized.png").write_bytes(b"x")
        process.terminate()
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        process.kill()
    assert not work_dir.exists()


def test_a_taken_port_stops_the_command_with_one_error_paragraph(tiny_checkpoint):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "colorgan.app", str(tiny_checkpoint("lab")), "--port", str(port),
                              "--device", "cpu"], cwd=REPO, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "HYDRA_FULL_ERROR": "", "GRADIO_ANALYTICS_ENABLED": "False"})
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.stderr.startswith(f"error: cannot serve on 127.0.0.1:{port}: ") and "--port" in out.stderr
