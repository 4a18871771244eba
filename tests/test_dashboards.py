"""What the dashboards hold, read back from a real run's files: an offline W&B run of a 2-step
training (checkpoint artifacts with aliases and metadata, a prediction table at each validation)
and TensorBoard's event files of the same run (scalars, the image grid, hparams with test metrics)."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers.cli import free_port
from helpers.configs import REPO, TINY, compose_train
from helpers.wandb_records import read_records, run_contents

from colorgan.metrics import per_image_metrics
from colorgan.runs.loggers import finish_wandb
from colorgan.train import train

TWO_STEPS = ["trainer.max_epochs=2", "trainer.limit_train_batches=1"]  # 2 steps, 2 validations


@pytest.fixture(scope="module")
def run(tiny_cifar, tmp_path_factory):
    """One run with logger=[wandb,tensorboard]: (run dir, metrics, offline W&B folder)."""
    tmp = tmp_path_factory.mktemp("dashboards")
    with pytest.MonkeyPatch.context() as env:
        for var in ("WANDB_API_KEY", "WANDB_MODE"):
            env.delenv(var, raising=False)
        env.setenv("NETRC", str(tmp / "no-netrc"))
        for var in ("WANDB_DIR", "WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):
            env.setenv(var, str(tmp / var.lower()))  # artifact staging copies stay in the test's folder
        overrides = [o for o in TINY if not o.startswith(("logger=", "trainer.max_epochs", "trainer.limit_train"))]
        cfg = compose_train(["+experiment=unet_lrelu", *overrides, *TWO_STEPS, "logger=[wandb,tensorboard]"],
                            tmp / "run", tiny_cifar)
        try:
            metrics = train(cfg)
        finally:
            finish_wandb()
    (folder,) = (tmp / "run" / "wandb").glob("offline-run-*")
    deadline = time.monotonic() + 30  # wandb-core may still be flushing the run file after finish()
    while "test/mae" not in run_contents(folder)["summary"] and time.monotonic() < deadline:
        time.sleep(0.5)
    return tmp / "run", metrics, folder


def artifacts(folder: Path) -> list:
    (path,) = folder.glob("run-*.wandb")
    return [r.artifact for r in read_records(path) if r.WhichOneof("record_type") == "artifact"]


def md5_b64(path: Path) -> str:
    return base64.b64encode(hashlib.md5(path.read_bytes()).digest()).decode()


def test_best_and_last_checkpoints_are_model_artifacts_with_metrics_and_config(run):
    run_dir, metrics, folder = run
    models = [a for a in artifacts(folder) if a.type == "model"]
    assert len(models) == 2 and {a.name for a in models} == {f"model-{folder.name.split('-')[-1]}"}
    best, last = models  # logged in this order; W&B moves `latest` to the newest version
    assert "best" in best.aliases and list(last.aliases) == ["latest"]
    (best_file,) = (run_dir / "checkpoints").glob("best-*.ckpt")
    for artifact, path in ((best, best_file), (last, run_dir / "checkpoints" / "last.ckpt")):
        (entry,) = artifact.manifest.contents
        assert entry.path == path.name and entry.digest == md5_b64(path)  # the very file on disk
        meta = json.loads(artifact.metadata)
        assert meta["checkpoint"] == path.name and meta["monitor"] == "val/mae" and meta["global_step"] == 2
        assert meta["metrics"]["val/mae"] == pytest.approx(metrics["val/mae"])
        assert meta["config"]["name"] == "unet_lrelu" and meta["config"]["model"]["generator"]["activation"] == "lrelu"
    with open(run_dir / "csv" / "metrics.csv") as f:
        val_mae = [float(row["val/mae"]) for row in csv.DictReader(f) if row.get("val/mae")]
    assert len(val_mae) == 2 and json.loads(best.metadata)["best_score"] == pytest.approx(min(val_mae))


def test_a_prediction_table_at_each_validation_with_every_per_image_metric(run):
    _, _, folder = run
    history = run_contents(folder)["history"]
    tables = [row for row in history if row.get("val/predictions/_type") == "table-file"]
    assert [row["trainer/global_step"] for row in tables] == [1, 2]
    measured = list(per_image_metrics(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)))  # mae, psnr, colorfulness, ...
    for row in tables:
        table = json.loads((folder / "files" / row["val/predictions/path"]).read_text())
        assert table["columns"] == ["image", "gray", "prediction", "truth", *measured]
        assert len(table["data"]) == 8 and [r[0] for r in table["data"]] == list(range(8))
        for values in table["data"]:
            mae, psnr = values[4], values[5]
            assert 0 < mae < 255 and psnr > 0
    # The table's images travel in a run_table artifact (what `wandb sync` uploads with it).
    run_tables = [a for a in artifacts(folder) if a.type == "run_table"]
    assert len(run_tables) == 2
    for artifact in run_tables:
        images = [e for e in artifact.manifest.contents if e.path.startswith("media/images/")]
        assert len(images) >= 16 and any(e.path.endswith("predictions.table.json") for e in artifact.manifest.contents)


def tensorboard_events(run_dir: Path) -> list:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # as TensorBoard reads them

    files = sorted((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert files, "no TensorBoard event file"
    return [event for path in files for event in EventFileLoader(str(path)).Load()]


def test_tensorboard_holds_scalars_images_and_hparams_with_test_metrics(run):
    pytest.importorskip("tensorboard", reason="reading event files needs the tensorboard extra")
    from tensorboard.plugins.hparams import plugin_data_pb2
    from tensorboard.util import tensor_util

    run_dir, metrics, _ = run
    scalars, images, hparams = {}, [], {}
    for event in tensorboard_events(run_dir):
        for value in event.summary.value:
            plugin = value.metadata.plugin_data.plugin_name
            if plugin == "images":  # the loader turns image summaries into [width, height, png] tensors
                width, height, png = value.tensor.string_val
                assert png.startswith(b"\x89PNG")
                images.append((value.tag, event.step, int(width), int(height)))
            elif plugin == "hparams":
                data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                hparams[value.tag] = data
            elif value.HasField("simple_value"):
                scalars.setdefault(value.tag, []).append(value.simple_value)
            elif value.HasField("tensor") and plugin == "scalars":
                scalars.setdefault(value.tag, []).append(float(tensor_util.make_ndarray(value.tensor)))
    assert len(scalars["val/mae"]) == 2 and scalars["test/mae"][-1] == pytest.approx(metrics["test/mae"])
    assert "test_baseline/mae" in scalars
    assert [(tag, step) for tag, step, _, _ in images] == [("val/images", 1), ("val/images", 2)]
    assert images[0][2] > 8 * 32 and images[0][3] > 3 * 32  # the 8-column, 3-row grid
    session = hparams["_hparams_/session_start_info"].session_start_info.hparams
    assert session["name"].string_value == "unet_lrelu" and session["model/generator/activation"].string_value == "lrelu"
    assert session["data/color_space"].string_value == "lab" and session["trainer/max_epochs"].number_value == 2
    assert not any(key.startswith(("hydra/", "paths/", "logger/", "callbacks/")) for key in session)
    declared = {m.name.tag for m in hparams["_hparams_/experiment"].experiment.metric_infos}
    assert {"test/mae", "test/psnr", "test_baseline/mae"} <= declared and not any(t.startswith("val") for t in declared)


def test_logger_groups_combine(tmp_path):
    for choice, expected in [("tensorboard", ["csv", "tensorboard"]), ("[csv,tensorboard]", ["csv", "tensorboard"]),
                             ("[wandb,tensorboard]", ["csv", "wandb", "tensorboard"])]:
        cfg = compose_train([f"logger={choice}"], tmp_path / "run")
        assert list(cfg.logger) == expected


def test_tensorboard_shows_the_run_in_its_hparams_view(run, browser, tmp_path):
    """`tensorboard --logdir` on the run, opened in Chromium: the HParams view lists the run with its
    config and test metrics. COLORGAN_WRITE_DOCS=1 writes the screenshot docs/images/tensorboard_hparams.png."""
    run_dir = run[0]
    port = free_port()
    log = tmp_path / "tensorboard.log"
    command = [str(Path(sys.executable).with_name("tensorboard")), "--logdir", str(run_dir.parent),
               "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 700})
        deadline = time.monotonic() + 60
        while f"127.0.0.1:{port}" not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        page.goto(f"http://127.0.0.1:{port}/#hparams")
        # The plugin draws inside shadow roots, which Playwright's locators (not inner_text) reach.
        for text in ("model/generator/activation", "test/mae"):
            page.get_by_text(text, exact=True).first.wait_for(timeout=60_000)
        if os.environ.get("COLORGAN_WRITE_DOCS") == "1":
            page.screenshot(path=str(REPO / "docs" / "images" / "tensorboard_hparams.png"))
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
