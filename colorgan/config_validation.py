"""Refuse a bad config before any work starts: in a second, before data is loaded or a model built.

Every problem is listed at once, each with the key, the value and what is valid, so one fix-and-rerun
cycle is enough. Valid names come from the registries that define them (colorgan.layers, the colour
spaces, the models' loss tables), so this never falls out of date with the code.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf

from colorgan.checkpoint_io import CheckpointError, read_training_checkpoint
from colorgan.color_space import COLOR_SPACES
from colorgan.data import cifar10
from colorgan.errors import UserError
from colorgan.layers import ACTIVATIONS, INITS, NORMS
from colorgan.models.unet_colorizer import LOSSES
from colorgan.resume import LAST, ResumeError, checkpoint_to_resume, checkpoints_in
from colorgan.unet import OUTPUT_LAYERS

CIFAR10_SIZE = 32
WANDB_MODES = (None, "online", "offline", "disabled", "dryrun")


class ConfigError(UserError, ValueError):
    """The config has invalid values; the message lists each with what is valid."""


def _optional_registry(module: str, name: str) -> Iterable[str] | None:
    """A registry from a module that may not exist in this checkout (e.g. the GAN's)."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _gan_losses() -> Iterable[str] | None:
    return _optional_registry("colorgan.gan_losses", "GAN_LOSSES")


def _discriminators() -> Iterable[str] | None:
    return _optional_registry("colorgan.discriminators", "DISCRIMINATORS")


class _Checker:
    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.problems: list[str] = []

    def get(self, key: str) -> Any:
        return OmegaConf.select(self.cfg, key, default=None, throw_on_missing=False)

    def has(self, key: str) -> bool:
        parent, _, leaf = key.rpartition(".")
        node = self.cfg if not parent else OmegaConf.select(self.cfg, parent, default=None)
        return isinstance(node, DictConfig) and leaf in node

    def fail(self, key: str, value: Any, expected: str) -> None:
        self.problems.append(f"{key}={value!r}: {expected}")

    def choice(self, key: str, valid: Iterable[Any] | None) -> None:
        if valid is None or not self.has(key):
            return
        valid = list(valid)
        value = self.get(key)
        if value not in valid:
            names = ", ".join("null" if v is None else str(v) for v in valid)
            self.fail(key, value, f"valid values are {names}")

    def number(self, key: str, ok: Callable[[float], bool], expected: str, integer: bool = False,
               optional: bool = False) -> None:
        if not self.has(key):
            return
        value = self.get(key)
        if value is None and optional:
            return
        kind = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind) or not ok(value):
            self.fail(key, value, expected)


def _image_size(cfg: DictConfig) -> int | None:
    data = cfg.get("data") or {}
    if data.get("image_size") is not None:
        return int(data.image_size)
    if str(data.get("_target_", "")).endswith("CIFAR10DataModule"):
        return CIFAR10_SIZE
    return None


def _check_model(c: _Checker) -> None:
    cfg = c.cfg
    model_class = str(OmegaConf.select(cfg, "model._target_", default="")).rsplit(".", 1)[-1]
    is_gan = "GAN" in model_class
    c.choice("model.color_space", COLOR_SPACES)
    for key in ("activation", "decoder_activation"):
        c.choice(f"model.generator.{key}", ACTIVATIONS)
    c.choice("model.generator.norm", NORMS)
    c.choice("model.generator.output_layer", OUTPUT_LAYERS)
    c.choice("model.init", INITS)
    c.choice("model.loss", _gan_losses() if is_gan else LOSSES)
    c.choice("model.gan_loss", _gan_losses())
    for key in ("name", "type"):
        c.choice(f"model.discriminator.{key}", _discriminators())
    c.choice("model.discriminator.norm", NORMS)
    c.choice("model.discriminator.activation", ACTIVATIONS)

    model = cfg.get("model") or {}
    for key in model:
        if key == "lr" or key.startswith("lr_"):
            c.number(f"model.{key}", lambda v: v > 0, "a learning rate must be a number > 0")
        elif key.startswith("lambda"):
            c.number(f"model.{key}", lambda v: v >= 0, "a loss weight must be a number >= 0")
    c.number("model.weight_decay", lambda v: v >= 0, "must be a number >= 0")
    c.number("model.generator.dropout", lambda v: 0 <= v < 1, "must be in [0, 1)")
    c.number("model.d_steps_per_g_step", lambda v: v >= 1, "must be an integer >= 1", integer=True)
    betas = c.get("model.betas")
    if c.has("model.betas") and not (
        isinstance(betas, (list, tuple, ListConfig)) and len(betas) == 2
        and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)
    ):
        c.fail("model.betas", OmegaConf.to_object(betas) if isinstance(betas, ListConfig) else betas,
               "Adam's betas are two numbers in [0, 1), e.g. [0.5, 0.999]")
    _check_depth(c)


def _check_depth(c: _Checker) -> None:
    """Image sides must be multiples of 2**depth of the U-Net (its channel list's length)."""
    channels = c.get("model.generator.channels")
    if channels is None or isinstance(channels, str):  # "auto" fits itself to the image size
        return
    if not (isinstance(channels, ListConfig) and len(channels) > 0
            and all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in channels)):
        c.fail("model.generator.channels", OmegaConf.to_object(channels) if isinstance(channels, ListConfig)
               else channels, "a non-empty list of positive integer widths, one per U-Net level")
        return
    size = _image_size(c.cfg)
    depth = len(channels)
    if size is not None and size % 2**depth:
        fits = max(d for d in range(1, 12) if size % 2**d == 0) if size % 2 == 0 else 0
        c.fail(
            "model.generator.channels", list(channels),
            f"a U-Net of depth {depth} needs image sides that are multiples of {2**depth}, but images are "
            f"{size}x{size}; use at most {fits} levels or another data.image_size",
        )
    n_layers = c.get("model.discriminator.n_layers")
    kind = c.get("model.discriminator.name") or c.get("model.discriminator.type")
    if size is not None and kind == "global" and isinstance(n_layers, int) and 2**n_layers != size:
        c.fail("model.discriminator.n_layers", n_layers,
               f"the global discriminator reduces 2**n_layers-pixel images to one logit; images are {size}x{size}")


def _check_data_and_trainer(c: _Checker) -> None:
    c.choice("data.color_space", COLOR_SPACES)
    c.number("data.batch_size", lambda v: v >= 1, "must be an integer >= 1", integer=True)
    c.number("data.eval_batch_size", lambda v: v >= 1, "must be an integer >= 1 or null", integer=True, optional=True)
    c.number("data.num_workers", lambda v: v >= 0, "must be an integer >= 0", integer=True)
    c.number("trainer.max_epochs", lambda v: v >= 1 or v == -1, "must be an integer >= 1 (or -1: no limit)",
             integer=True, optional=True)
    c.number("callbacks.last_checkpoint.every_n_minutes", lambda v: v > 0, "must be a number > 0 or null",
             optional=True)
    c.number("callbacks.last_checkpoint.every_n_train_steps", lambda v: v >= 1, "must be an integer >= 1 or null",
             integer=True, optional=True)
    for name, node in (c.cfg.get("logger") or {}).items():
        if node is not None and "WandbLogger" in str(node.get("_target_", "")):
            c.choice(f"logger.{name}.mode", WANDB_MODES)


def _check_data_present(c: _Checker) -> None:
    """The data is where the config says (a missing folder fails now, not after the run started)."""
    data = c.cfg.get("data") or {}
    try:
        if "data_dir" in data and not data.get("download"):
            folder = Path(str(data.data_dir)) / cifar10.FOLDER
            if not cifar10.folder_exists(folder):
                c.fail("paths.data_dir", str(data.data_dir),
                       f"CIFAR-10 folder not found: {folder}. " + cifar10.HOW_TO_GET.format(folder=cifar10.FOLDER))
        elif "root" in data and not OmegaConf.is_missing(data, "root") and not cifar10.folder_exists(Path(str(data.root))):
            c.fail("data.root", str(data.root), "no such folder; point data.root at a folder of photos")
    except cifar10.DatasetError as err:  # permission denied
        c.problems.append(str(err))


def _check_targets(c: _Checker) -> None:
    """Every `_target_` imports (a typo in a class path fails here, not after loading data)."""
    nodes = [("data", c.cfg.get("data")), ("model", c.cfg.get("model")), ("trainer", c.cfg.get("trainer"))]
    for group in ("logger", "callbacks"):
        nodes += [(f"{group}.{k}", v) for k, v in (c.cfg.get(group) or {}).items()]
    for key, node in nodes:
        if isinstance(node, DictConfig) and "_target_" in node:
            try:
                get_object(node._target_)
            except Exception as err:  # noqa: BLE001 - any import failure means the same to the user
                c.fail(f"{key}._target_", node._target_, f"cannot be imported ({err})")


def _check_run_dir(c: _Checker) -> None:
    """resume= must name a checkpoint; a new run must not write over a resumable one; the run
    directory must be writable (checkpoints are saved there)."""
    output_dir = Path(c.get("paths.output_dir"))
    try:
        checkpoint = checkpoint_to_resume(c.cfg, output_dir)
        if checkpoint is not None:
            read_training_checkpoint(checkpoint)  # missing, truncated, foreign or unsafe: refused before the run
    except (ResumeError, CheckpointError) as err:
        c.problems.append(str(err))
        return
    resuming = checkpoint is not None
    if not resuming and checkpoints_in(output_dir):
        c.fail("hydra.run.dir", str(output_dir),
               f"already holds a run with a checkpoint ({output_dir / LAST}); continue it with "
               f"resume={output_dir}, or start the new run in another directory")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output_dir, prefix=".write_test"):
            pass
    except OSError as err:
        c.fail("paths.output_dir", str(output_dir),
               f"is not writable ({os.strerror(err.errno) if err.errno else err}); pick a writable hydra.run.dir")


def validate_config(cfg: DictConfig) -> None:
    """Raise ConfigError listing every invalid value of a composed train config."""
    c = _Checker(cfg)
    _check_targets(c)
    _check_model(c)
    _check_data_and_trainer(c)
    if not c.problems:  # a config that cannot even be built says so first; data and run dir come after
        _check_data_present(c)
        _check_run_dir(c)
    if c.problems:
        raise ConfigError("Invalid config, nothing was run:\n" + "\n".join(f"  - {p}" for p in c.problems))
