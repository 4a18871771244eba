"""Callbacks that DDP tests add to `python -m colorgan.train` runs (`+callbacks.x._target_=helpers.ddp_probes...`,
with tests/ on PYTHONPATH): each rank's weights at the end, a non-finite loss on one rank only."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch


class WeightsPerRank(L.Callback):
    """At the end of fitting, each rank saves its parameters to <run dir>/weights_rank<r>.pt."""

    def on_train_end(self, trainer, pl_module) -> None:
        weights = {k: v.detach().cpu() for k, v in pl_module.named_parameters()}
        torch.save(weights, Path(trainer.default_root_dir) / f"weights_rank{trainer.global_rank}.pt")


class NonFiniteOnOneRank(L.Callback):
    """Makes the targets of batch `at` NaN on rank `rank` only: that rank's losses become NaN."""

    def __init__(self, rank: int = 1, at: int = 1) -> None:
        self.rank, self.at = rank, at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_rank == self.rank and batch_idx == self.at:
            batch.targets.fill_(float("nan"))
