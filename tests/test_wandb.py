"""A real W&B run, offline because there are no credentials: never a prompt, metrics on disk."""

from __future__ import annotations

import logging
import time

import pytest
from helpers.configs import TINY, compose_train
from helpers.wandb_records import run_contents

from colorgan.runs.loggers import choose_mode, finish_wandb
from colorgan.train import train


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for var in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))  # artifact staging copies (tables, checkpoints)


def test_mode_is_offline_without_credentials(no_credentials, monkeypatch, tmp_path):
    assert choose_mode(None) == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert choose_mode(None) == "online"
    assert choose_mode("offline") == "offline"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert choose_mode("online") == "offline"  # the environment wins


def test_offline_run_holds_config_and_metrics(no_credentials, tiny_cifar, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    overrides = [o for o in TINY if not o.startswith("logger=")] + ["logger=wandb"]
    cfg = compose_train(["+experiment=unet_lrelu", *overrides], tmp_path / "run", tiny_cifar)
    try:
        metrics = train(cfg)
    finally:
        finish_wandb()
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, "one offline run per job"
    assert "wandb sync" in caplog.text and str(runs[0]) in caplog.text
    # wandb-core may still be flushing the run file for a moment after finish() on a busy machine.
    deadline = time.monotonic() + 30
    while "test/mae" not in (run := run_contents(runs[0]))["summary"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert run["summary"]["test/mae"] == pytest.approx(metrics["test/mae"])
    assert "val/mae" in run["summary"] and "test_baseline/mae" in run["summary"]
    assert run["config"]["data"]["color_space"] == "lab" and run["config"]["name"] == "unet_lrelu"
    assert run["run"].display_name == "unet_lrelu" and set(run["run"].tags) == {"unet_lrelu", "lab", "generator:unet", "act:lrelu", "norm:batch"}
    images = [row for row in run["history"] if "val/images/_type" in row]  # the image grid was logged
    assert len(images) == 1 and images[0]["val/images/count"] == 1
    assert (tmp_path / "run" / "csv" / "metrics.csv").is_file()  # CSV rides along


def test_offline_folders_of_a_resumed_run_are_all_found(tmp_path):
    from colorgan.runs.loggers import offline_folders

    names = ["offline-run-20261201_101010-abcd1234", "offline-run-20261201_101010-abcd1234-1",
             "offline-run-20261201_111111-abcd1234", "offline-run-20261201_101010-ffff0000", "run-20261201_101010-abcd1234"]
    for name in names:
        (tmp_path / "wandb" / name).mkdir(parents=True)
    assert [p.name for p in offline_folders(tmp_path, "abcd1234")] == names[:3]


def test_checkpoint_artifacts_are_staged_inside_the_run(no_credentials, tiny_cifar, tmp_path, monkeypatch):
    """W&B copies every checkpoint it logs to a staging folder (by default ~/.local/share/wandb, where
    an offline run's copies stayed for good): without a WANDB_DATA_DIR of the user's, the run's own."""
    from colorgan.runs import loggers

    monkeypatch.delenv("WANDB_DATA_DIR")
    monkeypatch.setattr(loggers, "USER_DATA_DIR", None)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # W&B's default, if it were used
    overrides = [o for o in TINY if not o.startswith("logger=")] + ["logger=wandb"]
    try:
        train(compose_train(["+experiment=unet_lrelu", *overrides], tmp_path / "run", tiny_cifar))
    finally:
        finish_wandb()
    staged = [p.name for p in (tmp_path / "run" / "wandb" / "data").rglob("*") if p.is_file()]
    assert len(staged) >= 2, staged  # the best and the last checkpoint
    assert not (tmp_path / "xdg" / "wandb").exists()
