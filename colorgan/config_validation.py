"""Refuse a bad config before any work starts: in a second, before data is loaded or a model built.

Every problem is listed at once, each with the key, the value and what is valid, so one fix-and-rerun
cycle is enough. Valid names come from the registries that define them (colorgan.nets.layers, the colour
spaces, the models' loss tables) and rules from the constructors' own checks (U-Net depth, the global
discriminator's size, D steps per G step), so this never falls out of date with the code. The model
type is the class `model._target_` names.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from colorgan.color_space import COLOR_SPACES
from colorgan.data import cifar10, folder_splits
from colorgan.data.errors import DatasetError
from colorgan.errors import UserError
from colorgan.models.classify_colorizer import ClassifyColorizer
from colorgan.models.gan_colorizer import GANColorizer, check_critic_steps, check_d_steps
from colorgan.models.unet_colorizer import LOSSES, UNetColorizer
from colorgan.nets.discriminators import DISCRIMINATORS, GlobalDiscriminator
from colorgan.nets.ema import check_ema_decay
from colorgan.nets.gan_losses import GAN_LOSSES
from colorgan.nets.layers import ACTIVATIONS, INITS, NORMS
from colorgan.nets.unet import OUTPUT_LAYERS, check_channels, depth_mismatch, max_depth
from colorgan.runs.checkpoint_io import (
    CheckpointDamaged,
    CheckpointError,
    check_fits,
    holds_training_state,
    read_training_checkpoint,
    weights_only_error,
)
from colorgan.runs.resume import LAST, ResumeError, checkpoint_to_resume, checkpoints_in, resume_command

CIFAR10_SIZE = 32
WANDB_MODES = (None, "online", "offline", "disabled", "dryrun")
# What to pass for a mandatory value the configs leave unset, where their comment does not say it briefly.
MANDATORY_HINTS = {"data.root": "a folder of photos"}


class ConfigError(UserError, ValueError):
    """The config has invalid values; the message lists each with what is valid."""


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

    def rule(self, key: str, check: Callable[..., None], *args: Any) -> bool:
        """Run a constructor's own check (it raises ValueError) on config values; report it under `key`."""
        try:
            check(*args)
        except ValueError as err:
            self.problems.append(f"{key}: {err}")
            return False
        return True

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


def _model_is(cfg: DictConfig, base: type) -> bool:
    """Whether `model._target_` names `base` or a subclass (False when it does not import: _check_targets says so)."""
    try:
        model_class = get_object(OmegaConf.select(cfg, "model._target_", default=""))
    except Exception:  # noqa: BLE001 - reported by _check_targets
        return False
    return isinstance(model_class, type) and issubclass(model_class, base)


def _check_model(c: _Checker) -> None:
    cfg = c.cfg
    is_gan = _model_is(cfg, GANColorizer)
    c.choice("model.color_space", COLOR_SPACES)
    for key in ("activation", "decoder_activation"):
        c.choice(f"model.generator.{key}", ACTIVATIONS)
    c.choice("model.generator.norm", NORMS)
    c.choice("model.generator.output_layer", [name for name in OUTPUT_LAYERS if name != "none"])
    c.choice("model.init", INITS)
    if _model_is(cfg, ClassifyColorizer):
        if c.get("model.color_space") != "lab":
            c.fail("model.color_space", c.get("model.color_space"),
                   "the classification colorizer predicts Lab ab bins: use data.color_space=lab")
        c.number("model.temperature", lambda v: v >= 0, "must be a number >= 0 (1: the mean, 0: the mode)")
        c.number("model.rebalance", lambda v: 0 <= v <= 1, "must be in [0, 1]")
        c.number("model.prior_images", lambda v: v >= 1, "must be an integer >= 1", integer=True)
    if c.has("model.color_space") and c.has("data.color_space") and c.get("model.color_space") != c.get("data.color_space"):
        c.fail("model.color_space", c.get("model.color_space"),
               f"the data is split in {c.get('data.color_space')!r} (data.color_space): set data.color_space, "
               "which model.color_space follows, instead of model.color_space")
    if _model_is(cfg, UNetColorizer):
        c.choice("model.loss", LOSSES)
    if is_gan:
        c.choice("model.gan_loss", GAN_LOSSES)
        c.choice("model.discriminator.name", DISCRIMINATORS)
        c.choice("model.discriminator.norm", NORMS)
        c.choice("model.discriminator.activation", ACTIVATIONS)
        for key, check in (("d_steps_per_g_step", check_d_steps), ("critic_steps", check_critic_steps),
                           ("ema_decay", check_ema_decay)):
            if c.has(f"model.{key}"):
                c.rule(f"model.{key}", check, c.get(f"model.{key}"))
        c.choice("model.discriminator.spectral_norm", (False, True))

    model = cfg.get("model") or {}
    if c.has("model.lr_schedule"):
        c.choice("model.lr_schedule", (None, "cosine"))
    for key in model:
        if key == "lr" or (key.startswith("lr_") and key != "lr_schedule"):
            c.number(f"model.{key}", lambda v: v > 0, "a learning rate must be a number > 0")
        elif key.startswith("lambda"):
            c.number(f"model.{key}", lambda v: v >= 0, "a loss weight must be a number >= 0")
    c.number("model.weight_decay", lambda v: v >= 0, "must be a number >= 0")
    c.number("model.generator.dropout", lambda v: 0 <= v < 1, "must be in [0, 1)")
    betas = c.get("model.betas")
    if c.has("model.betas") and not (
        isinstance(betas, (list, tuple, ListConfig)) and len(betas) == 2
        and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)
    ):
        c.fail("model.betas", OmegaConf.to_object(betas) if isinstance(betas, ListConfig) else betas,
               "Adam's betas are two numbers in [0, 1), e.g. [0.5, 0.999]")
    _check_sizes(c, is_gan)


def _check_sizes(c: _Checker, is_gan: bool) -> None:
    """The networks' own size rules (colorgan.nets.unet, colorgan.nets.discriminators) on the configured image size."""
    size = _image_size(c.cfg)
    channels = c.get("model.generator.channels")
    if channels is not None and not isinstance(channels, str):  # "auto" fits itself to the image size
        channels = OmegaConf.to_object(channels) if isinstance(channels, ListConfig) else channels
        valid = c.rule("model.generator.channels", check_channels, channels)
        if valid and size is not None and (need := depth_mismatch(len(channels), size, size)):
            c.fail("model.generator.channels", channels,
                   f"{need}, but images are {size}x{size}; use at most {max_depth(size)} levels or another data.image_size")
    n_layers = c.get("model.discriminator.n_layers")
    if is_gan and size is not None and c.get("model.discriminator.name") == "global" and isinstance(n_layers, int):
        c.rule("model.discriminator.n_layers", GlobalDiscriminator.check_size, n_layers, size, size)


def _check_data_and_trainer(c: _Checker) -> None:
    c.choice("data.color_space", COLOR_SPACES)
    c.number("data.batch_size", lambda v: v >= 1, "must be an integer >= 1", integer=True)
    c.number("data.eval_batch_size", lambda v: v >= 1, "must be an integer >= 1 or null", integer=True, optional=True)
    c.number("data.num_workers", lambda v: v >= 0, "must be an integer >= 0", integer=True)
    c.number("trainer.max_epochs", lambda v: v >= 1 or v == -1, "must be an integer >= 1 (or -1: no limit)",
             integer=True, optional=True)
    c.number("trainer.limit_train_batches", lambda v: v > 0, "must be > 0 (a count of batches, or a fraction of "
             "them): 0 would train on zero batches", optional=True)
    c.number("callbacks.last_checkpoint.every_n_minutes", lambda v: v > 0, "must be a number > 0 or null",
             optional=True)
    c.number("callbacks.last_checkpoint.every_n_train_steps", lambda v: v >= 1, "must be an integer >= 1 or null",
             integer=True, optional=True)
    for name, node in (c.cfg.get("logger") or {}).items():
        if node is not None and "WandbLogger" in str(node.get("_target_", "")):
            c.choice(f"logger.{name}.mode", WANDB_MODES)


def _missing_keys(cfg: DictConfig) -> list[str]:
    """Dotted keys whose value is `???`, found without resolving anything (OmegaConf.missing_keys resolves
    interpolations, and one that cannot be resolved yet is not this check's business)."""
    found = []

    def walk(node: Any, prefix: str) -> None:
        if node == "???":
            found.append(prefix)
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))

    walk(OmegaConf.to_container(cfg, resolve=False, throw_on_missing=False), "")
    return found


def _experiment_marks() -> dict[str, str]:
    """key -> hint for every value the chosen experiment (or one it builds on) marks mandatory (`???`).
    Merging `???` over a value keeps the value (OmegaConf), so photo_gan's `generator_init: ???` over
    conf/model/gan.yaml's null composes as null: the marks are read from the experiment files."""
    if not HydraConfig.initialized():
        return {}
    hydra = HydraConfig.get()
    folders = [Path(source.path) / "experiment" for source in hydra.runtime.config_sources if source.schema == "file"]
    pending, seen, marks = [hydra.runtime.choices.get("experiment")], set(), {}
    while pending:
        name = pending.pop()
        file = next((f / f"{name}.yaml" for f in folders if (f / f"{name}.yaml").is_file()), None)
        if not name or name in seen or file is None:
            continue
        seen.add(name)
        text, node = file.read_text(), OmegaConf.load(file)
        if "@package _global_" not in text:
            continue
        pending += [d for d in node.get("defaults") or [] if isinstance(d, str) and "/" not in d and d != "_self_"]
        for key in _missing_keys(node):
            said = re.search(rf"^\s*{re.escape(key.rsplit('.', 1)[-1])}:\s*\?\?\?\s*#\s*([^;(\n]*)", text, re.M)
            marks.setdefault(key, said.group(1).strip() if said else "a value")
    return marks


def _check_mandatory(c: _Checker) -> None:
    """Every mandatory value (`???`) is set: one problem naming them all and what to pass."""
    unset = {key: MANDATORY_HINTS.get(key, "a value") for key in sorted(_missing_keys(c.cfg))
             if not key.startswith("hydra.")}
    for key, hint in _experiment_marks().items():
        if key not in unset and OmegaConf.select(c.cfg, key, default=None, throw_on_missing=False) is None:
            unset[key] = hint
    if unset:
        experiment = HydraConfig.get().runtime.choices.get("experiment") if HydraConfig.initialized() else None
        which = f"+experiment={experiment} leaves" if experiment else "the config leaves"
        pass_them = " ".join(f"{key}=<{hint}>" for key, hint in unset.items())
        c.problems.append(f"{which} {' and '.join(unset)} to you; pass {pass_them}")


def _check_data_present(c: _Checker) -> None:
    """The data is where the config says (a missing folder fails now, not after the run started)."""
    data = c.cfg.get("data") or {}
    if "data_dir" in data and not data.get("download"):
        key, value, check = "paths.data_dir", str(data.data_dir), cifar10.batch_folder
    elif "root" in data and not OmegaConf.is_missing(data, "root"):
        root = data.root
        value = OmegaConf.to_container(root, resolve=True) if OmegaConf.is_config(root) else str(root)
        key, check = "data.root", folder_splits.check_roots
    else:
        return
    try:  # the data modules' own checks: missing, or not readable by this user; a folder too small
        check(Path(value) if isinstance(value, str) else value)
        if key == "data.root":  # for its splits or for one training batch (counted, not decoded)
            folder_splits.check_split_sizes(value, data.get("val_size", 0.05), data.get("test_size", 0.1),
                                            data.get("split_seed", 0), data.get("batch_size", 1))
    except DatasetError as err:
        c.fail(key, value, str(err))


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


def _check_checkpoints(c: _Checker, resume_from: Path | None) -> None:
    """The checkpoint a run continues from, and a GAN's `model.generator_init`, are readable and
    fit the model this config builds (a model is built for that: a fraction of a second)."""
    init = c.get("model.generator_init")
    if resume_from is None and not init:
        return
    model = instantiate(c.cfg.model, _convert_="all")
    if resume_from is not None:
        saved = read_training_checkpoint(resume_from)
        if not holds_training_state(saved):
            raise weights_only_error(resume_from)
        check_fits(saved, model, resume_from)
    if init:
        model.warm_start(init)  # each model warm-starts its own way (the classifier: its body only)


def _best_instead(checkpoint: Path | None) -> str:
    """When a run's last.ckpt cannot be used: the command that continues from its newest readable
    best checkpoint instead (the epochs after it are trained again), or nothing."""
    if checkpoint is None or not checkpoint.as_posix().endswith(LAST.as_posix()):
        return ""
    for best in sorted(checkpoint.parent.glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            saved = read_training_checkpoint(best)
        except CheckpointError:
            continue
        if not holds_training_state(saved):  # best checkpoints are saved with the weights only
            return (f" The run's best checkpoint {best} is readable: colorize, evaluate and export work with it, "
                    "but it holds no optimizer states to train on from; start a new run to train further.")
        return f" The run's best checkpoint is readable; to continue from it (later epochs are trained again): {resume_command(best)}"
    return ""


def _check_run_dir(c: _Checker) -> None:
    """resume= must name a checkpoint; a new run must not write over a resumable one; the run
    directory must be writable (checkpoints are saved there)."""
    output_dir = Path(c.get("paths.output_dir"))
    checkpoint = None
    try:
        checkpoint = checkpoint_to_resume(c.cfg, output_dir)
        _check_checkpoints(c, checkpoint)
    except (ResumeError, CheckpointError) as err:
        instead = _best_instead(checkpoint)  # a damaged last.ckpt: what to continue from replaces the sibling advice
        c.problems.append((err.said if isinstance(err, CheckpointDamaged) and instead else str(err)) + instead)
        return
    resuming = checkpoint is not None
    if not resuming and checkpoints_in(output_dir):
        c.fail("hydra.run.dir", str(output_dir),
               f"already holds a run with a checkpoint ({output_dir / LAST}); continue it with "
               f"`{resume_command(output_dir)}`, or start the new run in another directory")
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
    _check_mandatory(c)
    _check_targets(c)
    _check_model(c)
    _check_data_and_trainer(c)
    if not c.problems:  # a config that cannot even be built says so first; data and run dir come after
        _check_data_present(c)
        _check_run_dir(c)
    if c.problems:
        if len(c.problems) == 1:
            raise ConfigError(f"Invalid config, nothing was run: {c.problems[0]}")
        raise ConfigError("Invalid config, nothing was run:\n" + "\n".join(f"  - {p}" for p in c.problems))
