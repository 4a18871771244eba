"""How fast colorgan trains, against the limit for the same model on the same device:
`python -m colorgan.bench [--steps 10 --repeats 3 ...] [Hydra overrides of conf/train.yaml]`.

For each experiment (the U-Net and the GAN by default) it times, in interleaved repeats:
- colorgan's training path: the Lightning Trainer with the real DataModule (colour conversion
  and flips on the device), the same configuration `python -m colorgan.train` composes;
- a bare PyTorch loop of the very same model object (its networks, losses and optimizers), at
  the same batch size and precision, over batches already on the device: the practical limit.
The ratio colorgan / bare is the framework's cost. It also reports peak memory, the data
pipeline and validation (with every metric) alone, and estimates one CIFAR-10 epoch and the
seed's 15-epoch study. Warm-up steps are not timed; on a GPU the clock reads after a synchronize.

It also says what else used the CPU during the run (other processes' CPU time, steal) and what the
CPU is (its vector instructions: colorgan.system.machine), and with `--shared` measures how much slower each model trains while a second training shares the CPU
(colorgan/bench/shared.py).

With `--folder-vs-memory data=folder data.root=DIR` it times instead the same model on a photo
folder, decoded per batch and through its decoded cache, against in-memory tensors
(colorgan/bench/folder.py).

GPU fast path (docs/bench.md): `trainer.precision=bf16-mixed data.on_device=true
model.channels_last=true model.compile=true +trainer.benchmark=true`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import warnings
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import MISSING, DictConfig, OmegaConf

from colorgan.bench.bare import (
    AUTOCAST,
    BenchError,
    clocks,
    cpu_seconds_between,
    device_batches,
    peak_memory,
    rates,
    reset_peak_memory,
    step_costs,
    synchronize,
    time_bare,
)
from colorgan.bench.cpu_usage import CPUUsage
from colorgan.bench.folder import folder_report, folder_vs_memory
from colorgan.bench.report import report
from colorgan.bench.shared import shared_slowdown
from colorgan.data import cifar10  # noqa: F401  registers ${colorgan.data_dir:}, which conf/paths composes with
from colorgan.data.datamodule import ColorizationDataModule
from colorgan.errors import exit_on_user_error
from colorgan.models.base import ColorizerModule
from colorgan.pretrained.bundle import register_config_resolver
from colorgan.runs.loggers import build_loggers
from colorgan.system.atomic_io import write_text

register_config_resolver()  # ${base_model:}, ${shipped_model:}: the photo experiments' warm starts

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


class BatchClock(L.Callback):
    """Reads the clock at the end of every training (or validation) batch. Images per second are
    taken between the end of the last warm-up batch and the end of the last batch, so every timed
    step includes fetching, transfer, the on-device transform, the step and Lightning's hooks."""

    def __init__(self, warmup: int, last: int | None = None) -> None:
        self.warmup, self.last = warmup, last
        self.ends: list[tuple[float, float]] = []
        self.images: list[int] = []
        self.device = torch.device("cpu")

    def _end(self, pl_module: L.LightningModule, batch) -> None:
        self.device = pl_module.device
        count = len(self.ends) + 1
        if count in (self.warmup, self.last) or self.last is None:
            synchronize(self.device)
        self.ends.append(clocks())
        self.images.append(len(batch.rgb))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._end(pl_module, batch)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._end(pl_module, batch)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        if not self.ends:  # a validation set of one batch is timed from that batch's start
            synchronize(pl_module.device)
            self.first_start = clocks()

    def images_per_second(self) -> tuple[float, float]:
        """(wall, CPU) rates over the batches after the warm-up."""
        warmup = min(self.warmup, len(self.ends) - 1)
        if warmup < 1:
            return rates(sum(self.images), self.first_start, self.ends[-1])
        return rates(sum(self.images[warmup:]), self.ends[warmup - 1], self.ends[-1])

    def step_cpu_times(self) -> list[float]:
        """CPU seconds of each batch after the warm-up (from the end of the one before)."""
        return cpu_seconds_between(self.ends[self.warmup - 1 :])


def bench_trainer(cfg: DictConfig, **overrides) -> L.Trainer:
    """The configured Trainer without what a measurement of one stage must not time (logging to
    disk, checkpoints, progress bar, image grids)."""
    options = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                   num_sanity_val_steps=0, fast_dev_run=False)
    return instantiate(cfg.trainer, **{**options, **overrides})


def training_trainer(cfg: DictConfig, clock: BatchClock, steps: int) -> L.Trainer:
    """The Trainer `python -m colorgan.train` builds, with its callbacks (progress bar, checkpoint
    callbacks, random states, image grid) and loggers (the CSV logger unless the command line
    chose another), stopped after `steps` training steps and without validation."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    return instantiate(cfg.trainer, callbacks=[*callbacks, clock], logger=build_loggers(cfg) or False,
                       enable_model_summary=False, fast_dev_run=False, max_epochs=-1, max_steps=steps,
                       limit_val_batches=0, num_sanity_val_steps=0)


def time_colorgan(cfg: DictConfig, model: ColorizerModule, data: ColorizationDataModule, warmup: int, steps: int):
    """(wall, CPU) images per second of Trainer.fit (no validation), CPU seconds of each step, the
    device and the peak memory."""
    clock = BatchClock(warmup, last=warmup + steps)
    trainer = training_trainer(cfg, clock, warmup + steps)
    reset_peak_memory(trainer.strategy.root_device)
    trainer.fit(model, datamodule=data)
    return clock.images_per_second(), clock.step_cpu_times(), clock.device, peak_memory(clock.device)


def time_validation(cfg: DictConfig, model: ColorizerModule, data: ColorizationDataModule, batches: int) -> tuple:
    """Images per second of Trainer.validate: forward, merge to RGB and every metric, model and baseline."""
    clock = BatchClock(warmup=1)
    bench_trainer(cfg, callbacks=[clock], limit_val_batches=batches + 1).validate(model, datamodule=data, verbose=False)
    return clock.images_per_second()


def time_pipeline(data: ColorizationDataModule, device: torch.device, batches: int) -> float:
    """Images per second of the training loader plus the on-device transform alone."""
    count, start = 0, None
    while count < batches + 1:
        for batch in data.train_dataloader():
            batch = data.on_before_batch_transfer(batch, 0)  # a photo folder's batch -> its uint8 tensor
            color = data.color_batch(batch.to(device, non_blocking=True), train=True)
            count += 1
            if count == 1:  # the first batch warms up
                synchronize(device)
                start, images = clocks(), 0
            else:
                images += len(color.rgb)
            if count == batches + 1:
                break
    synchronize(device)
    return rates(images, start, clocks())


# -- one experiment ------------------------------------------------------------------------------
def applies(cfg: DictConfig, override: str) -> bool:
    """Whether `cfg` has the key of `override` (additions and deletions always apply)."""
    key = override.split("=", 1)[0]
    return key[0] in "+~" or OmegaConf.select(cfg, key, default=MISSING) is not MISSING


def compose_experiments(experiments: list[str], overrides: list[str], output_dir: str) -> dict[str, DictConfig]:
    """Each experiment's config with the overrides. An override of a key that only some of the
    experiments have (model.discriminator.* has only the GAN) applies to those; a key that none
    has fails as it would in `python -m colorgan.train`. Runs log to CSV unless an override
    picks the logger (`logger=wandb`, the training default, adds W&B's writer)."""
    if not any(o.lstrip("+~").split("=", 1)[0].split(".")[0] == "logger" for o in overrides):
        overrides = ["logger=csv", *overrides]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        plain = {e: compose("train", overrides=[f"+experiment={e}"]) for e in experiments}

        return {
            e: compose("train", overrides=[f"+experiment={e}", f"paths.output_dir={output_dir}",
                                           *(o for o in overrides if applies(cfg, o) or not any(applies(c, o) for c in plain.values()))])
            for e, cfg in plain.items()
        }


def bench_experiment(name: str, cfg: DictConfig, args: argparse.Namespace) -> dict:
    precision = str(cfg.trainer.precision)
    if precision not in AUTOCAST:
        raise BenchError(f"The bench's bare loop supports trainer.precision {', '.join(AUTOCAST)}; got {precision!r}.")
    L.seed_everything(cfg.seed, verbose=False)
    data = instantiate(cfg.data, _convert_="all")
    model = instantiate(cfg.model, _convert_="all")
    data.setup("fit")
    batch_size = data.batch_size
    flops, step_ops, data_ops = step_costs(model, data)
    row = {"colorgan": [], "bare": [], "ratio": [], "colorgan_steps": [], "bare_steps": []}
    for _ in range(args.repeats):  # interleaved, so a change of machine load hits both paths alike
        ips, steps, device, row["colorgan_memory"] = time_colorgan(cfg, model, data, args.warmup, args.steps)
        batches = device_batches(data, device, batch_size)
        bare, bare_steps, row["bare_memory"] = time_bare(model, batches, precision, args.warmup, args.steps)
        row["colorgan"].append(ips)
        row["bare"].append(bare)
        row["ratio"].append(ips[0] / bare[0])
        row["colorgan_steps"] += steps
        row["bare_steps"] += bare_steps
    if args.shared:  # seconds per step of colorgan's path, alone and beside a second training
        mine = [o for o in args.overrides if applies(cfg, o)]
        row["shared"] = shared_slowdown(
            cfg, name, mine, lambda: batch_size / time_colorgan(cfg, model, data, args.warmup, args.steps)[0][0])
    row.update(
        device=device, batch_size=batch_size, eval_batch_size=data.eval_batch_size, precision=precision, flops=flops,
        ops=(step_ops, data_ops),
        pipeline=time_pipeline(data, device, args.pipeline_batches),
        validation=time_validation(cfg, model, data, args.val_batches),
        sizes=data.split_sizes(), epochs=cfg.trainer.max_epochs,
        options=f"channels_last={cfg.model.channels_last}, compile={cfg.model.compile}, "
                f"on_device={cfg.data.get('on_device', False)}",
        path=f"callbacks {', '.join(k for k, v in (cfg.get('callbacks') or {}).items() if v is not None) or 'none'}; "
             f"loggers {', '.join(k for k, v in (cfg.get('logger') or {}).items() if v is not None) or 'none'}",
    )
    return row


# -- the report ----------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m colorgan.bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of conf/train.yaml for every experiment")
    parser.add_argument("--experiments", nargs="+", default=["unet_lrelu", "gan_lrelu"], help="conf/experiment names")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per run")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before them (>= 1)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each path, interleaved")
    parser.add_argument("--val-batches", type=int, default=2, help="timed validation batches")
    parser.add_argument("--pipeline-batches", type=int, default=50, help="timed batches of the data pipeline")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (None: torch's choice)")
    parser.add_argument("--shared", action="store_true",
                        help="also time each model while a second `python -m colorgan.train` of it shares the CPU")
    parser.add_argument("--folder-vs-memory", action="store_true",
                        help="time training on a photo folder (data=folder data.root=DIR), without and with its "
                             "decoded cache, against the same images in memory")
    parser.add_argument("--markdown", type=Path, default=None, help="append the report to this file")
    args = parser.parse_intermixed_args(argv)
    if args.warmup < 1 or args.steps < 1 or args.repeats < 1:
        parser.error("--warmup, --steps and --repeats must be at least 1.")
    if overrides := [e for e in args.experiments if "=" in e]:
        parser.error(f"--experiments takes conf/experiment names, got {' '.join(overrides)}: "
                     "put Hydra overrides before --experiments (or after another option).")
    return args


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    command = " ".join(["python -m colorgan.bench", *(sys.argv[1:] if argv is None else argv)])
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(does not have many workers|GPU available but not used"
                                              "|could not find the monitored key|exists and is not empty).*")
    with tempfile.TemporaryDirectory(prefix="colorgan-bench-") as output_dir:
        configs = compose_experiments(args.experiments, args.overrides, output_dir)
        usage = CPUUsage()
        if args.folder_vs_memory:
            rows = {name: folder_vs_memory(name, cfg, args, time_colorgan) for name, cfg in configs.items()}
            text = folder_report(rows, args, command, usage.stop())
        else:
            rows = {name: bench_experiment(name, cfg, args) for name, cfg in configs.items()}
            text = report(rows, args, command, usage.stop())
    print(text)
    if args.markdown:
        markdown = Path(args.markdown)  # appended to: the old text and the new, or the old alone
        write_text(markdown, (markdown.read_text() if markdown.is_file() else "") + "\n" + text)
    return text


if __name__ == "__main__":
    exit_on_user_error(main)
