"""No host read inside a training step but at logging steps (colorgan.callbacks.host_reads): N steps of each
model with the real Trainer and the configured callbacks (progress bar, progress log printing every
step, last checkpoint, image grid), counting every Python-level read of a tensor's value."""

from __future__ import annotations

import sys
from collections import Counter

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

pytestmark = pytest.mark.usefixtures("one_thread")

# Reads of a value on the host: on a GPU each waits for every kernel queued before it.
READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")
# Data-dependent results, sized on the host from values on the device.
SIZED_ON_HOST = ("bincount", "nonzero", "unique", "masked_select")
# Tensors made from host data on a given device: a copy from the host, blocking on a GPU.
FROM_HOST = ("tensor", "as_tensor")


def counted(read, name: str, counts: Counter, step: list[int]):
    def wrapper(*args, **kwargs):
        # torch.optim keeps its step counters on the host on every device (not capturable, not
        # fused): reading them is no synchronisation, so torch.optim's own reads are not counted.
        if step[0] is not None and not sys._getframe(1).f_globals.get("__name__", "").startswith("torch.optim"):
            if name not in FROM_HOST or kwargs.get("device") is not None:
                counts[(step[0], name)] += 1
        return read(*args, **kwargs)

    return wrapper


class StepWindow(L.Callback):
    """Which training step is running: from its batch start to the next one's (so the logger writes
    after on_train_batch_end belong to their step)."""

    def __init__(self, step: list[int]) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.step[0] = batch_idx

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.step[0] = None


# Validation is off here (only training steps are counted), so val/mae, which the best checkpoint monitors, is never logged.
@pytest.mark.filterwarnings("ignore:`ModelCheckpoint\\(monitor='val/mae'\\)` could not find the monitored key")
@pytest.mark.parametrize("experiment", ["unet_lrelu", "gan_lrelu"])
def test_training_steps_read_values_only_at_logging_steps(tiny_cfg, experiment, monkeypatch):
    steps, every = 8, 3  # logging steps: 2 and 5 (Lightning logs when (step + 1) % every == 0)
    cfg = tiny_cfg(f"trainer.limit_train_batches={steps + 1}", f"trainer.log_every_n_steps={every}",
                   "data.batch_size=4", "trainer.limit_val_batches=0", "callbacks.progress_log.every_n_seconds=0",
                   "+callbacks.progress_bar._target_=colorgan.callbacks.console.ProgressBar",
                   *(["model.discriminator.channels=8"] if experiment == "gan_lrelu" else []), experiment=experiment)
    L.seed_everything(0)
    model, data = instantiate(cfg.model, _convert_="all"), instantiate(cfg.data, _convert_="all")
    step: list[int | None] = [None]
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None] + [StepWindow(step)]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=instantiate(cfg.logger.csv))
    counts: Counter = Counter()
    for name in READS:
        monkeypatch.setattr(torch.Tensor, name, counted(getattr(torch.Tensor, name), name, counts, step))
    for name in SIZED_ON_HOST + FROM_HOST:
        monkeypatch.setattr(torch, name, counted(getattr(torch, name), name, counts, step))
    monkeypatch.setattr(torch.Tensor, "new_tensor", counted(torch.Tensor.new_tensor, "tensor", counts, step))
    trainer.fit(model, datamodule=data)
    monkeypatch.undo()

    assert trainer.global_step == steps + 1
    by_step = Counter()
    for (at, _), n in counts.items():
        if at < steps:  # the last step's window holds the epoch end (saves, epoch means)
            by_step[at] += n
    logging_steps = {s for s in range(steps) if (s + 1) % every == 0}
    assert {s for s in by_step if s not in logging_steps} == set(), sorted(counts.items())
    assert all(by_step[s] > 0 for s in logging_steps)  # the counting sees the reads that are there



@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("experiment", ["unet_lrelu", "gan_lrelu"])
def test_on_cuda_only_logging_steps_synchronise(tiny_cfg, experiment):
    """CUDA's own count: torch.cuda.set_sync_debug_mode("warn") warns at every synchronising call
    (reads, copies from pageable host memory, data-dependent sizes), in Python and C++ alike."""
    import warnings

    steps, every = 8, 3
    cfg = tiny_cfg("trainer.accelerator=gpu", f"trainer.limit_train_batches={steps + 1}",
                   f"trainer.log_every_n_steps={every}", "trainer.limit_val_batches=0", "data.on_device=true",
                   *(["model.discriminator.channels=8"] if experiment == "gan_lrelu" else []), experiment=experiment)
    model, data = instantiate(cfg.model, _convert_="all"), instantiate(cfg.data, _convert_="all")
    step: list[int | None] = [None]
    syncs: Counter = Counter()
    trainer = instantiate(cfg.trainer, callbacks=[StepWindow(step)], logger=instantiate(cfg.logger.csv))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *args, **kwargs: syncs.update(
            [step[0]] if step[0] is not None and "synchroniz" in str(message).lower() else [])
        torch.cuda.set_sync_debug_mode("warn")
        try:
            trainer.fit(model, datamodule=data)
        finally:
            torch.cuda.set_sync_debug_mode(0)
    logging_steps = {s for s in range(steps) if (s + 1) % every == 0}
    print(experiment, "synchronising calls by step:", dict(syncs))
    # Step 0 allocates (optimizer states, cached constants); the last window holds the epoch end.
    assert {s for s in syncs if 0 < s < steps and s not in logging_steps} == set(), dict(syncs)
