"""When a training step may read device values back to the host: at Lightning's logging steps only.

On a GPU every read of a device value on the host (`.item()`, `.tolist()`, `.cpu()`, `bool(t)`,
`torch.bincount`, a tensor made on the device from a Python list) waits for every kernel queued
so far, and the CPU loses its head start on the GPU. A step of these models is a few hundred small
kernels, so one read per step costs a noticeable share. Everything that wants a value during
training reads it at the logging steps: Lightning's loggers, the progress bar and progress log
(colorgan.callbacks.progress_log), the GAN's finite-loss check, LastCheckpoint's agreement across DDP ranks.
tests/test_host_reads.py counts the reads of N training steps of each model.
"""

from __future__ import annotations

import lightning as L

from colorgan.framework_internals import batches_that_stepped


def is_logging_step(trainer: L.Trainer) -> bool:
    """True on the training steps whose logged values Lightning writes: every `trainer.log_every_n_steps`
    (Lightning's `should_update_logs` without its `should_stop` term, which can differ between DDP
    ranks) and every step of fast_dev_run. The same answer in on_train_batch_start, training_step and
    on_train_batch_end of one step, and on every rank."""
    if trainer.fast_dev_run:
        return True
    every = trainer.log_every_n_steps
    return every > 0 and (batches_that_stepped(trainer) + 1) % every == 0
