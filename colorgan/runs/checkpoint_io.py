"""The one reader of checkpoints: every command that opens one (colorize, export, evaluate, report,
`resume=`, `ckpt_path=`, `model.generator_init=`) comes through here, so each failure (missing,
truncated, not a checkpoint, carrying code, another model) is said the same way, with what to do.

`torch.load` with `weights_only=True` only rebuilds tensors and plain containers, so a crafted file
cannot execute anything on load. For inference we keep what a U-Net or GAN colorizer needs: the
colour space and UNetGenerator settings (`hyper_parameters`), the generator's weights, and the
training image size: `generator_ema.*` where the GAN kept a moving average of them (`model.ema_decay`,
the weights it was validated and tested with), else `generator.*`. A GAN's discriminator is ignored.

Every read is verified: torch.save writes a zip archive with a CRC-32 of every record, but torch's
reader never checks them, so a flipped byte inside a tensor would load silently. `read_checkpoint`
checks them all with Python's zipfile (about 0.06 s for a 200 MB file, docs/resume.md) and refuses a
damaged file, naming an intact checkpoint of the same folder and the same run to use instead when
there is one (it loads, and records the same model class and hyper-parameters). Files
in PyTorch's legacy (pre-1.6, non-zip) format carry no CRCs: they load, with a warning.
"""

from __future__ import annotations

import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from colorgan.color_space import COLOR_SPACES, ColorSpace
from colorgan.errors import UserError
from colorgan.nets.ab_bins import GRID
from colorgan.nets.color_classifier import TEMPERATURE, ColorClassifierUNet
from colorgan.nets.generators import build_generator
from colorgan.nets.unet import UNetGenerator

log = logging.getLogger(__name__)

GENERATOR_PREFIX = "generator."
EMA_PREFIX = "generator_ema."  # the GAN's moving average of G (colorgan.nets.ema): preferred when present
WRITTEN_BY = "Pass a .ckpt file written by `python -m colorgan.train`"
LIGHTNING_KEYS = ("pytorch-lightning_version", "state_dict")
# Checkpoints written before the training size was recorded were all CIFAR-10 (32x32) runs.
DEFAULT_TRAIN_IMAGE_SIZE = (32, 32)


class CheckpointError(UserError, RuntimeError):
    """A checkpoint is missing, unreadable, unsafe or not a colorgan colorizer; the message says which."""


class CheckpointDamaged(CheckpointError):
    """A checkpoint's bytes changed after it was saved (a record fails its CRC-32 check)."""

    def __init__(self, path: Path, what: str, instead: Path | None) -> None:
        self.path, self.instead = path, instead
        self.said = (f"Checkpoint {path} is damaged: {what} (its bytes changed after it was saved: a failing disk or "
                     "a bad copy), so its weights cannot be trusted.")
        advice = (f" Use the intact {instead} of the same folder instead, or copy {path.name} again from where it "
                  "was written." if instead else f" Copy {path.name} again from where it was written, or train again.")
        super().__init__(self.said + advice)


@dataclass
class GeneratorCheckpoint:
    """What inference needs from a checkpoint: a ready (eval-mode) generator and how to use it."""

    generator: UNetGenerator
    color_space: ColorSpace
    train_image_size: tuple[int, int]
    path: Path
    hyper_parameters: dict[str, Any]


MODEL_CLASS_KEY = "colorgan_model"  # written by colorgan.models.base.ColorizerModule.on_save_checkpoint
MODEL_CLASSES = {
    "UNetColorizer": "colorgan.models.unet_colorizer.UNetColorizer",
    "GANColorizer": "colorgan.models.gan_colorizer.GANColorizer",
    "ClassifyColorizer": "colorgan.models.classify_colorizer.ClassifyColorizer",
}


def model_class(checkpoint: dict[str, Any]) -> str:
    """The name of the colorizer class that wrote `checkpoint` (a MODEL_CLASSES key): its own record.
    Checkpoints written before the record are told apart by the hyper-parameters only one class has;
    this is the one place that guesses, and only for them (tests/test_model_identity.py). A new model
    class is one entry in MODEL_CLASSES; a new generator kind is one entry in
    colorgan.nets.generators.KINDS."""
    recorded = checkpoint.get(MODEL_CLASS_KEY)
    if recorded is not None:
        return recorded
    hparams = checkpoint.get("hyper_parameters") or {}
    if "temperature" in hparams:
        return "ClassifyColorizer"
    return "GANColorizer" if "discriminator" in hparams else "UNetColorizer"


# Generator settings a checkpoint may lack because it was written before the setting existed: the
# value the code had then (the constructors' defaults are now the configs', which differ).
OLD_GENERATOR_DEFAULTS = {"output_layer": "head"}


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint file as a dict of plain objects and tensors (on the CPU); never unpickles code."""
    path = Path(path)
    if not path.is_file():
        where = "it is a directory; pass a .ckpt file in it" if path.is_dir() else "no such file"
        raise CheckpointError(f"Checkpoint not found: {path} ({where}). Runs write theirs to <run dir>/checkpoints/.")
    if path.stat().st_size == 0:
        raise CheckpointError(f"Checkpoint {path} is empty (0 bytes): the save was interrupted or the copy failed.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(describe_load_error(path, err)) from None
    verify_checkpoint(path, checkpoint)
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f"{path} holds a {type(checkpoint).__name__}, not a checkpoint dict. "
            f"{WRITTEN_BY}."
        )
    return checkpoint


def damage_in(path: Path) -> str | None:
    """What fails the archive's CRC-32 check (None: every record is intact). A file in PyTorch's legacy
    non-zip format has no CRCs; the caller sees `zipfile.is_zipfile(path)` false for it."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # reads every record, compares its CRC-32 with the one saved
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        return f"its zip archive is unreadable ({type(err).__name__}: {err})"
    return f"record {bad} fails its CRC-32 check" if bad else None


def verify_checkpoint(path: Path, loaded: Any = None) -> None:
    """Raise CheckpointDamaged unless every record of the checkpoint's archive has the CRC-32 saved with it;
    `loaded` (what torch.load read from it, if anything) says which run it is, to name a sibling of that run."""
    if not zipfile.is_zipfile(path):
        log.warning("Checkpoint %s is in PyTorch's legacy (non-zip) format: it holds no checksums, so it cannot be "
                    "verified; it is read as it is.", path)
        return
    what = damage_in(path)
    if what is not None:
        raise CheckpointDamaged(path, what, _intact_sibling(path, run_record(loaded)))


def run_record(checkpoint: Any) -> tuple[str, dict[str, Any]] | None:
    """What says which run wrote a checkpoint: the model class colorgan recorded in it and its
    hyper-parameters; None when it has no such record (not a colorgan checkpoint, or an old one)."""
    if not isinstance(checkpoint, dict):
        return None
    model, hparams = checkpoint.get(MODEL_CLASS_KEY), checkpoint.get("hyper_parameters")
    return (model, hparams) if model in MODEL_CLASSES and isinstance(hparams, dict) else None


def _intact_sibling(path: Path, record: tuple[str, dict[str, Any]] | None) -> Path | None:
    """The newest other checkpoint in the same folder (a run's last or best) that passes the check and
    loads as a checkpoint of the same run: the same `record`. None without a record to match: a file
    is never named for being intact alone."""
    if record is None:
        return None
    others = [p for p in path.parent.glob("*.ckpt") if p.is_file() and p.resolve() != path.resolve()]
    for other in sorted(others, key=lambda p: p.stat().st_mtime, reverse=True):
        if not zipfile.is_zipfile(other) or damage_in(other) is not None:
            continue
        try:  # mmap: the tensors are not read, only the record
            loaded = torch.load(other, map_location="cpu", weights_only=True, mmap=True)
            if run_record(loaded) == record:
                return other
        except Exception:  # unreadable, refused (code), or hyper-parameters that do not compare: not named
            continue
    return None


def read_training_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint to continue training from (`resume=`, `ckpt_path=`, testing the best one)."""
    checkpoint = read_checkpoint(path)
    missing = [key for key in LIGHTNING_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(
            f"{path} is not a Lightning training checkpoint (it has no {' or '.join(missing)}; top-level keys: "
            f"{sorted(map(str, checkpoint))[:8]}). Continue a run from its own checkpoints (resume=<run dir>); "
            "to start a GAN from a colorizer's weights use model.generator_init=<ckpt>."
        )
    return checkpoint


def holds_training_state(checkpoint: dict[str, Any]) -> bool:
    """Whether training can continue from it: best checkpoints are saved with the weights only."""
    return "optimizer_states" in checkpoint


def weights_only_error(path: str | Path) -> CheckpointError:
    return CheckpointError(
        f"{path} holds the weights only (a run's best checkpoint: it serves testing, colorize, evaluate and "
        "export), not the optimizer states training continues from. Continue a run from its last.ckpt "
        "(resume=<run dir>)."
    )


def check_fits(checkpoint: dict[str, Any], model: torch.nn.Module, path: str | Path) -> None:
    """Raise unless the checkpoint's weights and colour space are those of `model`: said in one
    paragraph here rather than in Lightning's page of missing and unexpected keys."""
    problems = []
    trained = (checkpoint.get("hyper_parameters") or {}).get("color_space")
    wanted = getattr(getattr(model, "color_space", None), "name", None)
    if trained and wanted and trained != wanted:
        problems.append(f"it was trained in {trained}, this run uses {wanted} (data.color_space)")
    have, want = checkpoint.get("state_dict") or {}, model.state_dict()
    missing = [k for k in want if k not in have]
    unexpected = [k for k in have if k not in want]
    resized = [k for k in want if k in have and tuple(have[k].shape) != tuple(want[k].shape)]
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("of another shape", resized)):
        if keys:
            problems.append(f"{len(keys)} weights {label} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})")
    if problems:
        raise CheckpointError(
            f"{path} does not fit this run's model: {'; '.join(problems)}. Continue a run with the settings it was "
            "trained with (resume=<run dir> rebuilds them), or pass a checkpoint of the same model and colour space."
        )


def describe_load_error(path: Path, err: Exception) -> str:
    """One sentence for a failed torch.load: refused code, truncation, or not a torch file at all."""
    text = str(err)
    not_torch = f"{path} is not a PyTorch checkpoint ({{}}). {WRITTEN_BY}."
    if "Weights only load failed" in text:
        if "Unsupported operand" in text and not _starts_like_pickle(path):  # text or other bytes
            return not_torch.format("its bytes are not a pickle stream")
        found = re.search(r"GLOBAL (\S+)", text) or re.search(r"(Unsupported operand \d+)", text)
        what = f" ({found.group(1)})" if found else ""
        return (
            f"Refused to load {path}: it holds pickled objects or instructions that could run code{what}. "
            "colorgan checkpoints hold only tensors and plain values; use a checkpoint from a source you "
            "trust that was written by `python -m colorgan.train`."
        )
    if "zip archive" in text or "central directory" in text or isinstance(err, EOFError):
        return f"Checkpoint {path} is truncated or corrupt ({type(err).__name__}); copy or save it again."
    if isinstance(err, PermissionError):
        return f"Permission denied reading checkpoint {path}; make it readable (chmod u+r) or copy it somewhere readable."
    return not_torch.format(f"{type(err).__name__}: {text.splitlines()[0] if text else 'unreadable'}")


def _starts_like_pickle(path: Path) -> bool:
    """A pickle of protocol 2 or later starts with the PROTO opcode."""
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"


def _not_colorizer(path: str | Path, why: str) -> CheckpointError:
    return CheckpointError(f"{path} is not a colorgan colorizer checkpoint: {why}. {WRITTEN_BY} (U-Net or GAN).")


def _generator_weights(checkpoint: dict[str, Any], path: str | Path) -> dict[str, torch.Tensor]:
    """The generator's weights of a U-Net or GAN colorizer checkpoint, without the prefix: the
    moving average (`generator_ema.*`) when the GAN kept one, else `generator.*`."""
    state = checkpoint.get("state_dict")
    if not isinstance(state, dict):
        raise _not_colorizer(path, f"it has no state_dict (top-level keys: {sorted(checkpoint)[:8]})")
    prefix = EMA_PREFIX if any(k.startswith(EMA_PREFIX) for k in state) else GENERATOR_PREFIX
    weights = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    if not weights:
        raise _not_colorizer(path, f"no '{GENERATOR_PREFIX}*' weights among {len(state)} tensors")
    return weights


def generator_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The generator's weights (prefix removed) of a colorizer checkpoint, read and checked."""
    return _generator_weights(read_checkpoint(path), path)


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> GeneratorCheckpoint:
    """Rebuild the generator of a U-Net or GAN colorizer checkpoint, in eval mode on `device`."""
    path = Path(path)
    checkpoint = read_checkpoint(path)
    hparams = checkpoint.get("hyper_parameters")
    weights = _generator_weights(checkpoint, path)
    if not isinstance(hparams, dict) or hparams.get("color_space") not in COLOR_SPACES:
        raise _not_colorizer(path, f"hyper_parameters lack a color_space ({' or '.join(COLOR_SPACES)})")
    color_space = ColorSpace(hparams["color_space"])
    settings = hparams.get("generator") or {}
    if not isinstance(settings, dict):
        raise _not_colorizer(path, f"hyper_parameters.generator is a {type(settings).__name__}")
    if "encoder" not in settings:  # a plain U-Net, maybe written before output_layer existed
        settings = {**OLD_GENERATOR_DEFAULTS, **settings}
    kind = model_class(checkpoint)
    if kind not in MODEL_CLASSES:
        raise _not_colorizer(path, f"it was written by {kind!r}, not one of {', '.join(MODEL_CLASSES)}")
    try:
        if kind == "ClassifyColorizer":  # logits over ab bins, decoded to ab
            generator = ColorClassifierUNet(color_space.in_channels, hparams.get("temperature", TEMPERATURE),
                                            hparams.get("grid", GRID), from_checkpoint=True, **settings)
        else:
            generator = build_generator(color_space.in_channels, color_space.out_channels, settings,
                                        from_checkpoint=True)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: its generator settings {settings} are not understood here ({err}).") from None
    try:
        generator.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[1:2] or [str(err)]
        raise CheckpointError(
            f"{path}: the generator weights do not fit the generator its settings describe ({first[0].strip()})."
        ) from None
    size = checkpoint.get("train_image_size") or DEFAULT_TRAIN_IMAGE_SIZE
    return GeneratorCheckpoint(
        generator=generator.to(device).eval(),
        color_space=color_space,
        train_image_size=(int(size[0]), int(size[1])),
        path=path,
        hyper_parameters=hparams,
    )


def load_generator_weights(
    generator: UNetGenerator, path: str | Path, color_space: ColorSpace, settings: dict[str, Any] | None = None
) -> None:
    """Copy a colorizer checkpoint's (U-Net or GAN) `generator.*` weights into `generator`, e.g. to
    warm-start a GAN (`model.generator_init`); a mismatch names both configurations. The parts a
    generator names in `new_in_warm_start` (a hint model's side branches) may be absent from the
    checkpoint: they keep their own start, so a hint model starts as the automatic model it came from."""
    checkpoint = read_checkpoint(path)
    weights = _generator_weights(checkpoint, path)
    hparams = checkpoint.get("hyper_parameters") or {}
    trained = hparams.get("color_space")
    fits = trained in (None, color_space.name)
    if fits:
        try:
            loaded = generator.load_state_dict(weights, strict=False)
        except RuntimeError:
            fits = False
        else:
            new = tuple(getattr(generator, "new_in_warm_start", ()))
            missing = [key for key in loaded.missing_keys if not key.startswith(new)] if new else loaded.missing_keys
            fits = not missing and not loaded.unexpected_keys
    if not fits:
        raise CheckpointError(
            f"The generator in {path} does not fit this model's generator.\n"
            f"  checkpoint: color_space={trained!r}, generator={hparams.get('generator')}\n"
            f"  this model: color_space={color_space.name!r}, generator={settings}\n"
            "(keys not shown take UNetGenerator's defaults). Use the checkpoint's data.color_space and "
            "model.generator settings."
        )
