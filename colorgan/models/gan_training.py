"""What the GAN's training step needs besides the GAN: its losses watched for NaN and infinity on the
device, and the discriminator's gradients under DDP, which the model averages by hand.

Under DDP, devices.fit_ddp_to keeps the discriminator out of DDP's reducer (see there why), so:
`backward` runs D's backward with the reducer off and averages D's gradients across ranks in one
flat all-reduce, and `broadcast_from_rank_zero` starts every rank's D from rank 0's weights (DDP
broadcasts only what its reducer holds). Outside DDP both are plain.
"""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.core.optimizer import LightningOptimizer, do_nothing_closure

from colorgan.framework_internals import flatten_dense_tensors, ignored_in_ddp, unflatten_dense_tensors

LOSS_NAMES = ("d_loss", "g_adv", "g_l1", "g_loss", "d_real", "d_fake")


# -- the discriminator under DDP -----------------------------------------------------------------
def reduced_by_hand(module: L.LightningModule) -> bool:
    """Whether DDP left some of `module`'s networks out of its reducer (then their gradients are ours to average)."""
    return module.trainer.world_size > 1 and bool(ignored_in_ddp(module))


def backward(module: L.LightningModule, loss: torch.Tensor, network: torch.nn.Module) -> None:
    """`module.manual_backward(loss)` for a loss whose gradients go to `network` alone; under DDP,
    with `network` outside the reducer, with the reducer off and `network`'s gradients then averaged."""
    if not reduced_by_hand(module):
        module.manual_backward(loss)
        return
    with module.trainer.strategy.block_backward_sync():
        module.manual_backward(loss)
    average_gradients(network, module.trainer.world_size)


def average_gradients(network: torch.nn.Module, world_size: int) -> None:
    """Average `network`'s gradients across ranks in one flat all-reduce (what DDP's reducer does
    for the networks it holds); enqueued on the device, no host read."""
    grads = [p.grad for p in network.parameters() if p.grad is not None]
    flat = flatten_dense_tensors(grads)
    torch.distributed.all_reduce(flat)  # SUM: AVG is NCCL-only
    flat.div_(world_size)
    for grad, averaged in zip(grads, unflatten_dense_tensors(flat, grads), strict=True):
        grad.copy_(averaged)


def broadcast_from_rank_zero(module: L.LightningModule, network: torch.nn.Module) -> None:
    """Under DDP with `network` outside the reducer, every rank's `network` becomes rank 0's."""
    if not reduced_by_hand(module):
        return
    state = [t for t in (*network.parameters(), *network.buffers()) if t.is_floating_point()]
    flat = flatten_dense_tensors([t.detach() for t in state])
    torch.distributed.broadcast(flat, src=0)
    with torch.no_grad():
        for tensor, synced in zip(state, unflatten_dense_tensors(flat, state), strict=True):
            tensor.copy_(synced)


def step_uncounted(trainer: L.Trainer, optimizer: LightningOptimizer) -> None:
    """Step as LightningOptimizer.step does (precision plugin, on_before_optimizer_step hooks),
    minus the progress counter behind global_step, which is kept for the generator's steps."""
    trainer.strategy.optimizer_step(optimizer.optimizer, closure=do_nothing_closure)


# -- the losses ----------------------------------------------------------------------------------
class FiniteLossWatch:
    """The GAN's losses checked on the device, read back only when asked (`check`): at logging
    steps, before validation, at epoch and fit ends and before a checkpoint. It keeps two rows
    [step, epoch, batch, *losses] on the device: the first non-finite losses and the last finite
    ones (step -1: none yet). Under DDP `check` gathers every rank's rows, so all ranks stop at
    the same check, whichever rank went non-finite (otherwise the others would wait for it in
    the next collective until its timeout).
    """

    def __init__(self) -> None:
        self.first_bad: torch.Tensor | None = None
        self.last_finite: torch.Tensor | None = None
        self.unchecked = 0  # steps since the last check: the same on every rank

    def update(self, losses: torch.Tensor, step: int, epoch: int, batch_idx: int) -> None:
        """losses (len(LOSS_NAMES),) on the device; step, epoch and batch become fills, not copies."""
        where = [losses.new_full((1,), value, dtype=torch.float64) for value in (step, epoch, batch_idx)]
        row = torch.cat([*where, losses.double()])
        if self.first_bad is None or self.first_bad.device != row.device:
            self.first_bad, self.last_finite = torch.full_like(row, -1.0), torch.full_like(row, -1.0)
        finite = torch.isfinite(losses).all()
        self.last_finite = torch.where(finite, row, self.last_finite)
        self.first_bad = torch.where(~finite & (self.first_bad[0] < 0), row, self.first_bad)
        self.unchecked += 1

    def check(self, trainer) -> None:
        """Raise FloatingPointError on every rank when any rank's losses became non-finite."""
        if not self.unchecked or self.first_bad is None:
            return
        self.unchecked = 0
        rows = torch.stack([self.first_bad, self.last_finite])  # (2, 3 + losses)
        if trainer.world_size > 1:
            rows = trainer.strategy.all_gather(rows)  # (ranks, 2, 3 + losses)
        rows = rows.view(-1, *rows.shape[-2:]).cpu().tolist()  # the one read
        bad_ranks = [rank for rank, (bad, _) in enumerate(rows) if bad[0] >= 0]
        if bad_ranks:  # the earliest, on the lowest rank (with gradients averaged, NaN spreads in a step)
            first = min(bad_ranks, key=lambda rank: (rows[rank][0][0], rank))
            raise FloatingPointError(self._message(first, bad_ranks, *rows[first]) if len(rows) > 1
                                     else self._message(None, [], *rows[0]))

    @staticmethod
    def _message(rank: int | None, bad_ranks: list[int], bad: list[float], last: list[float]) -> str:
        def losses(row: list[float]) -> str:
            return ", ".join(f"{k}={v:.4g}" for k, v in zip(LOSS_NAMES, row[3:], strict=True))

        on_rank = "" if rank is None else f" on rank {rank} (non-finite on ranks {', '.join(map(str, bad_ranks))})"
        step, epoch, batch = (int(v) for v in bad[:3])
        previous = f"at step {int(last[0])}: {losses(last)}" if last[0] >= 0 else "none (the first step was already non-finite)"
        return (
            f"GAN losses became non-finite at step {step} (epoch {epoch + 1}, batch {batch + 1}){on_rank}: {losses(bad)}. "
            f"Last finite losses{'' if rank is None else f' on rank {rank}'} {previous}. Training stopped; no checkpoint was written from these "
            "weights. Try lower model.lr_g/model.lr_d, model.grad_clip_norm=1.0, model.gan_loss=lsgan, "
            "or trainer.precision=32-true / bf16-mixed instead of 16-mixed."
        )
