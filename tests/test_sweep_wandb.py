"""W&B in a sweep, offline: one run per job, grouped by the sweep, tagged with the axis values, and the
config logged so that W&B can filter and group by any key. Read back from the offline run files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers.cli import failure_text, job_dirs, only_sweep_dir, train_cli
from helpers.configs import TINY
from helpers.wandb_records import read_records, run_contents


def read_offline_run(run_dir: Path) -> dict:
    (offline,) = (run_dir / "wandb").glob("offline-run-*")
    # wandb-core may still be flushing the run file for a moment after the job's process ended.
    deadline = time.monotonic() + 30
    while not (exits := [r.exit.exit_code for r in read_records(next(offline.glob("run-*.wandb")))
                         if r.WhichOneof("record_type") == "exit"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    contents = run_contents(offline)
    run = contents["run"]
    return {"id": run.run_id, "group": run.run_group, "tags": set(run.tags), "name": run.display_name,
            "config": contents["config"], "exit_code": exits[-1] if exits else None}


@pytest.mark.slow
def test_every_job_has_its_own_finished_wandb_run_with_group_tags_and_config(tiny_cifar, tmp_path):
    tiny = [o for o in TINY if o != "logger=csv"]  # the default loggers: CSV and W&B
    result = train_cli("+sweep=seed_study", "+experiment=unet,unet_lrelu", "data.color_space=rgb",
                       data_dir=tiny_cifar, log_dir=tmp_path, tiny=tiny, env={"WANDB_MODE": "offline"})
    assert result.returncode == 0, failure_text(result)
    runs = [read_offline_run(d) for d in job_dirs(only_sweep_dir(tmp_path, "seed_study"))]
    assert runs[0]["id"] != runs[1]["id"]
    for run, (name, activation, norm) in zip(runs, [("unet_rgb", "relu", "none"), ("unet_lrelu_rgb", "lrelu", "batch")], strict=True):
        assert run["group"] == "seed_study" and run["name"] == name
        assert run["tags"] == {name, "rgb", "generator:unet", f"act:{activation}", f"norm:{norm}"}
        assert run["config"]["model"]["generator"]["activation"] == activation
        assert run["config"]["data"]["color_space"] == "rgb" and run["config"]["sweep_name"] == "seed_study"
        assert run.get("exit_code") == 0  # finished by its own job
