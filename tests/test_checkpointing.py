"""Checkpoint files survive kills and write errors; random states and the data position round-trip."""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.configs import REPO

from colorgan.callbacks.atomic_checkpoints import (
    AtomicCheckpointIO,
    CheckpointSaveError,
    describe_save_error,
    partial_path,
)
from colorgan.callbacks.rng_states import rng_states, set_rng_states
from colorgan.data.batches import IndexBatches, ResumableDataLoader, TensorImages
from colorgan.runs.checkpoint_io import CheckpointError
from colorgan.system.atomic_io import atomic_path, write_text


def checkpoint(step: int, size: int = 1000) -> dict:
    return {"global_step": step, "weights": torch.full((size,), float(step))}


def test_save_killed_between_write_and_rename_leaves_the_previous_checkpoint(tmp_path):
    """A real process dies (SIGKILL) after writing the new checkpoint and before renaming it."""
    last = tmp_path / "checkpoints" / "last.ckpt"
    script = textwrap.dedent(f"""
        import os, signal
        import torch
        from colorgan.callbacks.atomic_checkpoints import AtomicCheckpointIO
        io = AtomicCheckpointIO()
        io.save_checkpoint({{"global_step": 1, "weights": torch.ones(1000)}}, {str(last)!r})
        os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # die just before the rename
        io.save_checkpoint({{"global_step": 2, "weights": torch.ones(1000)}}, {str(last)!r})
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert partial_path(last).is_file()  # the new one was written, never renamed
    io = AtomicCheckpointIO()
    assert io.load_checkpoint(last)["global_step"] == 1
    # The next save reuses the leftover's name and cleans it away.
    io.save_checkpoint(checkpoint(3), last)
    assert io.load_checkpoint(last)["global_step"] == 3
    assert not partial_path(last).exists()
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.ckpt"]


def test_atomic_path_replaces_whole_or_not_at_all_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "status.json"
    write_text(target, "old")
    with pytest.raises(OSError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["status.json"]
    write_text(target, "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["status.json"]


def test_interrupt_during_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    last = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint(checkpoint(1), last)

    def ctrl_c(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint(checkpoint(2), last)
    monkeypatch.undo()
    assert io.load_checkpoint(last)["global_step"] == 1
    assert not partial_path(last).exists()


def test_write_error_while_saving_is_clear_and_keeps_the_previous_checkpoint(tmp_path):
    """A real write failure: the file size limit (RLIMIT_FSIZE) makes the kernel refuse the write
    with EFBIG part-way through the new checkpoint, as a full disk would with ENOSPC."""
    last = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint(checkpoint(1, size=1000), last)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills us
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
    try:
        with pytest.raises(CheckpointSaveError) as failed:
            io.save_checkpoint(checkpoint(2, size=1_000_000), last)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)
    message = str(failed.value)
    assert str(last) in message and "is intact" in message and "resume=" in message
    assert io.load_checkpoint(last)["global_step"] == 1
    assert not partial_path(last).exists()


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs, where nobody may create files")
def test_unwritable_checkpoint_folder_is_a_clear_error():
    with pytest.raises(CheckpointSaveError, match="Could not save checkpoint /sys/colorgan_test/last.ckpt.*writable"):
        AtomicCheckpointIO().save_checkpoint(checkpoint(1), "/sys/colorgan_test/last.ckpt")


def test_save_error_messages_say_what_to_do(tmp_path):
    path = tmp_path / "last.ckpt"
    full = describe_save_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), path)
    assert "No space left on device" in full and "Free space" in full and "intact" in full
    denied = describe_save_error(OSError(errno.EACCES, os.strerror(errno.EACCES)), path)
    assert "Permission denied" in denied and f"Make {tmp_path} writable" in denied


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    good, cut = tmp_path / "good.ckpt", tmp_path / "cut.ckpt"
    AtomicCheckpointIO().save_checkpoint(checkpoint(1), good)
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # what a non-atomic writer leaves
    with pytest.raises(CheckpointError, match="cut.ckpt is truncated or corrupt"):
        AtomicCheckpointIO().load_checkpoint(cut)


def test_configured_trainer_writes_checkpoints_atomically(tiny_cfg):
    from hydra.utils import instantiate

    trainer = instantiate(tiny_cfg().trainer, logger=False)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


@pytest.mark.slow
def test_atomic_save_costs_about_what_lightnings_writer_costs(tiny_cfg, tmp_path):
    """The seed's U-Net with its Adam state (conf/model/unet.yaml): fsync and rename add little."""
    import time

    from hydra.utils import instantiate
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    model = instantiate(tiny_cfg("model.generator.channels=[64,128,256,512,512]").model, _convert_="all")
    optimizer = model.configure_optimizers()
    model(torch.randn(2, 1, 32, 32)).mean().backward()
    optimizer.step()
    state = {"state_dict": model.state_dict(), "optimizer_states": [optimizer.state_dict()]}
    seconds = {}
    for name, io in (("atomic", AtomicCheckpointIO()), ("lightning", TorchCheckpointIO())):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            io.save_checkpoint(state, tmp_path / f"{name}.ckpt")
            times.append(time.perf_counter() - started)
        seconds[name] = min(times)
    size = (tmp_path / "atomic.ckpt").stat().st_size / 2**20
    print(f"checkpoint {size:.0f} MiB; one save: atomic {seconds['atomic']:.2f} s, lightning {seconds['lightning']:.2f} s")
    assert seconds["atomic"] < 2 * seconds["lightning"] + 0.5


def test_random_states_round_trip_through_a_weights_only_load(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    path = tmp_path / "states.ckpt"
    torch.save({"rng_states": rng_states()}, path)
    expected = (torch.rand(3), np.random.rand(3), __import__("random").random())
    torch.manual_seed(99)
    np.random.seed(99)
    set_rng_states(torch.load(path, weights_only=True)["rng_states"])  # what Lightning's loader does
    again = (torch.rand(3), np.random.rand(3), __import__("random").random())
    assert torch.equal(expected[0], again[0]) and np.array_equal(expected[1], again[1]) and expected[2] == again[2]


def loader(seed: int = 7) -> ResumableDataLoader:
    images = torch.arange(40).view(40, 1, 1, 1)
    sampler = IndexBatches(40, batch_size=4, shuffle=True, drop_last=True, seed=seed)
    return ResumableDataLoader(TensorImages(images), sampler=sampler, batch_size=None,
                               generator=torch.Generator().manual_seed(seed))


def test_loader_resumed_mid_epoch_continues_with_the_next_batch():
    full = loader()
    full.sampler.set_epoch(3)
    expected = [b.flatten().tolist() for b in full]

    interrupted = loader()
    interrupted.sampler.set_epoch(3)
    batches = iter(interrupted)
    seen = [next(batches).flatten().tolist() for _ in range(4)]
    state = interrupted.state_dict()
    assert state == {"epoch": 3, "batches": 4}

    resumed = loader()
    resumed.load_state_dict(state)
    rest = iter(resumed)  # as Lightning does when resuming: the iterator first, set_epoch after
    resumed.sampler.set_epoch(3)
    assert seen + [b.flatten().tolist() for b in rest] == expected
    assert len(resumed) == len(expected)  # the epoch length Lightning counts with is unchanged
    # The skip is for that one pass only.
    assert [b.flatten().tolist() for b in resumed] == expected


def test_loader_iterators_leave_the_global_random_state_alone():
    state = torch.get_rng_state()
    for _ in iter(loader()):
        pass
    assert torch.equal(torch.get_rng_state(), state)


def test_each_rank_restores_its_own_random_states_and_another_world_size_is_said(caplog):
    """Checkpoints hold one entry per rank; old ones one dict for all; a different rank count is logged."""
    from types import SimpleNamespace

    from colorgan.callbacks.rng_states import RNGStates

    per_rank = []
    for seed in (10, 11):
        torch.manual_seed(seed)
        per_rank.append(rng_states())
    draws = []
    for states in per_rank:
        set_rng_states(states)
        draws.append(torch.rand(3))
    callback = RNGStates()
    for rank, world, expected, said in ((1, 2, 1, False), (0, 2, 0, False), (2, 3, 0, True)):
        caplog.clear()
        torch.manual_seed(99)
        trainer = SimpleNamespace(global_rank=rank, world_size=world)
        callback.on_load_checkpoint(trainer, None, {"rng_states": per_rank})
        assert torch.equal(torch.rand(3), draws[expected])
        # rank 0 says it, for every rank
        assert ("random states of 2 rank(s), this run has 3" in caplog.text) == (said and rank == 0)
    trainer = SimpleNamespace(global_rank=0, world_size=3)
    callback.on_load_checkpoint(trainer, None, {"rng_states": per_rank})
    assert "this run has 3: rank r restores those of rank r % 2" in caplog.text
    torch.manual_seed(99)
    callback.on_load_checkpoint(SimpleNamespace(global_rank=0, world_size=1), None, {"rng_states": per_rank[1]})  # old
    assert torch.equal(torch.rand(3), draws[1])
    checkpoint: dict = {}
    callback.on_save_checkpoint(SimpleNamespace(world_size=1), None, checkpoint)
    assert isinstance(checkpoint["rng_states"], list) and len(checkpoint["rng_states"]) == 1
