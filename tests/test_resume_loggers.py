"""A resumed run keeps logging into the same metrics.csv and the same W&B run."""

from __future__ import annotations

import csv

import pytest
from test_resume import compose, csv_rows, final, signal_at

from colorgan.callbacks.checkpointing import TrainingInterrupted
from colorgan.runs.loggers import ContinuedCSVLogger, finish_wandb, offline_folders
from colorgan.runs.run_dir import WANDB_ID as WANDB_ID_FILE
from colorgan.train import train


def write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", "step", "train/loss", "val/mae"])
        writer.writeheader()
        writer.writerows(rows)


def test_continued_csv_keeps_rows_before_the_resumed_step_and_drops_replayed_ones(tmp_path):
    metrics = tmp_path / "csv" / "metrics.csv"
    old = [{"epoch": 0, "step": s, "train/loss": 1.0 - s / 10, "val/mae": ""} for s in range(8)]
    old.insert(4, {"epoch": 0, "step": 3, "train/loss": "", "val/mae": 50.0})  # epoch-end validation row
    write_csv(metrics, old)

    logger = ContinuedCSVLogger(tmp_path, name="csv", version="")
    logger.log_metrics({"train/loss": 0.5, "epoch": 1}, step=6)  # the resumed run replays from step 6
    logger.log_metrics({"train/new_metric": 2.0, "epoch": 1}, step=7)  # a new column rewrites the header
    logger.save()

    with open(metrics) as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["0", "1", "2", "3", "3", "4", "5", "6", "7"]
    assert rows[4]["val/mae"] == "50.0" and rows[7]["train/loss"] == "0.5" and rows[8]["train/new_metric"] == "2.0"


def test_fresh_csv_logger_in_a_used_folder_starts_a_new_file(tmp_path):
    metrics = tmp_path / "csv" / "metrics.csv"
    write_csv(metrics, [{"epoch": 0, "step": s, "train/loss": 1.0, "val/mae": ""} for s in range(3)])
    logger = ContinuedCSVLogger(tmp_path, name="csv", version="")
    logger.log_metrics({"train/loss": 0.25}, step=0)
    logger.save()
    with open(metrics) as f:
        assert [r["train/loss"] for r in csv.DictReader(f)] == ["0.25"]


@pytest.mark.slow
def test_resumed_run_continues_its_wandb_run(tiny_cifar, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = tmp_path / "run"
    with pytest.raises(TrainingInterrupted):
        train(compose("unet_lrelu", run, tiny_cifar, "logger=wandb", *signal_at(3, "SIGTERM")))
    finish_wandb()  # as `main` does when a job ends; the next job is a new W&B process
    run_id = (run / WANDB_ID_FILE).read_text().strip()
    try:
        metrics = final(train(compose("unet_lrelu", run, tiny_cifar, "logger=wandb", f"resume={run}")))
    finally:
        finish_wandb()
    assert metrics["test/mae"] > 0
    # One folder per job, both of this run (the second is named `...-<id>-1` when both start in one second).
    offline_runs = offline_folders(run, run_id)
    assert len(offline_runs) == 2 and offline_runs == sorted((run / "wandb").glob("offline-run-*")), offline_runs
    assert [r["step"] for r in csv_rows(run) if r.get("train/loss")] == [str(s) for s in range(8)]
