"""W&B in a sweep, offline: one run per job, grouped by the sweep, tagged with the axis values, and the
config logged so that W&B can filter and group by any key. Read back from the offline run files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TINY
from train_cli import failure_text, job_dirs, only_sweep_dir, train_cli

BLOCK = 32768  # W&B's transaction log: LevelDB-style records in 32 KiB blocks after a 7-byte header


def wandb_records(path: Path):
    """The protobuf records of an offline run file (run-*.wandb)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    position, pending = 7, b""
    while position + 7 <= len(data):
        if BLOCK - position % BLOCK < 7:  # the rest of a block too short for a header is padding
            position += BLOCK - position % BLOCK
            continue
        length, kind = int.from_bytes(data[position + 4 : position + 6], "little"), data[position + 6]
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a whole record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def read_offline_run(run_dir: Path) -> dict:
    (offline,) = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    found = {"config": {}}
    for record in wandb_records(offline):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            found.update(id=record.run.run_id, group=record.run.run_group, tags=set(record.run.tags),
                         name=record.run.display_name)
        elif kind == "config":
            found["config"].update({item.key: json.loads(item.value_json) for item in record.config.update})
        elif kind == "exit":
            found["exit_code"] = record.exit.exit_code
    return found


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
        assert run["tags"] == {name, "rgb", f"act:{activation}", f"norm:{norm}"}
        assert run["config"]["model"]["generator"]["activation"] == activation
        assert run["config"]["data"]["color_space"] == "rgb" and run["config"]["sweep_name"] == "seed_study"
        assert run.get("exit_code") == 0  # finished by its own job
