"""The private Lightning, Hydra and PyTorch attributes colorgan relies on, each behind one name here,
so an upgrade that moves one breaks tests/test_framework_internals.py by name instead of a training
run hours in. None has a public equivalent in the versions pyproject.toml allows (Lightning 2.4-2.6, Hydra 1.3).

Lightning:
- `Trainer._logger_connector.should_update_logs`: is this a `log_every_n_steps` step?
  ColorizerModule.log_train logs step values only then (each log of a tensor costs a device sync).
- `Trainer._accelerator_connector.cluster_environment`: the SLURM environment and its requeue
  signal, which checkpointing.TimedCheckpoint takes over to save before a requeue.
- `fit_loop.epoch_loop._should_check_val_fx(fit_loop._data_fetcher)`: does a validation follow
  this batch? A timed save waits for it (Lightning skips it when resuming from a save made before).
- `fit_loop.epoch_loop._batches_that_stepped`: the optimizer steps taken, from which
  host_reads.is_logging_step tells the logging steps the same way on every DDP rank.
- `Trainer._results.reset(metrics=False, fx=...)`: takes a hook's logged values out of Lightning's
  result store between logging steps (it would read every progress-bar value back at every batch).
- `DDPStrategy._ddp_kwargs`: DDP's arguments, set by devices.fit_ddp_to for the GAN
  (find_unused_parameters) on a strategy the config already built.
- `WandbLogger._offline`: whether the W&B run is written locally (train.py says where).
- `WandbLogger._wandb_init`: the arguments for `wandb.init`; loggers.WandbLogger drops the
  `anonymous=None` Lightning always puts there (W&B warns about it at every run).
- `RichProgressBar._get_train_description(epoch)`: the progress bar's label; console.ProgressBar
  counts epochs from 1 in it.
- `CSVLogger._experiment`, `CSVLogger._fs` and `ExperimentWriter._check_log_dir_exists`:
  overridden by loggers.ContinuedCSVLogger so a resumed run appends to its metrics.csv.
Hydra:
- `JobReturn._return_value`: a failed job's exception (`.return_value` re-raises it); sweep_summary.
PyTorch:
- `torch.utils._python_dispatch.TorchDispatchMode`: bench counts the operators of a step with it.
- `DistributedDataParallel._set_params_and_buffers_to_ignore_for_model`: keeps the GAN's
  discriminator out of DDP's reducer (runs.devices.fit_ddp_to; `ignored_in_ddp` reads the list back);
  models.gan_training averages its gradients itself.
- `torch._utils._flatten_dense_tensors` / `_unflatten_dense_tensors`: that average in one all_reduce.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch._utils import _flatten_dense_tensors as flatten_dense_tensors  # noqa: F401 - re-exported
from torch._utils import _unflatten_dense_tensors as unflatten_dense_tensors  # noqa: F401 - re-exported
from torch.nn.parallel import DistributedDataParallel
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: F401 - re-exported for colorgan.bench

if TYPE_CHECKING:  # importing this module stays cheap: Hydra's callback process needs no Lightning
    import lightning as L
    from hydra.core.utils import JobReturn


def should_update_logs(trainer: L.Trainer) -> bool:
    """Whether this step is a logging step (`log_every_n_steps`), as Lightning's own logging decides."""
    return trainer._logger_connector.should_update_logs


def cluster_environment(trainer: L.Trainer) -> Any:
    """The trainer's ClusterEnvironment (SLURMEnvironment on SLURM), or None."""
    return getattr(trainer._accelerator_connector, "cluster_environment", None)


def validation_follows_batch(trainer: L.Trainer) -> bool:
    """Whether Lightning validates after the current training batch (ask in on_train_batch_end)."""
    should_check = getattr(trainer.fit_loop.epoch_loop, "_should_check_val_fx", None)
    return bool(should_check and should_check(trainer.fit_loop._data_fetcher))


def batches_that_stepped(trainer: L.Trainer) -> int:
    """Training batches that took an optimizer step so far (Lightning's count behind global_step)."""
    return trainer.fit_loop.epoch_loop._batches_that_stepped


def reset_step_results(trainer: L.Trainer, hook: str) -> None:
    """Drop the values `hook` logged this step from Lightning's result store (not the metrics)."""
    trainer._results.reset(metrics=False, fx=hook)


def ignore_in_ddp(model: Any, names: list[str]) -> None:
    """Parameters and buffers (`prefix.name`) that DistributedDataParallel leaves alone when it wraps `model`."""
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, names)


def ignored_in_ddp(model: Any) -> list[str]:
    """The names `ignore_in_ddp` kept out of DDP's reducer ([] when none)."""
    return list(getattr(model, "_ddp_params_and_buffers_to_ignore", None) or [])


def ddp_kwargs(strategy: Any) -> dict[str, Any]:
    """The keyword arguments a DDPStrategy passes to DistributedDataParallel (mutable until fit wraps the model)."""
    return strategy._ddp_kwargs


def wandb_offline(logger: Any) -> bool:
    """Whether a WandbLogger writes its run locally (offline) instead of to the server."""
    return bool(logger._offline)


def job_exception(job_return: JobReturn) -> Any:
    """A Hydra job's return value or, for a failed job, its exception (not re-raised)."""
    return job_return._return_value
