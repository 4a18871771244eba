"""The speed options (data.on_device, model.channels_last, model.compile, trainer.precision)
train correctly and change nothing but speed within rounding; the cheap training logs write what
self.log would; the shared Lab conversion of the metrics gives the values of one per metric."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import lightning as L
import pytest
import torch
from helpers.configs import DEVICE_TYPE, REAL_CIFAR, SHARED_DATA, compose_train
from hydra.utils import instantiate
from lightning.pytorch.loggers import CSVLogger

from colorgan.data.batches import IndexBatches
from colorgan.metrics import ABErrorAuC, LabOfPair, LabPixelAccuracy, colorization_metrics
from colorgan.models.gan_colorizer import GANColorizer
from colorgan.models.unet_colorizer import UNetColorizer

TINY_D = "model.discriminator.channels=8"
CUDA = torch.cuda.is_available()


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest


class SeenByNetworks(L.Callback):
    """Memory format and dtype of what a convolution of G (its second: the first sees one channel,
    whose layout is ambiguous) and of D (its first) sees and returns, and the batches' device."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[bool, torch.dtype]] = {}
        self.batch_devices: set[str] = set()

    def on_fit_start(self, trainer, pl_module) -> None:
        nets = {"generator": pl_module.generator.encoder[1][0]}
        if isinstance(pl_module, GANColorizer):
            nets["discriminator"] = pl_module.discriminator.model[0]
        for name, conv in nets.items():
            conv.register_forward_hook(self._hook(name))

    def _hook(self, name: str):
        def record(module, args, output) -> None:
            self.seen[name] = (args[0].is_contiguous(memory_format=torch.channels_last), output.dtype)
        return record

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batch_devices.add(batch.rgb.device.type)


@pytest.mark.parametrize("experiment", ["unet_lrelu", "gan_lrelu"])
@pytest.mark.parametrize(
    "options",
    [
        ["model.channels_last=true"],
        ["trainer.precision=bf16-mixed"],
        ["data.on_device=true"],
        ["model.channels_last=true", "trainer.precision=bf16-mixed", "data.on_device=true"],
    ],
    ids=["channels_last", "bf16", "on_device", "all"],
)
def test_speed_options_train_with_fast_dev_run(tiny_cfg, experiment, options):
    cfg = tiny_cfg(TINY_D, *options, experiment=experiment) if experiment == "gan_lrelu" else tiny_cfg(*options)
    model, data = instantiate(cfg.model, _convert_="all"), instantiate(cfg.data, _convert_="all")
    before = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}
    seen = SeenByNetworks()
    trainer = instantiate(cfg.trainer, fast_dev_run=True, logger=False, callbacks=[seen])
    trainer.fit(model, datamodule=data)

    channels_last, bf16 = cfg.model.channels_last, cfg.trainer.precision == "bf16-mixed"
    for network in model.networks():
        conv = next(m for m in network.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.shape[1] > 1)
        assert conv.weight.is_contiguous(memory_format=torch.channels_last) == channels_last
    expected_nets = {"generator", "discriminator"} if experiment == "gan_lrelu" else {"generator"}
    assert set(seen.seen) == expected_nets
    for name, (is_channels_last, dtype) in seen.seen.items():
        assert is_channels_last == channels_last, name
        assert dtype == (torch.bfloat16 if bf16 else torch.float32), name
    # Every network learned, and nothing became NaN.
    after = model.state_dict()
    assert all(torch.isfinite(after[k]).all() for k in before)
    for prefix in expected_nets:
        assert any(not torch.equal(before[k], after[k].cpu()) for k in before if k.startswith(prefix)), prefix
    assert seen.batch_devices == {DEVICE_TYPE}
    for key in ("val/mae", "val_baseline/mae"):
        assert math.isfinite(float(trainer.callback_metrics[key]))


def test_bf16_validation_gives_the_fp32_metrics_of_the_same_weights(tiny_cfg):
    """The network runs in bf16, the metrics in float32: in bf16 SSIM and Lab accuracy were off."""
    cfg = tiny_cfg()
    model, data = instantiate(cfg.model, _convert_="all"), instantiate(cfg.data, _convert_="all")
    instantiate(cfg.trainer, fast_dev_run=True, logger=False).fit(model, datamodule=data)
    results = {
        precision: instantiate(cfg.trainer, logger=False, precision=precision).validate(model, datamodule=data, verbose=False)[0]
        for precision in ("32-true", "bf16-mixed")
    }
    bf16, fp32 = results["bf16-mixed"], results["32-true"]
    for name in ("mae", "psnr", "ssim", "acc", "auc", "colorfulness"):
        # The baseline's inputs are the same float32 images either way; the model's differ by bf16 rounding.
        assert bf16[f"val_baseline/{name}"] == pytest.approx(fp32[f"val_baseline/{name}"], rel=1e-5), name
        assert bf16[f"val/{name}"] == pytest.approx(fp32[f"val/{name}"], rel=0.01, abs=1e-3), name


def gan_training_logs(tiny_cfg, tmp_path, every: int) -> tuple[dict[int, float], list[float]]:
    """train/g_l1 as the CSV logger wrote it, logging every `every` steps: {step: value}, [epoch means]."""
    cfg = tiny_cfg(TINY_D, "trainer.limit_train_batches=4", "trainer.limit_val_batches=0",
                   f"trainer.log_every_n_steps={every}", experiment="gan_lrelu")
    L.seed_everything(0)
    model, data = instantiate(cfg.model, _convert_="all"), instantiate(cfg.data, _convert_="all")
    logger = CSVLogger(tmp_path / f"every{every}", name="", version="")
    instantiate(cfg.trainer, logger=logger, enable_checkpointing=False).fit(model, datamodule=data)
    with open(Path(logger.log_dir) / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    steps = {int(r["step"]): float(r["train/g_l1_step"]) for r in rows if r.get("train/g_l1_step")}
    return steps, [float(r["train/g_l1_epoch"]) for r in rows if r.get("train/g_l1_epoch")]


def test_cheap_training_logs_write_what_self_log_would(tiny_cfg, tmp_path):
    """log_train calls self.log only on the steps Lightning writes, keeps the epoch mean itself."""
    every_step, epoch = gan_training_logs(tiny_cfg, tmp_path, every=1)
    every_other, epoch_2 = gan_training_logs(tiny_cfg, tmp_path, every=2)
    assert sorted(every_step) == [0, 1, 2, 3] and sorted(every_other) == [1, 3]
    assert all(every_other[step] == pytest.approx(every_step[step]) for step in every_other)
    # One mean per epoch, of all 4 batches (of equal size), whichever steps were written.
    assert len(epoch) == len(epoch_2) == 1
    assert epoch[0] == pytest.approx(epoch_2[0]) and epoch[0] == pytest.approx(sum(every_step.values()) / 4)


def test_on_device_loader_gathers_batches_on_the_trainer_device(tiny_cfg):
    cfg = tiny_cfg("data.on_device=true")
    model, data = instantiate(cfg.model, _convert_="all"), instantiate(cfg.data, _convert_="all")
    trainer = instantiate(cfg.trainer, fast_dev_run=True, logger=False)
    trainer.fit(model, datamodule=data)
    loader = data.train_dataloader()
    assert loader.sampler.device == trainer.strategy.root_device and not loader.pin_memory
    first = next(iter(loader))
    assert first.dtype == torch.uint8 and first.device == trainer.strategy.root_device
    # Host images are pinned for the copy only on a CUDA machine; without on_device nothing moves.
    data.on_device = False
    assert data.train_dataloader().sampler.device is None


def test_index_batches_on_a_device_are_the_same_batches():
    for shuffle in (True, False):
        host = IndexBatches(50, 8, shuffle=shuffle, drop_last=True, seed=3)
        moved = IndexBatches(50, 8, shuffle=shuffle, drop_last=True, seed=3, device="cpu")
        host.set_epoch(2), moved.set_epoch(2)
        assert [b.tolist() for b in host] == [b.tolist() for b in moved] and len(moved) == 6


@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_on_device_keeps_all_images_on_the_gpu(tiny_cfg):
    cfg = tiny_cfg("data.on_device=true", "trainer.accelerator=gpu")
    model, data = instantiate(cfg.model, _convert_="all"), instantiate(cfg.data, _convert_="all")
    trainer = instantiate(cfg.trainer, fast_dev_run=True, logger=False)
    trainer.fit(model, datamodule=data)
    assert data.train_images.is_cuda and data.val_images.is_cuda
    assert next(iter(data.train_dataloader())).is_cuda


@pytest.mark.parametrize("cls", [UNetColorizer, GANColorizer])
def test_channels_last_gives_the_same_outputs(cls):
    torch.manual_seed(0)
    generator = {"channels": [8, 16, 32]}
    plain = cls(generator=generator).eval()
    fast = cls(generator=generator, channels_last=True).eval()
    fast.load_state_dict(plain.state_dict())
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    assert torch.allclose(plain(x), fast(x), atol=1e-5)
    if cls is GANColorizer:
        colour = torch.rand(4, 2, 32, 32)
        assert torch.allclose(plain.discriminate(x, colour), fast.discriminate(x, colour), atol=1e-5)
    # Checkpoint keys and values do not depend on the layout.
    assert plain.state_dict().keys() == fast.state_dict().keys()


def test_compile_flag_compiles_every_network_in_place():
    model = GANColorizer(generator={"channels": [8, 16, 32]}, discriminator={"channels": 8}, compile="reduce-overhead")
    keys = set(model.state_dict())
    assert all(net._compiled_call_impl is None for net in model.networks())
    model.configure_model()  # what each Trainer stage calls
    assert all(net._compiled_call_impl is not None for net in model.networks())
    assert set(model.state_dict()) == keys  # no `_orig_mod.` in checkpoint keys
    with pytest.raises(ValueError, match="model.compile must be true, false or one of default, reduce-overhead"):
        UNetColorizer(compile="fastest")


@pytest.mark.slow
def test_compiled_model_trains(tiny_cfg):
    """torch.compile for real (inductor builds C++ on a CPU: about a minute)."""
    cfg = tiny_cfg("model.compile=true", "model.channels_last=true")
    model, data = instantiate(cfg.model, _convert_="all"), instantiate(cfg.data, _convert_="all")
    trainer = instantiate(cfg.trainer, fast_dev_run=True, logger=False)
    trainer.fit(model, datamodule=data)
    assert math.isfinite(float(trainer.callback_metrics["train/loss"]))
    assert math.isfinite(float(trainer.callback_metrics["val/mae"]))


def test_lab_metrics_sharing_a_conversion_match_separate_ones():
    torch.manual_seed(0)
    preds, target = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    shared = colorization_metrics()
    shared.update(preds, target)
    own_acc, own_auc = LabPixelAccuracy(), ABErrorAuC()
    own_acc.update(preds, target)
    own_auc.update(preds, target)
    values = shared.compute()
    assert values["acc"] == own_acc.compute() and values["auc"] == own_auc.compute()


def test_lab_of_pair_converts_anew_for_a_changed_or_new_tensor():
    lab = LabOfPair(users=2)
    preds, target = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    first, _ = lab(preds, target)
    preds.mul_(0.5)  # in place: same object, new version
    second, _ = lab(preds, target)
    assert not torch.equal(first, second)
    assert lab(preds, target)[0] is second  # the second user reads the cached pair ...
    assert lab._lab is None  # ... which is then released
    assert lab(preds.clone(), target)[0] is not second
    with torch.inference_mode():  # how Lightning validates and tests: no version counters
        preds, target = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
        assert lab(preds, target)[0] is lab(preds, target)[0]


REAL = pytest.mark.skipif(not REAL_CIFAR.is_dir(), reason=f"real CIFAR-10 not found under {SHARED_DATA}")

# The fast path's validation metrics after a short real run agree with plain fp32 within these.
PARITY_TOLERANCE = {"val/mae": 0.02, "val/psnr": 0.02, "val/ssim": 0.02, "val/acc": 0.05, "val/auc": 0.02}  # relative


@REAL
@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["unet_lrelu", "gan_lrelu"])
def test_fast_path_matches_fp32_on_real_cifar(experiment, tmp_path):
    """Same seed, same 40 batches of real CIFAR-10: bf16-mixed + channels_last + on_device (+ compile
    on a GPU) against fp32 NCHW; validation metrics on 1,000 images agree within PARITY_TOLERANCE."""
    common = [f"+experiment={experiment}", "model.generator.channels=[32,64,128,256]", "data.batch_size=32",
              "data.eval_batch_size=250", "trainer.enable_model_summary=false", "print_config=false"]
    common += ["model.discriminator.channels=16"] if experiment.startswith("gan") else []
    fast = ["trainer.precision=bf16-mixed", "model.channels_last=true", "data.on_device=true",
            *(["model.compile=true"] if CUDA else [])]
    results = {}
    for name, options in (("fp32", []), ("fast", fast)):
        cfg = compose_train([*common, *options], tmp_path / name, SHARED_DATA)
        L.seed_everything(cfg.seed)
        model, data = instantiate(cfg.model, _convert_="all"), instantiate(cfg.data, _convert_="all")
        quiet = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, num_sanity_val_steps=0)
        instantiate(cfg.trainer, **quiet, max_steps=40, limit_val_batches=0).fit(model, datamodule=data)
        metrics = instantiate(cfg.trainer, **quiet, limit_val_batches=4).validate(model, datamodule=data, verbose=False)[0]
        results[name] = {k: metrics[k] for k in PARITY_TOLERANCE}
    print(experiment, results)
    for key, tolerance in PARITY_TOLERANCE.items():
        assert results["fast"][key] == pytest.approx(results["fp32"][key], rel=tolerance), key
