"""The repository's paths, the tiny training configuration every test starts from, and conf/
composed as `python -m colorgan.train` composes it."""

from __future__ import annotations

import os
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from colorgan.data import cifar10

REPO = Path(__file__).resolve().parents[2]
CONF_DIR = REPO / "conf"
SHARED_DATA = Path(cifar10.default_data_dir(REPO))  # where the commands find CIFAR-10 from the repository
REAL_CIFAR = SHARED_DATA / cifar10.FOLDER
# The tiny runs train on the CPU; COLORGAN_TEST_ACCELERATOR=gpu runs them on CUDA (.ci/gpu_checks.sh).
ACCELERATOR = os.environ.get("COLORGAN_TEST_ACCELERATOR", "cpu")
DEVICE_TYPE = "cuda" if ACCELERATOR in ("gpu", "cuda") else ACCELERATOR

# A small, fast configuration: tiny U-Net, tiny batches, a couple of batches per stage.
TINY = [
    "model.generator.channels=[8,16,32]",
    "data.batch_size=8",
    "data.eval_batch_size=16",
    "data.val_size=16",
    f"trainer.accelerator={ACCELERATOR}",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_model_summary=false",
    "callbacks.model_summary=null",
    "logger=csv",
    "callbacks.progress_bar=null",
    "print_config=false",
]


def on_a_photo_folder(experiment: str) -> bool:
    """Whether an experiment trains on a photo folder: it overrides /data with folder (or photos, the
    folder at the encoder models' size), or builds on an experiment that does (photo_gan on photo_unet)."""
    text = (CONF_DIR / "experiment" / f"{experiment}.yaml").read_text()
    if "override /data: folder" in text or "override /data: photos" in text:
        return True
    included = [line.strip()[2:] for line in text.splitlines() if line.startswith("  - ") and ":" not in line]
    return any(on_a_photo_folder(name) for name in included if (CONF_DIR / "experiment" / f"{name}.yaml").is_file())


def has_encoder_generator(experiment: str) -> bool:
    """Whether an experiment's generator is the ImageNet-encoder U-Net (conf/model/generator/efficientnet_lite.yaml),
    whose widths are the encoder's own, or builds on an experiment whose generator is."""
    text = (CONF_DIR / "experiment" / f"{experiment}.yaml").read_text()
    if "override /model/generator: efficientnet_lite" in text:
        return True
    included = [line.strip()[2:] for line in text.splitlines() if line.startswith("  - ") and ":" not in line]
    return any(has_encoder_generator(name) for name in included if (CONF_DIR / "experiment" / f"{name}.yaml").is_file())


def tiny_overrides(experiment: str) -> list[str]:
    """TINY for this experiment: without the tiny U-Net widths where the generator is the encoder's."""
    return [o for o in TINY if not (o.startswith("model.generator.channels") and has_encoder_generator(experiment))]


EXPERIMENT_NAMES = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


def experiment_spaces(experiments: list[str]) -> list[tuple[str, str]]:
    """(experiment, colour space) pairs to test: both spaces, but Lab only for Lab-only models (the
    classification colorizer predicts ab bins; the hint model reads ab hints) and for the experiments
    warm-started from the shipped photo model, a Lab model."""
    def lab_only(name: str) -> bool:
        text = (CONF_DIR / "experiment" / f"{name}.yaml").read_text()
        return "override /model: classify" in text or "${base_model:}" in text or "hint_unet" in text

    return [(e, space) for e in experiments for space in ("lab", "rgb") if space == "lab" or not lab_only(e)]


def compose_train(overrides: list[str], run_dir: Path, data_dir: Path | None = None) -> DictConfig:
    """Compose conf/train.yaml as `python -m colorgan.train` would, with the run dir set."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.run.dir = cfg.hydra.runtime.output_dir = str(run_dir)  # as Hydra's run resolved it: no new folder
        cfg.hydra.job.num = 0
        if data_dir is not None:
            cfg.paths.data_dir = str(data_dir)
        cfg.paths.log_dir = str(run_dir.parent)
        cfg.paths.cache_dir = str(run_dir.parent / "cache")
    HydraConfig().set_config(cfg)
    return cfg
