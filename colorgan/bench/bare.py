"""The bare PyTorch loop `colorgan.bench` compares colorgan's training path with: the very same
model object's networks, losses and optimizers, over batches already on the device (the practical
limit), and the clocks both are timed with."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from itertools import pairwise
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from colorgan.data.datamodule import ColorizationDataModule
from colorgan.errors import UserError
from colorgan.framework_internals import TorchDispatchMode
from colorgan.models.base import ColorizerModule, SingleLossColorizer
from colorgan.models.gan_colorizer import GANColorizer

AUTOCAST = {"32-true": None, "32": None, "bf16-mixed": torch.bfloat16}


class BenchError(UserError, ValueError):
    """The bench cannot time what was asked (a precision the bare loop lacks, no photo folder)."""


# -- measuring -----------------------------------------------------------------------------------
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    elif Path("/proc/self/clear_refs").exists():
        Path("/proc/self/clear_refs").write_text("5")  # Linux: reset the peak RSS (VmHWM)


def peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB allocated"
    status = Path("/proc/self/status")
    if status.exists():
        kib = next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("VmHWM"))
        return f"{kib / 2**20:.2f} GiB RSS"
    return "n/a"


def clocks() -> tuple[float, float]:
    """Wall-clock and this process's CPU time. On a loaded CPU the CPU time per image still
    measures the work done, where wall time also measures the other processes."""
    return time.perf_counter(), time.process_time()


def rates(images: int, start: tuple[float, float], end: tuple[float, float]) -> tuple[float, float]:
    """Images per second of wall-clock time and per second of CPU time."""
    return images / (end[0] - start[0]), images / (end[1] - start[1])


def cpu_seconds_between(marks: list[tuple[float, float]]) -> list[float]:
    """CPU seconds between consecutive clocks() readings."""
    return [end[1] - before[1] for before, end in pairwise(marks)]


# -- the bare loop -------------------------------------------------------------------------------
def bare_step(model: ColorizerModule, optimizers: list, inputs: torch.Tensor, targets: torch.Tensor,
              autocast: AbstractContextManager) -> None:
    """One training step as a plain PyTorch loop writes it, with the model's own networks, losses
    and optimizers: the single loss of UNetColorizer or ClassifyColorizer (`training_loss`), or
    GANColorizer's D then G updates."""
    if not isinstance(model, GANColorizer):
        with autocast:
            loss = model.training_loss(inputs, targets)
        optimizers[0].zero_grad()
        loss.backward()
        optimizers[0].step()
        return
    g_opt, d_opt = optimizers
    with autocast:
        fake = model(inputs)
    for _ in range(model.hparams.d_steps_per_g_step):
        with autocast:
            d_loss = model.loss.discriminator(model.discriminate(inputs, targets), model.discriminate(inputs, fake.detach()))
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
    model.discriminator.requires_grad_(False)  # G's update needs no gradient of D's weights
    with autocast:
        g_adv = model.loss.generator(model.discriminate(inputs, fake))
        g_loss = g_adv + model.hparams.lambda_l1 * F.l1_loss(fake.float(), targets.float())
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    model.discriminator.requires_grad_(True)


def optimizer_list(model: ColorizerModule) -> list[torch.optim.Optimizer]:
    """Fresh optimizers of the model, as a list (the GAN's two; a single-loss model's Adam without its
    learning-rate schedule, which needs a Trainer: the bare loop times steps, not the schedule)."""
    if isinstance(model, SingleLossColorizer):
        return [model.adam()]
    optimizers = model.configure_optimizers()
    return optimizers if isinstance(optimizers, list) else [optimizers]


def device_batches(data: ColorizationDataModule, device: torch.device, batch_size: int, count: int = 4):
    """A few training batches split into (inputs, targets) on the device, made before timing (from
    CIFAR-10's tensors or a photo folder's decoded photos alike)."""
    images = data.prior_images(batch_size * count).to(device)
    return [data.color_batch(chunk, train=True)[1:] for chunk in images.split(batch_size) if len(chunk) == batch_size]


def time_bare(model: ColorizerModule, batches: list, precision: str, warmup: int, steps: int):
    """(wall, CPU) images per second of bare_step over batches already on the device, CPU seconds
    of each step, and peak memory."""
    device = batches[0][0].device
    model.to(device).train()
    model.configure_model()  # compiles once when model.compile is set, as a Trainer stage would
    optimizers = optimizer_list(model)
    dtype = AUTOCAST[precision]
    autocast = torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)
    reset_peak_memory(device)
    marks = []
    for i in range(warmup + steps):
        if i == warmup:
            synchronize(device)
            marks.append(clocks())
        inputs, targets = batches[i % len(batches)]
        bare_step(model, optimizers, inputs, targets, autocast)
        if i >= warmup:
            if i == warmup + steps - 1:  # a GPU runs ahead: per-step times are only exact on a CPU
                synchronize(device)
            marks.append(clocks())
    return rates(len(batches[0][0]) * steps, marks[0], marks[-1]), cpu_seconds_between(marks), peak_memory(device)


class OpCounter(TorchDispatchMode):
    """Counts the ATen operators run: in eager mode on a GPU each is about one kernel launch."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def step_costs(model: ColorizerModule, data: ColorizationDataModule) -> tuple[float, int, int]:
    """FLOPs per image of one fp32 bare training step, and the operators run by that step and by
    the on-device data transform of its batch; before any compilation, on 2 images on the CPU."""
    uint8 = data.prior_images(2).cpu()
    with OpCounter() as data_ops:
        _, inputs, targets = data.color_batch(uint8, train=True)
    model.cpu().train()
    counts = []
    for mode in (FlopCounterMode(display=False), OpCounter()):
        optimizers = optimizer_list(model)
        for group in (g for opt in optimizers for g in opt.param_groups):
            group["foreach"] = True  # as on a GPU, where it is the default: a few ops for all tensors
        with mode:
            bare_step(model, optimizers, inputs, targets, torch.autocast("cpu", enabled=False))
        counts.append(mode)
    return counts[0].get_total_flops() / len(inputs), counts[1].count, data_ops.count
