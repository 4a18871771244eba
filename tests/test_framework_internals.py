"""The private framework attributes colorgan relies on (colorgan/framework_internals.py) are still
there and still mean what colorgan takes them to mean. When this fails after an upgrade, the failing
line names the attribute: find its new home and change the one function that wraps it."""

from __future__ import annotations

import lightning as L
import torch
from hydra.core.utils import JobReturn, JobStatus
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.strategies import DDPStrategy
from torch.utils.data import DataLoader, TensorDataset

from colorgan import framework_internals as internals


class Recorder(L.LightningModule):
    """A one-layer model that records, at each training batch, what the wrapped internals say."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.logs, self.validations = [], []

    def training_step(self, batch, batch_idx):
        self.logs.append(internals.should_update_logs(self.trainer))
        return self.layer(batch[0]).mean()

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        self.validations.append(internals.validation_follows_batch(self.trainer))

    def validation_step(self, batch, batch_idx) -> None:
        pass

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_logging_steps_and_validations_are_where_the_trainer_puts_them(tmp_path):
    model = Recorder()
    loader = DataLoader(TensorDataset(torch.randn(6, 2)), batch_size=1)
    trainer = L.Trainer(
        max_epochs=1, log_every_n_steps=2, val_check_interval=3, num_sanity_val_steps=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
    )
    trainer.fit(model, loader, loader)
    assert model.logs == [False, True] * 3  # every 2nd step
    assert model.validations == [False, False, True] * 2  # after batches 3 and 6
    assert internals.cluster_environment(trainer) is not None  # LightningEnvironment here, SLURMEnvironment on SLURM


def test_ddp_kwargs_are_the_strategys_own():
    strategy = DDPStrategy(find_unused_parameters=False)
    assert internals.ddp_kwargs(strategy) == {"find_unused_parameters": False}
    internals.ddp_kwargs(strategy)["static_graph"] = True
    assert strategy._ddp_kwargs["static_graph"] is True  # a change reaches DDP when fit wraps the model


def test_wandb_offline_flag(tmp_path):
    assert internals.wandb_offline(WandbLogger(offline=True, save_dir=str(tmp_path))) is True
    assert internals.wandb_offline(WandbLogger(offline=False, save_dir=str(tmp_path))) is False


def test_the_csv_logger_parts_resume_continued_csv_logger_overrides(tmp_path):
    logger = CSVLogger(tmp_path)
    assert logger._experiment is None and hasattr(logger._fs, "makedirs")
    assert callable(ExperimentWriter._check_log_dir_exists)
    writer = ExperimentWriter(str(tmp_path / "run"))
    assert writer.metrics == [] and hasattr(writer, "metrics_keys") and writer.metrics_file_path


def test_a_failed_hydra_job_keeps_its_exception():
    error = RuntimeError("boom")
    job = JobReturn(status=JobStatus.FAILED, _return_value=error)
    assert internals.job_exception(job) is error


def test_torch_dispatch_mode_sees_operators():
    seen = []

    class Count(internals.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.append(func)
            return func(*args, **(kwargs or {}))

    with Count():
        torch.ones(2) + 1
    assert seen


def test_wandb_init_arguments_and_the_progress_bar_label(tmp_path):
    from colorgan.callbacks.console import ProgressBar
    from colorgan.runs.loggers import WandbLogger as ColorganWandbLogger

    assert "anonymous" in WandbLogger(offline=True, save_dir=str(tmp_path))._wandb_init  # what colorgan's drops
    assert "anonymous" not in ColorganWandbLogger(offline=True, save_dir=str(tmp_path))._wandb_init
    trainer = L.Trainer(max_epochs=15, logger=False, enable_checkpointing=False, default_root_dir=tmp_path)
    bar = ProgressBar()
    bar._trainer = trainer  # what Lightning sets when the bar is attached (Callback.setup)
    assert bar._get_train_description(2).strip() == "Epoch 3/15"


class StepCounts(L.LightningModule):
    """Records Lightning's stepped-batch count, and logs a progress-bar value it then takes back."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.counts = []

    def training_step(self, batch, batch_idx):
        self.counts.append(internals.batches_that_stepped(self.trainer))
        loss = self.layer(batch[0]).mean()
        self.log("loss", loss, prog_bar=True)
        if batch_idx == 3:
            self.before = float(self.trainer._results["training_step.loss"].value)
            internals.reset_step_results(self.trainer, self._current_fx_name)
            self.after = float(self.trainer._results["training_step.loss"].value)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_stepped_batches_and_the_result_store(tmp_path):
    model = StepCounts()
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, DataLoader(TensorDataset(torch.randn(4, 2)), batch_size=1))
    assert model.counts == [0, 1, 2, 3]
    assert model.before != 0 and model.after == 0  # the step's value was reset in the store


def test_ddp_ignore_list_and_flat_tensors():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    internals.ignore_in_ddp(model, ["1.weight", "1.bias"])
    assert set(model._ddp_params_and_buffers_to_ignore) == set(internals.ignored_in_ddp(model)) == {"1.weight", "1.bias"}
    tensors = [torch.ones(2, 2), torch.arange(3.0)]
    flat = internals.flatten_dense_tensors(tensors)
    assert flat.shape == (7,)
    assert all(torch.equal(a, b) for a, b in zip(internals.unflatten_dense_tensors(flat, tensors), tensors, strict=True))
