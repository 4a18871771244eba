"""Progress as plain log lines when no one watches a terminal (SLURM logs, nohup, CI): the rich
progress bar draws nothing there, so a long run would otherwise say nothing between epochs."""

from __future__ import annotations

import datetime
import logging
import sys
import time

import lightning as L

from colorgan.callbacks.host_reads import is_logging_step

log = logging.getLogger(__name__)


def _duration(seconds: float) -> str:
    return str(datetime.timedelta(seconds=round(seconds)))


class ProgressLog(L.Callback):
    """Every `every_n_seconds` of training, log the epoch, batch, images per second, the time the
    epoch still needs and the progress-bar values; after each validation, its metrics.

    Args:
        every_n_seconds: the interval between training lines (0: every batch).
        only_without_tty: stay silent when stdout is a terminal, where the progress bar shows it all.
    """

    def __init__(self, every_n_seconds: float = 60.0, only_without_tty: bool = True) -> None:
        self.every_n_seconds = every_n_seconds
        self.only_without_tty = only_without_tty
        self.active = False
        self.logging_step = False
        self.values: dict[str, float] = {}  # the progress-bar values of the last logging step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        self.logging_step = is_logging_step(trainer)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.active = trainer.is_global_zero and not (self.only_without_tty and sys.stdout.isatty())
        self.on_train_epoch_start(trainer, pl_module)  # a run resumed mid-epoch gets no epoch start

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch_started = self.last_line = time.monotonic()
        self.batches = self.images = 0  # in this process: a resumed epoch starts counting anew

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        if not self.active:
            return
        self.batches += 1
        self.images += len(batch[0])
        if self.logging_step:  # Lightning reads them back at these steps anyway (colorgan.callbacks.host_reads)
            self.values = dict(trainer.progress_bar_metrics)
        now = time.monotonic()
        if now - self.last_line < self.every_n_seconds:
            return
        self.last_line = now
        elapsed = now - self.epoch_started
        total = trainer.num_training_batches
        left = (total - batch_idx - 1) * elapsed / self.batches
        values = ", ".join(f"{k}={float(v):.4g}" for k, v in self.values.items())
        epochs = "" if trainer.max_epochs in (None, -1) else f"/{trainer.max_epochs}"
        log.info("epoch %d%s, batch %d/%d, %.1f img/s, epoch ends in %s%s", trainer.current_epoch + 1, epochs,
                 batch_idx + 1, total, self.images / elapsed, _duration(left), f"; {values}" if values else "")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.active or trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("val/", "val_baseline/"))}
        if metrics:
            log.info("epoch %d validation: %s", trainer.current_epoch + 1,
                     ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
