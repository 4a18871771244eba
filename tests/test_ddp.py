"""DDP: 2 CPU processes over gloo as a single run, ddp_spawn inside a sweep, and the guard that stops
Lightning's script re-launch inside a Hydra multirun."""

from __future__ import annotations

import json

import pytest
import torch
from helpers.cli import failure_text, job_dirs, only_sweep_dir, train_cli
from helpers.configs import REPO, TINY, compose_train
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import open_dict, read_write

from colorgan.data import cifar10
from colorgan.data.batches import IndexBatches
from colorgan.metrics import colorization_metrics
from colorgan.runs.checkpoint_io import load_generator
from colorgan.runs.devices import check_ddp_launch
from colorgan.runs.run_dir import Run

TWO_CPU_RANKS = ["trainer.accelerator=cpu", "trainer.devices=2", "data.eval_batch_size=8"]  # 16 test images: a batch a rank


def test_ranks_take_disjoint_batches_that_cover_the_epoch():
    shards = [list(IndexBatches(40, 8, shuffle=True, drop_last=True, seed=3, rank=r, world_size=2)) for r in (0, 1)]
    seen = [set(torch.cat(s).tolist()) for s in shards]
    assert len(shards[0]) == len(shards[1]) == 2
    assert not seen[0] & seen[1] and len(seen[0] | seen[1]) == 32


@pytest.mark.parametrize(("trainer", "mode", "refused"), [
    ("ddp", RunMode.MULTIRUN, True),
    ("ddp", RunMode.RUN, False),
    ("ddp_spawn", RunMode.MULTIRUN, False),
])
def test_ddp_relaunch_is_refused_only_inside_a_multirun(trainer, mode, refused, tmp_path):
    cfg = compose_train(["+experiment=unet", f"trainer={trainer}", *TWO_CPU_RANKS], tmp_path / "run")
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.mode = mode
    HydraConfig().set_config(cfg)
    strategy = instantiate(cfg.trainer, logger=False).strategy
    if refused:
        with pytest.raises(RuntimeError, match="trainer=ddp_spawn"):
            check_ddp_launch(strategy)
    else:
        check_ddp_launch(strategy)


def reference_metrics(run: Run, data_dir) -> tuple[dict, dict, dict]:
    """Model and grayscale metrics over all 16 test images in one process, and the baseline on the
    first 8 only (what rank 0 alone would report)."""
    loaded = load_generator(run.checkpoint())
    generator, space = loaded.generator, loaded.color_space
    rgb = cifar10.load_split(data_dir, train=False).float() / 255.0
    results = []
    for images, predict in ((rgb, generator), (rgb, None), (rgb[:8], None)):
        inputs, _ = space.split(images)
        target = predict(inputs) if predict else space.gray_target(inputs)
        metrics = colorization_metrics()
        with torch.no_grad():
            metrics.update(space.merge(inputs, target), images)
        results.append({k: float(v) for k, v in metrics.compute().items()})
    return tuple(results)


@pytest.mark.slow
def test_a_two_process_gloo_run_trains_and_writes_one_set_of_outputs(tiny_cifar, tmp_path):
    run_dir = tmp_path / "run"
    result = train_cli("+experiment=unet", "trainer=ddp", *TWO_CPU_RANKS, f"hydra.run.dir={run_dir}", "logger=wandb",
                       data_dir=tiny_cifar, log_dir=tmp_path, tiny=[o for o in TINY if o != "logger=csv"])
    assert result.returncode == 0, failure_text(result)
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in result.stdout + result.stderr
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["world_size"] == 2 and info["epochs"] == 1
    # One set of outputs: no second run dir, one W&B run (rank 0's), one CSV, one best checkpoint.
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["run"]
    assert len(list((run_dir / "wandb").glob("offline-run-*"))) == 1
    assert len(list(run_dir.rglob("metrics.csv"))) == 1 and len(list(run_dir.glob("checkpoints/best-*.ckpt"))) == 1

    # Each rank tested its own batch and torchmetrics summed them: the synced numbers are those of
    # all 16 test images, not of rank 0's 8.
    logged = json.loads((run_dir / "test_metrics.json").read_text())
    model, baseline, rank0_baseline = reference_metrics(Run(run_dir), tiny_cifar)
    for name in ("mae", "psnr", "ssim", "acc", "auc", "colorfulness"):
        assert logged[f"test_baseline/{name}"] == pytest.approx(baseline[name], rel=1e-4, abs=1e-6), name
        assert logged[f"test/{name}"] == pytest.approx(model[name], rel=1e-4, abs=1e-6), name
    assert rank0_baseline["mae"] != pytest.approx(baseline["mae"], rel=1e-3)


@pytest.mark.slow
def test_in_a_sweep_ddp_spawn_works_and_ddp_stops_with_advice(tiny_cifar, tmp_path):
    result = train_cli("+sweep=seed_study", "+experiment=unet", "data.color_space=lab", "trainer=ddp_spawn,ddp",
                       *TWO_CPU_RANKS, data_dir=tiny_cifar, log_dir=tmp_path)
    assert result.returncode != 0  # the ddp job fails ...
    spawned, relaunched = job_dirs(only_sweep_dir(tmp_path, "seed_study"))
    assert json.loads((spawned / "run_info.json").read_text())["world_size"] == 2, failure_text(result)
    assert (spawned / "test_metrics.json").is_file()
    status = json.loads((relaunched / "job_status.json").read_text())
    assert status["status"] == "FAILED" and "trainer=ddp_spawn" in status["error"]  # ... and says what to use
    assert not (relaunched / "run_info.json").exists()  # stopped before training, nothing forked



PROBES = {"PYTHONPATH": f"{REPO}:{REPO / 'tests'}"}  # tests/helpers/ddp_probes.py for the ranks too
GAN = ["model.discriminator.channels=8"]


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["ddp_spawn", "ddp"])
@pytest.mark.parametrize("experiment", ["unet", "gan_lrelu"])
def test_both_models_train_and_resume_on_two_gloo_processes(experiment, trainer, tiny_cifar, tmp_path):
    """One epoch on 2 ranks, then `resume=<run dir>` for a second: both launch modes, both models;
    the ranks end with the same weights (the GAN's D is averaged outside DDP's reducer), and the
    checkpoint holds each rank's own random states."""
    run_dir = tmp_path / "run"
    common = [*TWO_CPU_RANKS, *(GAN if experiment == "gan_lrelu" else []), "test=false",
              "+callbacks.weights._target_=helpers.ddp_probes.WeightsPerRank"]
    first = train_cli(f"+experiment={experiment}", f"trainer={trainer}", *common, f"hydra.run.dir={run_dir}",
                      data_dir=tiny_cifar, log_dir=tmp_path, env=PROBES)
    assert first.returncode == 0, failure_text(first)
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == 2 and len(checkpoint["rng_states"]) == 2
    resumed = train_cli(f"resume={run_dir}", "trainer.max_epochs=2", data_dir=tiny_cifar, log_dir=tmp_path, env=PROBES,
                        tiny=[])  # the run's own command line
    assert resumed.returncode == 0, failure_text(resumed)
    assert "random states of" not in resumed.stdout + resumed.stderr  # same world size: no warning
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["world_size"] == 2 and info["resumed_from"].endswith("last.ckpt")
    # (run_info's step count is the main process's: 0 under ddp_spawn, whose ranks train in children)
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"] == 4
    ranks = [torch.load(run_dir / f"weights_rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    for name in ranks[0]:
        assert torch.equal(ranks[0][name], ranks[1][name]), name


@pytest.mark.slow
def test_a_non_finite_loss_on_one_rank_stops_every_rank(tiny_cifar, tmp_path):
    """Rank 1's targets become NaN at batch 1: both ranks stop at the same check with the same message,
    instead of rank 0 waiting for rank 1 in the next collective until its 30-minute timeout. (D's
    averaged gradients carry the NaN to rank 0 within the same step, in G's losses.)"""
    result = train_cli("+experiment=gan_lrelu", "trainer=ddp", *TWO_CPU_RANKS, *GAN, "test=false",
                       "trainer.limit_train_batches=3", "+callbacks.nan._target_=helpers.ddp_probes.NonFiniteOnOneRank",
                       f"hydra.run.dir={tmp_path / 'run'}", data_dir=tiny_cifar, log_dir=tmp_path, env=PROBES,
                       timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, failure_text(result)
    message = "non-finite at step 1 (epoch 1, batch 2) on rank 0 (non-finite on ranks 0, 1)"
    assert output.count(message) >= 2, failure_text(result)  # raised by both ranks
    assert not (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()


def test_ddp_leaves_the_gans_discriminator_to_the_model_and_needs_no_unused_parameter_search():
    from lightning.pytorch.strategies import DDPStrategy

    from colorgan.models.gan_colorizer import GANColorizer
    from colorgan.models.unet_colorizer import UNetColorizer
    from colorgan.runs.devices import fit_ddp_to

    tiny = {"channels": [8, 16, 32]}
    gan, unet = GANColorizer(generator=tiny), UNetColorizer(generator=tiny)
    gan_strategy, unet_strategy = DDPStrategy(), DDPStrategy()
    fit_ddp_to(gan, gan_strategy)
    fit_ddp_to(unet, unet_strategy)
    ignored = set(gan._ddp_params_and_buffers_to_ignore)
    assert ignored == {f"discriminator.{k}" for k in gan.discriminator.state_dict()}  # weights and BN buffers
    assert "find_unused_parameters" not in gan_strategy._ddp_kwargs and not hasattr(unet, "_ddp_params_and_buffers_to_ignore")
    user = GANColorizer(generator=tiny)  # a user's explicit choice stands, and then DDP holds everything
    fit_ddp_to(user, DDPStrategy(find_unused_parameters=True))
    assert not getattr(user, "_ddp_params_and_buffers_to_ignore", None)
