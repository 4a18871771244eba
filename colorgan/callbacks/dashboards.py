"""What the dashboards hold beyond curves. W&B: the validation image grid, a prediction table at
every validation (gray, prediction, truth and every per-image metric of colorgan.metrics), and the
best and last checkpoints as versions of one model artifact (aliases `best` and `latest`, metrics
and config as metadata). TensorBoard: the image grid, and the hyper-parameters with the final
metrics that its HParams view compares across the runs of a sweep. All of it works offline: an
offline W&B run keeps the table and the artifacts for `wandb sync`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from colorgan.image_io import to_pil
from colorgan.metrics import per_image_metrics

GRID_CAPTION = "rows: original | grayscale | prediction"
TABLE_KEY = "val/predictions"
MODEL_ARTIFACT_TYPE = "model"
# Config groups that say where and how a run is recorded, not what it trains: left out of TensorBoard's
# hyper-parameters so its HParams columns are the ones runs differ in (W&B keeps the whole config).
NOT_HPARAMS = ("hydra", "paths", "logger", "callbacks", "resume", "ckpt_path", "print_config")


def model_artifact_name(run_id: str) -> str:
    """One artifact per W&B run (Lightning's own naming): its versions are the run's checkpoints."""
    return f"model-{run_id}"


# -- at every validation: the image grid and the prediction table -----------------------------------
def prediction_table(rows: list[torch.Tensor], scale: int = 1) -> tuple[list[str], list[list[Any]]]:
    """Rows [truth, gray, prediction] of (N, 3, H, W) RGB in [0, 1] -> W&B table columns and data:
    the image's index, the three images, then each per-image metric (whatever metrics provides)."""
    import wandb

    truth, gray, prediction = (r.float().cpu() for r in rows)
    measured = per_image_metrics(prediction, truth)
    columns = ["image", "gray", "prediction", "truth", *measured]

    def picture(image: torch.Tensor) -> wandb.Image:
        if scale > 1:  # 32x32 CIFAR images are too small to see in a table cell
            image = F.interpolate(image[None], scale_factor=scale, mode="nearest")[0]
        return wandb.Image(to_pil(image))

    data = [
        [i, picture(gray[i]), picture(prediction[i]), picture(truth[i]), *(float(v[i]) for v in measured.values())]
        for i in range(len(truth))
    ]
    return columns, data


def log_validation_images(trainer: L.Trainer, rows: list[torch.Tensor], grid: np.ndarray, path: Path,
                          scale: int = 1) -> None:
    """Give each attached logger the validation images it can show (rank 0 only)."""
    step = trainer.global_step
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image("val/images", [str(path)], step=step, caption=[GRID_CAPTION])
            columns, data = prediction_table(rows, scale)
            logger.log_table(TABLE_KEY, columns=columns, data=data, step=step)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image("val/images", grid, step, dataformats="HWC")


# -- at the end of fitting: the checkpoints as W&B artifacts --------------------------------------
def _floats(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if not isinstance(v, torch.Tensor) or v.numel() == 1}


class CheckpointArtifacts(L.Callback):
    """At the end of fitting, log the best checkpoint (alias `best`) and the last one (alias
    `latest`) as versions of the W&B artifact `model-<run id>`, type "model". Each version's metadata
    holds the epoch and step, the monitored score, every final metric and the run's whole config, so
    the artifact alone says what the model is and how good. Nothing happens without a W&B logger."""

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
        if not loggers or not trainer.is_global_zero:
            return
        import wandb

        best_callback = trainer.checkpoint_callback
        best = getattr(best_callback, "best_model_path", "") or ""
        last = next((str(c.path) for c in trainer.callbacks if type(c).__name__ == "LastCheckpoint"), "")
        common = {
            "epoch": trainer.current_epoch,
            "global_step": trainer.global_step,
            "metrics": _floats(trainer.callback_metrics),
            "monitor": getattr(best_callback, "monitor", None),
        }
        score = getattr(best_callback, "best_model_score", None)
        if score is not None:
            common["best_score"] = float(score)
        for logger in loggers:
            run = logger.experiment
            config = dict(run.config)
            for path, alias in ((best, "best"), (last, "latest")):
                if not path or not Path(path).is_file():
                    continue
                artifact = wandb.Artifact(model_artifact_name(run.id), type=MODEL_ARTIFACT_TYPE,
                                          metadata={**common, "checkpoint": Path(path).name, "config": config})
                artifact.add_file(path, name=Path(path).name)
                run.log_artifact(artifact, aliases=[alias])


# -- after the test: hyper-parameters with the final metrics (TensorBoard's HParams view) ---------
def log_final_hparams(cfg: DictConfig, loggers: list, metrics: dict[str, float], step: int) -> None:
    """Write the run's config with its final metrics (test metrics when the run was tested) to every
    TensorBoard logger: the HParams view lists one row per run, so the runs of a sweep are compared."""
    boards = [logger for logger in loggers if isinstance(logger, TensorBoardLogger)]
    if not boards or not metrics:
        return
    config = OmegaConf.to_container(cfg, resolve=True)
    for key in NOT_HPARAMS:
        config.pop(key, None)
    for logger in boards:
        logger.log_hyperparams(config, metrics=dict(metrics), step=step)
        logger.save()  # hparams.yaml
        logger.experiment.flush()
