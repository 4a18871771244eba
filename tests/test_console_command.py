"""The `colorgan` command: `colorgan COMMAND ...` is `python -m colorgan.COMMAND ...`; and `pip install`
from a clone gives it, with the shipped photo colorizer inside the wheel, in an environment of its own."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers.cli import failure_text, fresh_clone
from helpers.configs import REPO, TINY
from PIL import Image

from colorgan.__main__ import COMMANDS


def colorgan(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "colorgan", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO), **env})


def test_every_command_is_a_python_m_command_and_an_unknown_one_is_refused_in_one_line():
    for name in COMMANDS:  # a module with a main block, or a package with __main__.py
        spec = importlib.util.find_spec(f"colorgan.{name}")
        if spec.submodule_search_locations:
            assert importlib.util.find_spec(f"colorgan.{name}.__main__") is not None, name
        else:
            assert 'if __name__ == "__main__":' in Path(spec.origin).read_text(), name
    listed = colorgan("--help")
    assert listed.returncode == 0 and all(f"  {name} " in listed.stdout for name in COMMANDS), listed.stdout
    unknown = colorgan("colourise", "photo.jpg")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: colorgan has no command 'colourise'")
    assert len(unknown.stderr.splitlines()) == 1 and "Traceback" not in unknown.stderr
    bare = colorgan()
    assert bare.returncode == 2 and "usage: colorgan COMMAND" in bare.stderr


def test_colorgan_train_and_app_are_their_python_m_commands(tiny_cifar, tmp_path):
    out = colorgan("train", "+experiment=unet", *TINY, f"hydra.run.dir={tmp_path}/run", COLORGAN_DATA=str(tiny_cifar))
    assert out.returncode == 0, failure_text(out)
    assert json.loads((tmp_path / "run" / "test_metrics.json").read_text())["test/mae"] > 0
    assert (tmp_path / "run" / ".hydra" / "overrides.yaml").is_file()  # Hydra's own record: a real Hydra run
    app = colorgan("app", "--help")
    assert app.returncode == 0 and "--host" in app.stdout, failure_text(app)


def test_a_wheel_built_from_a_clone_installs_a_working_colorgan_command(tmp_path):
    """`pip install .` in two steps, offline: the clone's wheel (built with this environment's setuptools,
    no warnings), installed without its dependencies into a fresh venv that reuses this one's packages
    (a .pth line: this environment's colorgan, an editable install, is not seen); then `colorgan colorize
    photo.png` colorizes with the shipped model, from a folder far from any checkout."""
    import setuptools

    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} here; the build needs >= 77 (pyproject's build-system)")
    clone = fresh_clone(tmp_path)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                            "-w", str(tmp_path / "dist"), "."], cwd=clone, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, failure_text(built)
    assert "BuildBackendWarning" not in built.stdout + built.stderr and "deprecated" not in built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("colorgan-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert {"colorgan/pretrained/photo.pt", "colorgan/pretrained/photo.sha256"} <= set(archive.namelist())

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(subprocess.run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "reuse_dependencies.pth").write_text("\n".join(p for p in sys.path if p.endswith("site-packages")) + "\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                                "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, failure_text(installed)

    elsewhere = tmp_path / "photos"
    elsewhere.mkdir()
    Image.new("RGB", (48, 36), (120, 120, 120)).save(elsewhere / "photo.png")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run([venv / "bin" / "python", "-c", "import colorgan; print(colorgan.__file__)"], cwd=elsewhere,
                           env=env, capture_output=True, text=True, timeout=120)
    assert where.stdout.startswith(str(site)), failure_text(where)  # the wheel's colorgan, not a checkout's
    listed = subprocess.run([venv / "bin" / "colorgan", "--help"], cwd=elsewhere, env=env, capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0 and "  colorize " in listed.stdout, failure_text(listed)
    out = subprocess.run([venv / "bin" / "colorgan", "colorize", "photo.png"], cwd=elsewhere, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, failure_text(out)
    assert "the shipped photo colorizer" in out.stderr and "1 colorized into colorized" in out.stdout
    assert Image.open(elsewhere / "colorized" / "photo.png").size == (48, 36)
