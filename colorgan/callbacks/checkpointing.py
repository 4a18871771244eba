"""Checkpoints a run can always be resumed from: the "last" checkpoint kept current by time, by
steps, at epoch ends and when SIGTERM or SIGINT asks the run to stop, and the best one named by
epochs counted from 1 (docs/resume.md explains the whole story; the files are written by
colorgan.callbacks.atomic_checkpoints, the random states kept by colorgan.callbacks.rng_states).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from colorgan.callbacks.host_reads import is_logging_step
from colorgan.framework_internals import cluster_environment, validation_follows_batch
from colorgan.runs.resume import is_sweep_dir, resume_command
from colorgan.runs.run_dir import LAST_CHECKPOINT

log = logging.getLogger(__name__)



def resume_advice(run_dir: Path) -> str:
    """How to continue after a stop: the sweep's folder when the run is a job of a sweep (docs/sweeps.md:
    it finishes this job and runs those not started, keeping the finished ones), else the run's."""
    if is_sweep_dir(run_dir.parent):
        return (f"Finish the sweep (this job, then those not run yet; finished jobs are kept) with:\n"
                f"    {resume_command(run_dir.parent)}\nor continue this job alone with:\n    {resume_command(run_dir)}")
    return f"Resume with:\n    {resume_command(run_dir)}"

class BestCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint with epochs counted from 1 in file names (`best-epoch003` holds
    the third epoch), as the progress bar, train.log and the stop messages count them."""

    def format_checkpoint_name(self, metrics: dict[str, Any], filename: str | None = None,
                               ver: int | None = None, prefix: str | None = None) -> str:
        if "epoch" in metrics:
            metrics = {**metrics, "epoch": metrics["epoch"] + 1}
        return super().format_checkpoint_name(metrics, filename=filename, ver=ver, prefix=prefix)


# -- the "last" checkpoint and stop signals ----------------------------------------------------
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingInterrupted(SIGTERMException):
    """Raised after a stop signal once the last checkpoint is saved. A SystemExit: the process ends
    with code 128 + signal number (143 for SIGTERM, 130 for SIGINT) and no traceback."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(128 + signum)
        self.signum, self.message = signum, message

    def __str__(self) -> str:
        return self.message


class LastCheckpoint(Checkpoint):
    """Keeps `<dirpath>/last.ckpt` current, so an interrupted run loses at most a few minutes.

    It is saved every `every_n_minutes` of training and/or every `every_n_train_steps` steps, at the
    end of every `every_n_epochs`-th epoch and of the last one, and when SIGTERM or SIGINT (Ctrl-C) asks the run to stop: then the current
    step (and a validation that follows it) finishes, the checkpoint is saved, and the run exits
    with code 128 + signal number and a message that says how to resume. A second Ctrl-C stops at
    once without saving. On SLURM, Lightning's requeue signal is also acted on between steps, so
    its hpc checkpoint is consistent too.

    Saves go through `trainer.save_checkpoint`: atomic with AtomicCheckpointIO, and holding every
    state Lightning and the other callbacks save (loops, optimizers, data position, random states).

    Under DDP the ranks agree on a stop signal and on rank 0's clock at logging steps only (one
    collective; colorgan.callbacks.host_reads), so a signal or timed save waits for the next one.

    Args:
        dirpath: folder of last.ckpt (the run's checkpoints/).
        every_n_minutes: save when this much training time passed since the last save (null: never).
            Checked after every step and at every epoch end.
        every_n_train_steps: save every this many optimizer steps (null: never).
        every_n_epochs: save at every this many epoch ends (null: by time or steps only), and always
            at the last; for fast GPU epochs (docs/resume.md, "What a save costs").
    """

    FILENAME = LAST_CHECKPOINT

    def __init__(self, dirpath: str, every_n_minutes: float | None = 10.0, every_n_train_steps: int | None = None,
                 every_n_epochs: int | None = 1) -> None:
        if every_n_minutes is not None and every_n_minutes <= 0:
            raise ValueError(f"every_n_minutes must be > 0 or null, got {every_n_minutes}.")
        if every_n_train_steps is not None and every_n_train_steps < 1:
            raise ValueError(f"every_n_train_steps must be >= 1 or null, got {every_n_train_steps}.")
        if every_n_epochs is not None and every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1 or null, got {every_n_epochs}.")
        self.path = Path(dirpath) / self.FILENAME
        self.every_n_seconds = None if every_n_minutes is None else 60.0 * every_n_minutes
        self.every_n_train_steps = every_n_train_steps
        self.every_n_epochs = every_n_epochs
        self.stop_signal: int | None = None  # set by a handler; acted on between steps
        self._requeue_signal: int | None = None  # SLURM's, when Lightning handles it
        self._requeue_requested = False
        self._stop_after_save = False
        self._save_pending = False  # a periodic save that had to wait for a validation
        self._last_save = time.monotonic()
        self._previous_handlers: dict[int, Any] = {}

    # -- signals: handlers only take note; the training loop acts at the end of a step ----------
    def _on_stop_signal(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.stop_signal is not None:
            if signum == signal.SIGINT:
                signal.signal(signal.SIGINT, signal.default_int_handler)
                raise KeyboardInterrupt(f"second {name}: stopping without saving")
            return
        self.stop_signal = signum
        again = " Press Ctrl-C again to stop at once without saving." if signum == signal.SIGINT else ""
        log.warning("Received %s: finishing the current step, then saving %s and stopping.%s", name, self.path, again)

    def _on_requeue_signal(self, signum: int, frame: Any) -> None:
        self._requeue_requested = True

    def _install_handlers(self, trainer: L.Trainer) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in STOP_SIGNALS:
            self._previous_handlers[signum] = signal.signal(signum, self._on_stop_signal)
        environment = cluster_environment(trainer)
        if isinstance(environment, SLURMEnvironment) and environment.auto_requeue and environment.requeue_signal:
            requeue = environment.requeue_signal
            if callable(signal.getsignal(requeue)):  # Lightning's handler: hpc checkpoint + `scontrol requeue`
                self._previous_handlers[requeue] = signal.signal(requeue, self._on_requeue_signal)
                self._requeue_signal = requeue

    def _restore_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers = {}

    def _run_deferred_requeue(self, trainer: L.Trainer, agree: bool = True) -> None:
        """Lightning's requeue handler (it saves a checkpoint and requeues the job), here at a step
        end, on every rank at the same step (`agree`: this step may hold a collective)."""
        requested = self._requeue_requested
        if trainer.world_size > 1 and self._requeue_signal is not None:
            if not agree:
                return
            requested = trainer.strategy.reduce_boolean_decision(requested, all=False)
        if requested and self._requeue_signal is not None:
            self._requeue_requested = False
            self._previous_handlers[self._requeue_signal](self._requeue_signal, None)

    # -- decisions ------------------------------------------------------------------------------
    def _agree(self, trainer: L.Trainer, stop: bool, due: bool) -> tuple[bool, bool]:
        """Every rank must save (and stop) at the same step: any rank's signal, rank 0's clock."""
        if trainer.world_size > 1:
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
            due = trainer.strategy.broadcast(due)
        return stop, due

    def _due_by_steps(self, trainer: L.Trainer) -> bool:
        return bool(self.every_n_train_steps and trainer.global_step > 0 and trainer.global_step % self.every_n_train_steps == 0)

    def _due_by_time(self) -> bool:
        return self.every_n_seconds is not None and time.monotonic() - self._last_save >= self.every_n_seconds

    def _due_at_epoch_end(self, trainer: L.Trainer) -> bool:
        epoch, every = trainer.current_epoch + 1, self.every_n_epochs
        last = trainer.max_epochs not in (None, -1) and epoch >= trainer.max_epochs or trainer.should_stop
        return last or trainer.max_steps not in (None, -1) and trainer.global_step >= trainer.max_steps or bool(
            every and epoch % every == 0)

    @staticmethod
    def _validation_follows(trainer: L.Trainer) -> bool:
        """True at the last batch of an epoch, or before a mid-epoch validation: the save waits until
        that is done (Lightning would skip the validation when resuming from a save made here)."""
        loop = trainer.fit_loop.epoch_loop
        if loop.batch_progress.is_last_batch:
            return True
        return validation_follows_batch(trainer)

    def save(self, trainer: L.Trainer) -> None:
        trainer.save_checkpoint(self.path, weights_only=False)  # everything a resume needs; said, not defaulted
        self._last_save = time.monotonic()
        self._save_pending = False

    def _stop(self, trainer: L.Trainer) -> None:
        signum = self.stop_signal if self.stop_signal is not None else signal.SIGTERM
        run_dir = Path(trainer.default_root_dir).resolve()
        message = (
            f"Training stopped by {signal.Signals(signum).name} during epoch {trainer.current_epoch + 1}, step "
            f"{trainer.global_step}. Checkpoint saved: {self.path}. {resume_advice(run_dir)}"
        )
        if trainer.is_global_zero:
            log.warning(message)
        self._restore_handlers()
        raise TrainingInterrupted(signum, message)

    # -- hooks ------------------------------------------------------------------------------------
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning installs its own SIGTERM handler just before this hook; ours replaces it for the
        # fit loop, so a stop never cuts a step or a validation in half (Lightning's would stop in
        # the middle of a validation, whose partial metrics a resumed run cannot rebuild).
        self.stop_signal, self._stop_after_save, self._save_pending = None, False, False
        self._requeue_signal, self._requeue_requested = None, False
        self._last_save = time.monotonic()
        self._install_handlers(trainer)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        due = self._save_pending or self._due_by_steps(trainer)  # the same on every rank
        agree = trainer.world_size == 1 or is_logging_step(trainer)  # a collective: at logging steps only
        stop = False
        if agree:
            stop, due_by_time = self._agree(trainer, self.stop_signal is not None, self._due_by_time())
            due = due or due_by_time
        if stop and self.stop_signal is None:
            self.stop_signal = signal.SIGTERM  # another rank received it
        if self._validation_follows(trainer):  # everything waits until the validation is done
            self._save_pending = due
            return
        if stop or due:
            self.save(trainer)
            # Raise at the next batch start, so this step's metrics are still logged; the state
            # changes in between (fetching the next batch) are after the checkpoint.
            self._stop_after_save = stop
        self._run_deferred_requeue(trainer, agree)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # After the epoch's validation and after ModelCheckpoint (Checkpoint callbacks run last, in
        # config order), so the best-model record in this checkpoint is up to date.
        stop, due_by_time = self._agree(trainer, self.stop_signal is not None, self._due_by_time())
        if stop or due_by_time or self._save_pending or self._due_at_epoch_end(trainer):
            self.save(trainer)
        self._stop_after_save = self._stop_after_save or stop
        self._run_deferred_requeue(trainer)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx) -> None:
        if self._stop_after_save:
            self._stop(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._stop_after_save:
            self._stop(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore_handlers()
        if self._stop_after_save:  # training is complete, but the user asked to stop: skip testing
            self._stop(trainer)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore_handlers()
