"""Test another checkpoint of a finished run into a run folder of its own, which `colorgan.report`
reads beside the original:

    python -m colorgan.retest <run dir> <checkpoint> <new run dir> [--name NAME] [--data-root DIR --size N]

A run is tested on its best checkpoint by validation MAE. For a GAN or a classification model that
is often its least colourful epoch, so a study of vivid colour also wants the last epoch tested. The
new folder holds the run's config, logs and validation history (it is the same training), a copy
of the tested checkpoint, and the test results; the original run is not touched.

`--data-root DIR` tests on every photo of another folder instead of the run's test split (photos
unlike the training set: a model is judged on both), at `--size N` px (default: the run's size);
runs retested on the same folder at the same size are compared image by image by the report.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import lightning as L
import torch
import yaml
from hydra.utils import instantiate
from omegaconf import OmegaConf

from colorgan.errors import UserError, exit_on_user_error
from colorgan.nets.judge import JudgeUnavailable, SemanticJudge
from colorgan.pretrained.bundle import register_config_resolver
from colorgan.quiet import silence_library_noise
from colorgan.report.tables import logged_comparison, print_comparison
from colorgan.runs.checkpoint_io import read_checkpoint
from colorgan.runs.run_dir import (
    CHECKPOINTS,
    CONFIG,
    HYDRA_RECORD,
    JOB_STATUS,
    METRICS_CSV,
    OVERRIDES,
    RUN_INFO,
    TEST_METRICS,
    TEST_PER_IMAGE,
    WANDB_ID,
    Run,
    override_key,
    write_json,
    write_per_image,
)
from colorgan.system.atomic_io import write_text

register_config_resolver()  # a run warm-started from ${shipped_model:} rebuilds its model

# What the new folder does not take from the original: its checkpoints, results and W&B run.
NOT_COPIED = (CHECKPOINTS, "wandb", WANDB_ID, TEST_METRICS, TEST_PER_IMAGE, JOB_STATUS, "eval_*.json")


class RetestError(UserError, ValueError):
    """The run or checkpoint cannot be retested; the message says why."""


def retest(run_dir: str | Path, checkpoint: str | Path, out: str | Path, name: str | None = None,
           data_root: str | Path | None = None, size: int | None = None, semantic: bool = True) -> dict[str, float]:
    """Test `checkpoint` (or a packed generator such as the shipped photo.pt, on a run of the same
    generator) with `run_dir`'s data and model settings (or on every photo of `data_root`,
    at `size` px), writing the results to `out`; with the semantic test (colorgan.nets.judge) unless
    `semantic` is False (its judge not installed: one line says so, and the rest is measured)."""
    run, checkpoint, out = Run(Path(run_dir)), Path(checkpoint), Path(out)
    if run.config is None:
        raise RetestError(f"{run_dir} is not a colorgan run folder (no config.yaml).")
    saved = read_checkpoint(checkpoint)  # missing, empty or damaged: said before anything is written
    if data_root is not None and not Path(data_root).is_dir():
        raise RetestError(f"--data-root {data_root} is not a folder of photos.")
    if data_root is not None and "root" not in run.config.data:
        raise RetestError(f"{run_dir} was not trained on a photo folder (data.root); --data-root needs a run that was.")
    if size is not None and data_root is None:
        raise RetestError("--size goes with --data-root: a run's own test split is tested at its own size.")
    if out.exists() and any(out.iterdir()):
        raise RetestError(f"{out} already holds files; pick a new folder for the retested run.")
    name = name or f"{run.experiment}_{checkpoint.stem}"
    overrides = [o for o in run.overrides or [] if override_key(o) != "name"]
    packed = "pytorch-lightning_version" not in saved  # a packed model (the shipped photo.pt): its generator only
    # A packed model was not trained by this run: its training history (logs, images, times) is not copied.
    not_copied = (*NOT_COPIED, METRICS_CSV.parent.name, "images", RUN_INFO, "train.log") if packed else NOT_COPIED
    shutil.copytree(run.path, out, ignore=shutil.ignore_patterns(*not_copied), dirs_exist_ok=True)
    (out / HYDRA_RECORD).mkdir(exist_ok=True)
    write_text(out / HYDRA_RECORD / OVERRIDES, yaml.safe_dump([*overrides, f"name={name}"]))
    (out / CHECKPOINTS).mkdir()
    shutil.copy2(checkpoint, out / CHECKPOINTS / checkpoint.name)

    cfg = run.config
    if data_root is not None:
        folder = str(Path(data_root).resolve())
        cfg.data.root = {"train": folder, "val": folder, "test": folder}  # every photo is a test photo
        if size is not None:
            cfg.data.image_size = size
        write_text(out / CONFIG, OmegaConf.to_yaml(cfg))  # the report reads the test photos from here
    datamodule = instantiate(OmegaConf.to_container(cfg.data, resolve=True), _convert_="all")
    model = instantiate(OmegaConf.to_container(cfg.model, resolve=True), _convert_="all")
    if semantic:
        try:
            model.judge = SemanticJudge()
        except JudgeUnavailable as err:
            print(f"semantic test not computed: {err}")
    limit = OmegaConf.select(cfg, "trainer.limit_test_batches")
    trainer = L.Trainer(accelerator="auto", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_test_batches=1.0 if limit is None else limit)
    ckpt_path = str(checkpoint)
    if packed:
        model.warm_start(ckpt_path)
        ckpt_path = None
    trainer.test(model, datamodule=datamodule, ckpt_path=ckpt_path, verbose=False)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test")}
    write_json(out / TEST_METRICS, metrics)
    if model.test_per_image is not None:
        write_per_image(out / TEST_PER_IMAGE, model.test_per_image)
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.retest", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a finished run folder")
    parser.add_argument("checkpoint", help="the checkpoint to test, e.g. <run>/checkpoints/last.ckpt")
    parser.add_argument("out", help="new folder for the retested run")
    parser.add_argument("--name", help="the name the report lists it under (default: <experiment>_<checkpoint name>)")
    parser.add_argument("--data-root", help="test on every photo of this folder instead (photos unlike the training set)")
    parser.add_argument("--size", type=int, help="with --data-root: the side the photos are tested at (default: the run's)")
    parser.add_argument("--no-semantic", action="store_true",
                        help="skip the semantic test (an ImageNet classifier on the colorized, gray and original photos)")
    args = parser.parse_args(argv)
    silence_library_noise()
    torch.set_float32_matmul_precision("high")
    metrics = retest(args.run, args.checkpoint, args.out, args.name, args.data_root, args.size, not args.no_semantic)
    print_comparison(f"test metrics of {args.checkpoint}", *logged_comparison(metrics))
    print(f"Written to {args.out}; report it with: python -m colorgan.report {args.run} {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main))
