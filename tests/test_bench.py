"""`python -m colorgan.bench` on a tiny configuration: it prints every field (not how fast), its
overrides reach the right experiments, and its bare loop trains the model's own networks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
import torch
from helpers.configs import REPO
from hydra.errors import ConfigCompositionException

from colorgan.bench.bare import bare_step, optimizer_list
from colorgan.bench.compare import compose_experiments, parse_args
from colorgan.models.gan_colorizer import GANColorizer
from colorgan.models.unet_colorizer import UNetColorizer

TINY_BENCH = ["--steps", "1", "--warmup", "1", "--repeats", "2", "--val-batches", "1", "--pipeline-batches", "2",
              "--threads", "1", "model.generator.channels=[8,16,32]", "model.discriminator.channels=8",
              "data.batch_size=8", "data.eval_batch_size=8", "data.val_size=16", "trainer.accelerator=cpu"]
FIELDS = ["training, colorgan (img/s; per CPU-second of the median step)",
          "training, bare loop (img/s; per CPU-second of the median step)",
          "ratio colorgan / bare, wall clock (each repeat)", "ratio colorgan / bare, median CPU time per step",
          "colorgan's extra time per step; the data pipeline's share", "peak memory, colorgan / bare", "train-step FLOPs per image; achieved by colorgan", "data pipeline alone (img/s)",
          "validation with all metrics (img/s)", "one epoch: train + validation (sizes below)", "50,000 training images",
          "the seed's study: max_epochs epochs + test"]


def run(cmd: list[str], data_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLORGAN_DATA": str(data_dir), "PYTHONPATH": str(REPO)}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def check_report(text: str) -> None:
    assert "### " in text and "command: `python -m colorgan.bench" in text and "load average" in text
    assert "cores; vector instructions " in text and "torch CPU kernels " in text  # what it was measured on
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert rows[""] == "| | unet_lrelu | gan_lrelu |"
    for field in FIELDS:
        cells = rows[field].strip("| ").split(" | ")[1:]
        assert len(cells) == 2 and all(re.search(r"\d", cell) for cell in cells), rows[field]
    # The median, then each of the 2 repeats, for each experiment; then from the 2 timed steps.
    ratios = re.findall(r"\*\*([\d.]+)\*\* \(([\d.]+), ([\d.]+)\)", rows["ratio colorgan / bare, wall clock (each repeat)"])
    assert len(ratios) == 2 and all(float(x) > 0 for ratio in ratios for x in ratio)
    cpu = re.findall(r"\*\*([\d.]+)\*\* \(2 steps each\)", rows["ratio colorgan / bare, median CPU time per step"])
    assert len(cpu) == 2 and all(float(x) > 0 for x in cpu)
    assert "GiB RSS" in rows["peak memory, colorgan / bare"]
    assert "Data: 64 train, 16 validation, 16 test images." in text
    # colorgan's path is the training command's Trainer: its callbacks and (by default) the CSV logger.
    path = next(line for line in text.splitlines() if line.startswith("- colorgan's path"))
    assert all(name in path for name in ("progress_bar", "model_checkpoint", "last_checkpoint", "loggers csv")), path


def test_python_m_colorgan_bench_prints_every_field(tiny_cifar, tmp_path):
    out = run([sys.executable, "-m", "colorgan.bench", "--experiments", "unet_lrelu", "gan_lrelu", *TINY_BENCH, "--markdown", str(tmp_path / "B.md")], tiny_cifar)
    assert out.returncode == 0, out.stderr[-3000:]
    check_report(out.stdout)
    assert (tmp_path / "B.md").read_text().strip() in out.stdout  # --markdown appends the same report


@pytest.mark.skipif(not (REPO / ".venv" / "bin" / "python").exists(), reason="make targets use .venv")
def test_make_bench(tiny_cifar):
    out = subprocess.run(["make", "bench", f"ARGS={' '.join(TINY_BENCH)}"], cwd=REPO, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "COLORGAN_DATA": str(tiny_cifar)})
    assert out.returncode == 0, out.stderr[-3000:]
    check_report(out.stdout)


def test_overrides_reach_the_experiments_that_have_the_key(tmp_path):
    configs = compose_experiments(["unet_lrelu", "gan_lrelu"], ["model.discriminator.channels=8", "data.batch_size=4"],
                                  str(tmp_path))
    assert configs["gan_lrelu"].model.discriminator.channels == 8 and "discriminator" not in configs["unet_lrelu"].model
    assert configs["unet_lrelu"].data.batch_size == configs["gan_lrelu"].data.batch_size == 4
    assert all(list(cfg.logger) == ["csv"] for cfg in configs.values())  # the default for a benchmark
    assert list(compose_experiments(["unet"], ["logger=wandb"], str(tmp_path))["unet"].logger) == ["csv", "wandb"]
    with pytest.raises(ConfigCompositionException, match="model.discriminatr"):  # a key no experiment has
        compose_experiments(["unet_lrelu", "gan_lrelu"], ["model.discriminatr.channels=8"], str(tmp_path))


@pytest.mark.parametrize("cls", [UNetColorizer, GANColorizer])
def test_bare_step_trains_the_models_own_networks(cls):
    torch.manual_seed(0)
    model = cls(generator={"channels": [8, 16, 32]}, **({"discriminator": {"channels": 8}} if cls is GANColorizer else {}))
    optimizers = optimizer_list(model)
    before = [p.detach().clone() for p in model.parameters()]
    inputs, targets = torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 2, 32, 32) * 2 - 1
    bare_step(model, optimizers, inputs, targets, torch.autocast("cpu", enabled=False))
    for network in model.networks():
        assert any(not torch.equal(p, before[i]) for i, p in enumerate(model.parameters())
                   if any(p is q for q in network.parameters()))
    assert all(p.requires_grad for p in model.parameters())  # D's weights are trainable again afterwards


def test_experiments_and_overrides_are_told_apart(capsys):
    readme = parse_args(["data.batch_size=256", "--experiments", "gan_lrelu", "--markdown", "BENCHMARKS.md"])
    assert readme.experiments == ["gan_lrelu"] and readme.overrides == ["data.batch_size=256"]
    with pytest.raises(SystemExit):  # nargs="+" would take the override for an experiment name
        parse_args(["--experiments", "gan_lrelu", "data.batch_size=256"])
    assert "put Hydra overrides before --experiments" in capsys.readouterr().err


def test_the_shared_scenario_times_each_model_beside_a_second_training(tiny_cifar):
    unet_only = [a for a in TINY_BENCH if not a.startswith("model.discriminator")]  # a key the U-Net lacks
    out = run([sys.executable, "-m", "colorgan.bench", *unet_only, "--experiments", "unet_lrelu", "--shared"], tiny_cifar)
    assert out.returncode == 0, out.stderr[-3000:]
    (row,) = [line for line in out.stdout.splitlines() if line.startswith("| **shared/idle**")]
    ratio, shared, alone = re.search(r"\*\*([\d.]+)x\*\* \(([\d.]+) s against ([\d.]+) s alone", row).groups()
    assert float(ratio) > 0 and float(shared) >= 0 and float(alone) >= 0  # tiny steps: the numbers, not their size
    assert "the machine during the run (shared scenario included):" in out.stdout
    assert "colorgan-bench-competitor" not in subprocess.run(["ps", "ax"], capture_output=True, text=True).stdout


def test_cpu_usage_sees_another_process():
    from colorgan.bench.cpu_usage import CPUUsage

    usage = CPUUsage()
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass"])
    time.sleep(1.6)
    usage.stop()  # before waiting for it: the busy loop is another process's CPU time, not ours
    busy.wait()
    assert usage.others >= 1.0 and usage.shared
    assert usage.describe().startswith("**shared machine")


def test_bench_threads_times_a_setting_in_fresh_processes():
    from colorgan.bench.threads import measure

    (alone,) = measure({"GOMP_SPINCOUNT": "1000", "OMP_NUM_THREADS": "1"}, steps=3, processes=1)
    assert 0 < alone < 60


@pytest.mark.slow
def test_bench_threads_cli_times_two_real_commands_side_by_side(tiny_cifar, monkeypatch):
    from colorgan.bench.threads import cli_table

    monkeypatch.setenv("COLORGAN_DATA", str(tiny_cifar))
    tiny = ["model.generator.channels=[8,16,32]", "data.batch_size=8", "data.val_size=16", "trainer.accelerator=cpu"]
    lines = cli_table(["unet"], 1, 3, tiny)
    assert "vector instructions" in lines[2]  # what the table was measured on
    (row,) = lines[6:]
    cells = row.strip("| ").split(" | ")
    assert cells[0] == "unet" and len(cells[2].split(" / ")) == 2 and cells[3].endswith("x")
    numbers = [float(cells[1]), *map(float, cells[2].split(" / "))]  # tiny steps: numbers, not their size
    assert len(numbers) == 3


def test_folder_vs_memory_times_the_three_inputs(tmp_path, capsys):
    """`--folder-vs-memory`: the same model on a photo folder without and with its decoded cache and in
    memory; each rate and its ratio to the in-memory one of the same repeat."""
    from test_folder import write_tree

    from colorgan.bench.compare import main

    write_tree(tmp_path / "photos", colour=24)
    text = main(["--folder-vs-memory", "--experiments", "unet_lrelu", "--steps", "1", "--warmup", "1", "--repeats", "2",
                 "--threads", "1", "data=folder", f"data.root={tmp_path / 'photos'}", "data.image_size=32",
                 "data.val_size=2", "data.test_size=2", "data.batch_size=4", "data.num_workers=1",
                 "model.generator.channels=[8,16,32]", "trainer.accelerator=cpu", f"paths.log_dir={tmp_path / 'logs'}",
                 f"paths.cache_dir={tmp_path / 'cache'}"])
    assert "vector instructions" in text and "photo folder against in-memory tensors" in text
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    for label in ("folder, decoded per batch", "folder, decoded cache (memory map)", "in-memory uint8 tensor"):
        rate, ratio = rows[label].strip("| ").split(" | ")[1:]
        assert re.fullmatch(r"[\d.]+ \([\d.]+, [\d.]+\)", rate) and float(ratio.strip("*")) > 0
    assert rows["in-memory uint8 tensor"].endswith("| 1.000 |")
    assert "decoded cache: " in text and len(list((tmp_path / "cache").rglob("decoded/*.npy"))) == 3


def test_the_bare_loop_times_a_photo_folder_recipe_too(tmp_path):
    """The main bench on a photo folder (the photo recipes' input): colorgan's path and the bare loop
    of the same network, both timed, and the folder's split sizes reported."""
    from test_folder import write_tree

    from colorgan.bench.compare import main

    write_tree(tmp_path / "photos", colour=24)
    text = main(["--experiments", "unet_lrelu", "--steps", "1", "--warmup", "1", "--repeats", "1", "--val-batches", "1",
                 "--pipeline-batches", "1", "--threads", "1", "data=folder", f"data.root={tmp_path / 'photos'}",
                 "data.image_size=32", "data.val_size=2", "data.test_size=2", "data.batch_size=4", "data.eval_batch_size=2",
                 "data.num_workers=0", "model.generator.channels=[8,16,32]", "model.lr_schedule=cosine", "trainer.accelerator=cpu",
                 f"paths.log_dir={tmp_path / 'logs'}", f"paths.cache_dir={tmp_path / 'cache'}"])
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    for field in ("training, colorgan (img/s; per CPU-second of the median step)",
                  "training, bare loop (img/s; per CPU-second of the median step)", "data pipeline alone (img/s)"):
        assert re.search(r"\d", rows[field].split(" | ")[1]), rows[field]
    sizes = re.search(r"Data: (\d+) train, (\d+) validation, (\d+) test images\.", text)
    assert sizes and int(sizes[1]) >= 15 and int(sizes[2]) >= 1 and int(sizes[3]) == 2, text[-500:]
