"""Where the shipped photo colorizer lives and how it is checked before it is loaded.

`photo.pt` is read only after its sha256 matches `photo.sha256`: a damaged or swapped file is
refused with a message naming it, never half-loaded. The packed file is an ordinary colorgan
checkpoint in miniature (hyper_parameters, `generator.*` weights, train_image_size), so loading
goes through `colorgan.runs.checkpoint_io.load_generator` like any trained checkpoint.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from colorgan.errors import UserError

WEIGHTS_NAME = "photo.pt"
CHECKSUM_NAME = "photo.sha256"
CARD_NAME = "MODEL_CARD.md"
BASE_SUBDIR = "base"  # the automatic model the shipped one was fine-tuned from: the same three files
ENV_DIR = "COLORGAN_PRETRAINED_DIR"  # another folder of the same three files (tests, custom builds)
PACKAGE_DIR = Path(__file__).resolve().parent
CHUNK = 1 << 20


class PretrainedError(UserError, RuntimeError):
    """The shipped weights are missing, or their checksum does not match; the message says what to do."""


def pretrained_dir(directory: str | Path | None = None) -> Path:
    """`directory`, else $COLORGAN_PRETRAINED_DIR, else the package's own folder."""
    if directory is not None:
        return Path(directory).expanduser()
    env = os.environ.get(ENV_DIR)
    return Path(env).expanduser() if env else PACKAGE_DIR


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def checksum_line(sha256: str) -> str:
    """The checksum file's one line, in `sha256sum` format (so `sha256sum -c photo.sha256` checks it)."""
    return f"{sha256}  {WEIGHTS_NAME}\n"


def expected_sha256(checksum_file: Path) -> str:
    """The hex digest written in `photo.sha256`."""
    found = re.match(r"\s*([0-9a-fA-F]{64})\b", checksum_file.read_text(errors="replace"))
    if not found:
        raise PretrainedError(
            f"{checksum_file} does not hold a sha256 (64 hex digits). Reinstall colorgan, or write it again with "
            "`python -m colorgan.pretrained pack CHECKPOINT --out DIR`."
        )
    return found.group(1).lower()


def verified_weights(directory: str | Path | None = None) -> Path:
    """The path of `photo.pt` once its sha256 matches `photo.sha256`; PretrainedError otherwise."""
    folder = pretrained_dir(directory)
    weights, checksum = folder / WEIGHTS_NAME, folder / CHECKSUM_NAME
    if not weights.is_file():
        raise PretrainedError(
            f"No pretrained photo colorizer at {weights}. This installation carries no shipped weights: reinstall "
            "colorgan from a release that includes them, pack a trained checkpoint there with `python -m "
            "colorgan.pretrained pack CHECKPOINT`, or pass a checkpoint (python -m colorgan.colorize CHECKPOINT "
            "INPUT -o OUT)."
        )
    if not checksum.is_file():
        raise PretrainedError(
            f"{weights} has no checksum file beside it ({checksum}), so it cannot be verified. Reinstall colorgan, "
            "or pack the checkpoint again with `python -m colorgan.pretrained pack CHECKPOINT --out "
            f"{folder}`, which writes both."
        )
    expected, actual = expected_sha256(checksum), file_sha256(weights)
    if actual != expected:
        raise PretrainedError(
            f"Refused to load {weights}: its sha256 is {actual}, but {checksum} says {expected}. The file is "
            "damaged or was replaced. Reinstall colorgan (pip install --force-reinstall colorgan), or, if you "
            f"packed it yourself, pack it again with `python -m colorgan.pretrained pack CHECKPOINT --out {folder}`."
        )
    return weights


def base_model_dir(directory: str | Path | None = None) -> Path:
    """The base model's folder, `base/` of the pretrained folder (pretrained_dir's rules): the automatic
    photo_lite_unet the shipped model was fine-tuned from, kept as the photo experiments' warm start."""
    return pretrained_dir(directory) / BASE_SUBDIR


def register_config_resolver() -> None:
    """Warm starts that need no run folder, checked paths: `${shipped_model:}` the shipped photo.pt,
    `${base_model:}` base/photo.pt (model.generator_init=${base_model:} in the photo experiments)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("shipped_model"):
        OmegaConf.register_new_resolver("shipped_model", lambda: str(verified_weights()))
    if not OmegaConf.has_resolver("base_model"):
        OmegaConf.register_new_resolver("base_model", lambda: str(verified_weights(base_model_dir())))
