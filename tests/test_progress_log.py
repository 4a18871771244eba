"""Without a terminal (as under SLURM or nohup), a run logs its progress and validation as plain lines."""

from __future__ import annotations

import logging
import re

import lightning as L
from helpers.configs import TINY, compose_train
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint

from colorgan.callbacks.progress_log import ProgressLog
from colorgan.train import train


def test_a_run_without_a_terminal_logs_progress_and_validation(tiny_cifar, tmp_path, caplog):
    cfg = compose_train(["+experiment=unet", *TINY, "callbacks.progress_log.every_n_seconds=0",
                         "trainer.log_every_n_steps=2"], tmp_path / "run", tiny_cifar)
    with caplog.at_level(logging.INFO, logger="colorgan.callbacks.progress_log"):
        train(cfg)  # pytest captures stdout: not a terminal
    lines = [r.getMessage() for r in caplog.records if r.name == "colorgan.callbacks.progress_log"]
    # Training values appear once Lightning has logged them (every trainer.log_every_n_steps).
    assert re.fullmatch(r"epoch 1/1, batch 1/2, [\d.]+ img/s, epoch ends in 0:00:\d\d", lines[0]), lines
    assert re.fullmatch(r"epoch 1/1, batch 2/2, [\d.]+ img/s, epoch ends in 0:00:00; train/loss=[\d.]+", lines[1]), lines
    assert re.fullmatch(r"epoch 1 validation: val/acc=.*val/mae=[\d.]+.*val_baseline/mae=[\d.]+.*", lines[2]), lines
    assert len(lines) == 3  # no line for the sanity check, nor for the test stage


def test_silent_when_a_terminal_shows_the_progress_bar(tiny_cifar, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    cfg = compose_train(["+experiment=unet", *TINY, "callbacks.progress_log.every_n_seconds=0"], tmp_path / "run", tiny_cifar)
    with caplog.at_level(logging.INFO, logger="colorgan.callbacks.progress_log"):
        train(cfg)
    assert not [r for r in caplog.records if r.name == "colorgan.callbacks.progress_log"]


def test_a_run_resumed_mid_epoch_logs_its_progress(tiny_cifar, tmp_path, caplog):
    """Lightning calls no on_train_epoch_start for the epoch a resumed run continues."""
    cfg = compose_train(["+experiment=unet", *TINY], tmp_path / "run", tiny_cifar)

    def fit(callbacks: list, ckpt_path=None) -> None:
        model, data = instantiate(cfg.model, _convert_="all"), instantiate(cfg.data, _convert_="all")
        L.Trainer(accelerator="cpu", max_steps=4, limit_train_batches=4, limit_val_batches=0, logger=False,
                  default_root_dir=tmp_path,
                  enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks,
                  ).fit(model, datamodule=data, ckpt_path=ckpt_path)

    fit([ModelCheckpoint(dirpath=tmp_path, filename="{step}", every_n_train_steps=2, save_top_k=-1)])
    with caplog.at_level(logging.INFO, logger="colorgan.callbacks.progress_log"):
        fit([ProgressLog(every_n_seconds=0)], ckpt_path=tmp_path / "step=2.ckpt")
    lines = [r.getMessage() for r in caplog.records if r.name == "colorgan.callbacks.progress_log"]
    assert lines[0].startswith("epoch 1, batch 3/4, ") and lines[1].startswith("epoch 1, batch 4/4, "), lines
