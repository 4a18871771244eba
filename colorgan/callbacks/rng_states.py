"""Random states in every checkpoint (torch, CUDA, numpy, Python; one set per DDP rank), so a
resumed run draws the same flips and crops an uninterrupted one would."""

from __future__ import annotations

import logging
import random
from typing import Any

import lightning as L
import numpy as np
import torch

log = logging.getLogger(__name__)


# -- random states -----------------------------------------------------------------------------
def rng_states() -> dict[str, Any]:
    """This process's generator states, as plain tensors, ints and lists (loadable with weights_only):
    torch's CPU generator, numpy, Python and, when CUDA is in use, this process's own GPU's."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda_device"] = torch.cuda.get_rng_state()  # the current device: this rank's GPU
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what rng_states() returned (or an older checkpoint's "cuda": every GPU's states)."""
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    random.setstate((states["python"][0], tuple(states["python"][1]), states["python"][2]))
    cuda, own = states.get("cuda"), states.get("cuda_device")  # "cuda": every GPU's (older checkpoints)
    if own is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(own)
    elif cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    elif own is not None or cuda is not None:
        log.warning("The checkpoint's CUDA random states do not fit this machine's GPUs: not restored.")


class RNGStates(L.Callback):
    """Puts the global random states (torch, CUDA, numpy, Python) of every rank into every checkpoint
    (a list, gathered at the save) and restores them on resume, each rank its own and its GPU's:
    the training flip and dropout draw from them, and Lightning saves none. An older checkpoint's
    single dict is restored by every rank; on another number of ranks, rank r takes rank r modulo
    the saved count, and the log says so (the data order differs then anyway)."""

    KEY = "rng_states"

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        every_rank: list[Any] = [rng_states()]
        if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            every_rank = [None] * trainer.world_size
            torch.distributed.all_gather_object(every_rank, rng_states())  # at a save, not in a step
        checkpoint[self.KEY] = every_rank

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        if (saved := checkpoint.get(self.KEY)) is None:
            return log.warning("The checkpoint holds no random states (written without RNGStates): random flips "
                               "and dropout after resuming will differ from an uninterrupted run.")
        per_rank = [saved] if isinstance(saved, dict) else list(saved)  # a dict: written before per-rank states
        rank, world = trainer.global_rank, trainer.world_size
        if len(per_rank) != world and rank == 0:
            log.warning("The checkpoint holds the random states of %d rank(s), this run has %d: rank r restores "
                        "those of rank r %% %d; random flips differ from an uninterrupted run.", len(per_rank), world,
                        len(per_rank))
        set_rng_states(per_rank[rank % len(per_rank)])
