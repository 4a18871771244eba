"""`colorgan.report` over runs trained here with the real trainer (in-process, tiny)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from helpers.configs import TINY, compose_train
from omegaconf import OmegaConf
from PIL import Image

from colorgan.models.unet_colorizer import UNetColorizer
from colorgan.report.figures import LABEL_WIDTH
from colorgan.report.markdown import render_markdown, render_wins
from colorgan.report.write import ReportError, main, write_report
from colorgan.runs.checkpoint_io import load_generator
from colorgan.runs.run_dir import Run, find_runs, write_json
from colorgan.train import train


@pytest.fixture(scope="module")
def two_runs(tiny_cifar, tmp_path_factory):
    """A folder holding two finished runs: unet on Lab and unet_lrelu on RGB."""
    root = tmp_path_factory.mktemp("runs")
    for experiment, space in (("unet", "lab"), ("unet_lrelu", "rgb")):
        train(compose_train([f"+experiment={experiment}", *TINY, f"data.color_space={space}"], root / f"{experiment}_{space}", tiny_cifar))
    return root


def table_rows(report: str) -> list[list[str]]:
    lines = report.split("\n\n| model |")[1].split("\n\n")[0].splitlines()[2:]
    return [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines]


def test_one_row_per_run_plus_a_baseline_per_colour_space_and_the_image(two_runs, tmp_path):
    report_path, image_path = write_report([two_runs], tmp_path, sort_by="mae")
    rows = table_rows(report_path.read_text())
    runs, baselines = rows[:2], rows[2:]
    assert {(r[0], r[1], r[2], r[3], r[4]) for r in runs} == {("unet", "relu", "none", "lab", "1"),
                                                              ("unet_lrelu", "lrelu", "batch", "rgb", "1")}
    assert all(r[5].endswith("s") for r in runs)  # train time
    assert float(runs[0][6]) <= float(runs[1][6])  # sorted by MAE, best first
    assert [b[3] for b in baselines] == ["lab", "rgb"] and all("grayscale" in b[0] for b in baselines)
    assert "0.556810" in report_path.read_text()  # the seed's numbers, quoted
    assert Image.open(image_path).size == (LABEL_WIDTH + 8 * (32 * 4 + 2) + 2, 4 * (32 * 4 + 2) + 2)

    psnr_first = table_rows(write_report([two_runs], tmp_path, sort_by="psnr")[0].read_text())[:2]
    assert float(psnr_first[0][7]) >= float(psnr_first[1][7])  # higher PSNR is better


def test_a_variant_named_on_its_command_line_is_listed_under_that_name(two_runs, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(two_runs, root)
    record = root / "unet_lab" / ".hydra"
    record.mkdir(exist_ok=True)
    (record / "overrides.yaml").write_text("- +experiment=unet\n- name=unet_variant\n- seed=3\n")
    models = {row[0] for row in table_rows(write_report([root], tmp_path / "out")[0].read_text())[:2]}
    assert models == {"unet_variant", "unet_lrelu"}


def test_runs_without_results_are_named_with_the_reason(two_runs, tmp_path):
    root = tmp_path / "sweep"
    shutil.copytree(two_runs, root)
    failed, unfinished = root / "unet_lab", root / "unet_lrelu_rgb"
    (failed / "test_metrics.json").unlink()
    write_json(failed / "job_status.json", {"status": "FAILED", "error": "RuntimeError: out of memory"})
    (unfinished / "test_metrics.json").unlink()
    shutil.copytree(two_runs / "unet_lab", root / "no_checkpoint")
    shutil.rmtree(root / "no_checkpoint" / "checkpoints")

    report = write_report([root], tmp_path / "out")[0].read_text()
    assert len(table_rows(report)) == 1 + 1  # the one finished run and its baseline
    assert "RuntimeError: out of memory" in report
    assert "still going, was killed" in report
    assert "Not in comparison.png (no checkpoint): `no_checkpoint`" in report


def test_it_explains_when_a_folder_holds_no_finished_run(two_runs, tmp_path, capsys):
    with pytest.raises(ReportError, match="No colorgan run under"):
        write_report([tmp_path], tmp_path / "out")
    shutil.copytree(two_runs / "unet_lab", tmp_path / "run")
    (tmp_path / "run" / "test_metrics.json").unlink()
    assert main([str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "None of the 1 runs found has usable results" in err and "no test_metrics.json" in err


def test_zero_images_in_the_figure_is_one_line_and_nothing_written(two_runs, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([str(two_runs / "unet_lab"), "--images", "0", "--out", str(tmp_path / "out")])
    assert stop.value.code == 2 and "--images and --scale must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_safe_loader_rebuilds_the_trained_generator(two_runs):
    (run,) = [r for r in find_runs([two_runs]) if r.path.name == "unet_lrelu_rgb"]
    loaded = load_generator(run.checkpoint())
    generator, space = loaded.generator, loaded.color_space
    module = UNetColorizer.load_from_checkpoint(run.checkpoint(), map_location="cpu", weights_only=False).eval()
    inputs = torch.rand(2, 1, 32, 32) * 2 - 1
    assert space.name == "rgb"
    assert torch.allclose(generator(inputs), module(inputs))


@pytest.mark.parametrize("damage", ["banana", "non-utf8", "string-metrics"])
def test_a_run_with_a_bad_file_is_listed_with_its_reason_and_the_rest_is_reported(two_runs, tmp_path, damage):
    root = tmp_path / "runs"
    shutil.copytree(two_runs, root)
    bad = root / "unet_lab"
    if damage == "banana":  # a value no number parser takes, in a column the curves read
        text = (bad / "csv" / "metrics.csv").read_text().splitlines()
        header = text[0].split(",")
        row = ["banana" if name in ("epoch", "val/mae") else "" for name in header]
        (bad / "csv" / "metrics.csv").write_text("\n".join([*text, ",".join(row)]) + "\n")
    elif damage == "non-utf8":
        with open(bad / "csv" / "metrics.csv", "ab") as f:
            f.write(b"\xff\xfe\xfa,1\n")
    else:
        (bad / "test_metrics.json").write_text('"not metrics"')
    assert main([str(root), "--out", str(tmp_path / "out")]) == 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert len(table_rows(report)) == 1 + 1  # the good run and its baseline
    assert f"`{bad}`: unreadable" in report


def test_the_figure_labels_say_their_mae_is_the_test_mae(two_runs):
    """learning_curves.png plots validation MAE; the legend's number is the test MAE and says so."""
    from colorgan.report.markdown import run_names
    from colorgan.report.write import figure_label

    runs = find_runs([two_runs])
    labels = [figure_label(run, run_names(runs)) for run in runs]
    assert all(label.splitlines()[-1].startswith("test MAE ") for label in labels), labels


def test_the_share_of_images_beating_gray_is_counted_image_by_image(tmp_path):
    """A mean can hide a model far better on a few images and worse on most: the share says so."""
    # Higher PSNR than gray on 3 of 4 images, lower MAE on 1 of 4 (one tie, which is not a win).
    (tmp_path / "test_per_image.csv").write_text(
        "image,mae,psnr,baseline_mae,baseline_psnr\n"
        "0,5,30,6,20\n1,9,25,8,24\n2,7,26,7,25\n3,12,20,10,21\n"
    )
    run = Run(tmp_path)
    lines = render_wins([run], {tmp_path: "model"})
    (row,) = [line for line in lines if line.startswith("| model")]
    psnr, mae = (cell.strip() for cell in row.strip("|").split("|")[1:])
    assert psnr.startswith("75.0 [") and mae.startswith("25.0 [")
    assert render_wins([Run(tmp_path / "missing")], {}) == []


def test_the_seeds_cifar10_numbers_are_quoted_only_beside_a_cifar10_run(two_runs, tmp_path):
    """A report of photo models has no use for the seed's CIFAR-10 table."""
    root = tmp_path / "runs"
    shutil.copytree(two_runs / "unet_lab", root / "photo_run")
    config = OmegaConf.load(root / "photo_run" / "config.yaml")
    config.data._target_ = "colorgan.data.folder.FolderDataModule"
    OmegaConf.save(config, root / "photo_run" / "config.yaml")
    photo, cifar = Run(root / "photo_run"), Run(two_runs / "unet_lab")
    assert "The seed's own numbers" not in render_markdown([photo], [], "mae")
    assert "The seed's own numbers" in render_markdown([photo, cifar], [], "mae")


def test_runs_tested_on_test_sets_of_different_sizes_are_said_to_be_so(two_runs, tmp_path):
    """A run tested on fewer images (trainer.limit_test_batches) beside one tested on all of them: each
    has the grayscale row of its own test set, and the report says the sets differ."""
    root = tmp_path / "runs"
    shutil.copytree(two_runs, root)
    shutil.copytree(root / "unet_lab", root / "unet_lab_fewer")
    per_image = root / "unet_lab_fewer" / "test_per_image.csv"
    lines = per_image.read_text().splitlines()
    per_image.write_text("\n".join(lines[: 1 + (len(lines) - 1) // 2]) + "\n")
    report = write_report([root], tmp_path / "out")[0].read_text()
    baselines = [row for row in table_rows(report) if "grayscale" in row[0]]
    full, half = len(lines) - 1, (len(lines) - 1) // 2
    assert sorted((b[0], b[3]) for b in baselines) == sorted([
        (f"*grayscale input* ({full} test images)", "lab"), (f"*grayscale input* ({half} test images)", "lab"),
        (f"*grayscale input* ({full} test images)", "rgb")])
    assert f"**These runs were tested on 2 different test sets** ({half}, {full} images)" in report
    assert "different test sets" not in write_report([two_runs], tmp_path / "same")[0].read_text()


def test_the_frontier_draws_one_point_per_model_and_refuses_mixed_test_sets(tmp_path, capsys):
    from colorgan.report.frontier import main as frontier

    def retest(name: str, colour: float, truth: float = 40.0) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        values = {"colorfulness": colour, "colorfulness_true": truth, "agree": 50.0 + colour / 10, "false_color": colour / 10,
                  "mae": 14.0}
        metrics = {f"test/{k}": v for k, v in values.items()}
        metrics.update({f"test_baseline/{k}": v for k, v in {**values, "colorfulness": 0.0, "false_color": 0.0}.items()})
        (folder / "test_metrics.json").write_text(json.dumps(metrics))
        return folder

    pale, vivid = retest("pale", 15.0), retest("vivid", 30.0)
    out = tmp_path / "frontier.png"
    assert frontier([f"{pale}:pale", str(vivid), "-o", str(out)]) == 0
    assert "2 models on one test set" in capsys.readouterr().out
    with Image.open(out) as figure:
        assert figure.size == (1210, 506)
    other = retest("other", 20.0, truth=35.0)
    assert frontier([str(pale), str(other), "-o", str(tmp_path / "mixed.png")]) == 2
    assert "tested on other photos" in capsys.readouterr().err and not (tmp_path / "mixed.png").exists()
    (tmp_path / "empty").mkdir()
    assert frontier([str(tmp_path / "empty"), "-o", str(tmp_path / "none.png")]) == 2
    assert "not a test_metrics.json" in capsys.readouterr().err
