"""`python -m colorgan.bench --folder-vs-memory data=folder data.root=DIR [...]`: does training on
a photo folder keep up with training on in-memory tensors?

Times Trainer.fit of the same model and configuration (as `bench` times colorgan's path: the
training command's callbacks and loggers, no validation) on three inputs, in interleaved repeats:
- the folder, decoded per batch with Pillow in `data.num_workers` DataLoader workers;
- the folder through its decoded cache (`data.cache=true`: gathered from a memory map);
- the same training images as an in-memory uint8 tensor (CIFAR-10's path, the fastest input).
Each rate is divided by the in-memory rate of the same repeat; the goal with the cache is >= 0.9.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
from collections.abc import Callable

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from colorgan.bench.bare import BenchError
from colorgan.bench.cpu_usage import CPUUsage
from colorgan.data.datamodule import ColorizationDataModule
from colorgan.data.folder import FolderDataModule
from colorgan.system.machine import cpu_summary, machine

INPUTS = {"folder": "folder, decoded per batch", "cache": "folder, decoded cache (memory map)",
          "memory": "in-memory uint8 tensor"}


class InMemoryImages(ColorizationDataModule):
    """Images already decoded, as uint8 tensors: the input the folder is compared with."""

    def __init__(self, train_images: torch.Tensor, **kwargs) -> None:
        super().__init__(**kwargs)
        self.train_images = train_images
        self.val_images = self.test_images = train_images[: self.eval_batch_size]

    def setup(self, stage: str | None = None) -> None:
        pass


def folder_modules(cfg: DictConfig, images: int) -> tuple[dict[str, ColorizationDataModule], dict]:
    """The three DataModules, the cache made ready first (timed: built, or checked when it exists)."""
    folder = instantiate(cfg.data, cache=False, _convert_="all")
    cached = instantiate(cfg.data, cache=True, _convert_="all")
    if not isinstance(folder, FolderDataModule):
        raise BenchError("--folder-vs-memory compares a photo folder with memory: add data=folder data.root=DIR.")
    started = time.perf_counter()
    cached.prepare_data()
    cached.setup("fit")
    ready = time.perf_counter() - started
    folder.setup("fit")
    train = cached.caches["train"]
    count = min(images, len(train))
    memory_images = train[torch.arange(count)].images.clone()  # crops of the cached squares
    common = dict(color_space=cfg.data.color_space, batch_size=cached.batch_size,
                  eval_batch_size=cached.eval_batch_size, flip=cached.flip, seed=cached.seed)
    info = {"train": len(train), "memory": count, "ready": ready, "where": cached.where, "workers": folder.num_workers,
            "megabytes": sum(d.array_path.stat().st_size for d in cached.caches.values()) / 1e6,
            "image_size": cached.image_size}
    return {"folder": folder, "cache": cached, "memory": InMemoryImages(memory_images, **common)}, info


def folder_vs_memory(name: str, cfg: DictConfig, args: argparse.Namespace, time_fit: Callable) -> dict:
    """Images per second of `time_fit` (bench.time_colorgan) on each input, each repeat."""
    L.seed_everything(cfg.seed, verbose=False)
    model = instantiate(cfg.model, _convert_="all")
    batch_size = cfg.data.batch_size
    modules, info = folder_modules(cfg, batch_size * (args.warmup + args.steps) * 2)
    rates = {key: [] for key in modules}
    for _ in range(args.repeats):
        for key, data in modules.items():
            (wall, _), _, device, _ = time_fit(cfg, model, data, args.warmup, args.steps)
            rates[key].append(wall)
    return {"rates": rates, "device": device, "batch_size": batch_size, **info}


def folder_report(rows: dict[str, dict], args: argparse.Namespace, command: str, usage: CPUUsage) -> str:
    first = next(iter(rows.values()))
    lines = [
        f"### {datetime.datetime.now().isoformat(sep=' ', timespec='minutes')}: {machine(first['device'])}, "
        "photo folder against in-memory tensors",
        "",
        f"- command: `{command}`",
        f"- {cpu_summary()}",
        f"- the machine during the run: {usage.describe()}",
        f"- folder: {first['where']}, {first['train']:,} training images at {first['image_size']} px, "
        f"decoded in {first['workers']} DataLoader worker(s); in memory: {first['memory']:,} of them",
        f"- decoded cache: {first['megabytes']:,.0f} MB for every split, ready in {first['ready']:.1f} s (scan "
        "and build on the first run; later runs check its crc32)",
        f"- batch {first['batch_size']}; {args.steps} timed steps after {args.warmup} warm-up, {args.repeats} "
        "interleaved repeats (median): Trainer.fit with the training command's callbacks, no validation",
        "",
        "| input | " + " | ".join(f"{n}: img/s (each repeat) | {n}: / in-memory" for n in rows) + " |",
        "|---" * (1 + 2 * len(rows)) + "|",
    ]
    for key, label in INPUTS.items():
        cells = []
        for row in rows.values():
            values, memory = row["rates"][key], row["rates"]["memory"]
            ratios = [v / m for v, m in zip(values, memory, strict=True)]
            bold = "**" if key == "cache" else ""
            cells += [f"{statistics.median(values):.1f} ({', '.join(f'{v:.1f}' for v in values)})",
                      f"{bold}{statistics.median(ratios):.3f}{bold}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "Goal: the decoded cache at >= 0.9x the in-memory rate."]
    return "\n".join(lines) + "\n"
