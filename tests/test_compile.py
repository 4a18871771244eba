"""torch.compile compiles each network once per shape and mode, not again every epoch: a short real fit of
each model (sanity validation, training, validation, image grid) counts Dynamo's graphs per epoch."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch._dynamo.utils
from hydra.utils import instantiate

pytestmark = pytest.mark.usefixtures("one_thread")

# U-Net: G in training and in evaluation. GAN: the same for G, and D with its weights trainable (D's
# step) and frozen (G's step: toggled_optimizer flips requires_grad, which Dynamo guards on).
EXPECTED_GRAPHS = {"unet_lrelu": 2, "gan_lrelu": 4}


class GraphsPerEpoch(L.Callback):
    def __init__(self) -> None:
        self.graphs: list[int] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.graphs.append(torch._dynamo.utils.counters["stats"]["unique_graphs"])


@pytest.mark.parametrize("experiment", ["unet_lrelu", "gan_lrelu"])
def test_compiled_networks_compile_once_per_shape_and_never_again(tiny_cfg, experiment, monkeypatch):
    # Dynamo decides what to (re)compile; the "eager" backend skips inductor's C++ build (minutes on a CPU).
    compile_module = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: compile_module(self, *a, backend="eager", **k))
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    cfg = tiny_cfg("model.compile=true", "trainer.max_epochs=3", "trainer.num_sanity_val_steps=1",
                   *(["model.discriminator.channels=8"] if experiment == "gan_lrelu" else []), experiment=experiment)
    model, data = instantiate(cfg.model, _convert_="all"), instantiate(cfg.data, _convert_="all")
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None]  # the image grid included
    record = GraphsPerEpoch()
    instantiate(cfg.trainer, callbacks=[*callbacks, record], logger=False).fit(model, datamodule=data)
    assert record.graphs == [EXPECTED_GRAPHS[experiment]] * 3
    assert cfg.data.eval_batch_size != callbacks[[type(c).__name__ for c in callbacks].index("ValidationImageGrid")].num_images
