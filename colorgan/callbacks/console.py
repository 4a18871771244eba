"""What a run shows on the terminal: Lightning's rich progress bar and model summary, with epochs
counted from 1 (as train.log, the checkpoint names and the stop messages count them), values read
at logging steps only, three validation metrics beside the bar, and without a FLOPs count that
would always read 0."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichModelSummary, RichProgressBar
from lightning.pytorch.utilities.model_summary import get_formatted_model_size, get_human_readable_count

from colorgan.callbacks.host_reads import is_logging_step

# Validation logs a dozen metrics; beside the bar they wrapped into a narrow column. The bar shows
# the headline ones; every one is in csv/metrics.csv and W&B (and in train.log without a terminal).
SHOWN_ON_BAR = ("val/mae", "val/psnr", "val/colorfulness")


class ProgressBar(RichProgressBar):
    """Lightning's RichProgressBar with epochs counted from 1 ("Epoch 3/15" during the third of
    fifteen; Lightning's says "Epoch 2/14"), whose training values are read at logging steps only:
    Lightning's reads every progress-bar value back with `.item()` at every batch
    (colorgan.callbacks.host_reads); this one shows the values of the last logging step in between, which
    are the last logged values anyway."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._values: dict | None = None
        self._read = True

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        self._read = self._values is None or is_logging_step(trainer)
        super().on_train_batch_start(trainer, pl_module, batch, batch_idx)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        self._read = True  # validation and epoch ends show fresh values, as Lightning's bar does

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        if self._read or self._values is None:
            values = super().get_metrics(trainer, pl_module)
            self._values = {k: v for k, v in values.items() if not k.startswith("val/") or k in SHOWN_ON_BAR}
        return self._values

    def _get_train_description(self, current_epoch: int) -> str:  # Lightning's hook for the label
        description = f"Epoch {current_epoch + 1}"
        if self.trainer.max_epochs not in (None, -1):
            description += f"/{self.trainer.max_epochs}"
        return f"{description:{len(self.validation_description)}}"  # as wide as "Validation": no flicker


class ModelSummary(RichModelSummary):
    """Lightning's rich summary without its FLOPs: Lightning counts them only on an
    `example_input_array`, which colorgan's models leave unset (a forward pass at fit start would
    also make torch.compile trace one more shape)."""

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int,
        **summarize_kwargs: Any,
    ) -> None:
        from rich import get_console
        from rich.table import Table

        table = Table(header_style=summarize_kwargs.get("header_style", "bold magenta"))
        columns = [(name, values) for name, values in summary_data if name != "FLOPs"]
        for name, _ in columns:
            table.add_column(name, justify="right" if "Params" in name else "left", style="dim" if name == " " else None)
        for row in zip(*(values for _, values in columns), strict=True):
            table.add_row(*row)
        console = get_console()
        console.print(table)
        modes = ", ".join(f"{count} in {mode} mode" for mode, count in total_training_modes.items())
        console.print(
            f"[bold]Params[/]: {get_human_readable_count(int(trainable_parameters)).strip()} trainable, "
            f"{get_human_readable_count(int(total_parameters - trainable_parameters)).strip()} frozen, "
            f"{get_formatted_model_size(model_size)} MB. [bold]Modules[/]: {modes}."
        )
