"""Library noise that buries colorgan's own messages, silenced where colorgan's commands start
(never at import, so a program that imports colorgan keeps its own settings). Each filter names
the one message it drops; everything else still reaches the user.
"""

from __future__ import annotations

import logging
import warnings

# Lightning's info lines that advertise or explain nothing about this run.
_LIGHTNING_LINES = (
    "litlogger",  # "Tip: For seamless cloud logging ... install litlogger"
    "litmodels",  # "Tip: For seamless cloud uploads and versioning, try installing litmodels"
    "Trainer already configured with model summary callbacks",  # colorgan's summary replaces Lightning's
)
_RANK_ZERO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


class _DropLines(logging.Filter):
    def __init__(self, fragments: tuple[str, ...]) -> None:
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(fragment in message for fragment in self.fragments)


def silence_library_noise() -> None:
    """Drop the known noise of torch, Lightning and the ONNX exporter (idempotent)."""
    # torch 2.13 deprecates a LeafSpec check that Lightning's _pytree still makes at every fit.
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning)
    # An ImageNet encoder's frozen levels stay in eval mode on purpose (colorgan.nets.encoder_unet).
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training")
    for name in _RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLines) for f in logger.filters):
            logger.addFilter(_DropLines(_LIGHTNING_LINES))
    # A resumed run saves into its own checkpoints/ folder, which is why it is not empty; a new run is never
    # started in a folder with checkpoints (colorgan.config_validation refuses it).
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    # The GAN steps its optimizers by hand; last.ckpt is meant to hold the state after the step (resume
    # continues from it), which is what Lightning warns it will save.
    warnings.filterwarnings("ignore", message=r"Using ModelCheckpoint with manual optimization and every_n_train_steps")
    # Testing a checkpoint (retest, the test after fit) restores weights, not the callbacks that saved it;
    # their states matter to a resumed fit only, which passes them.
    warnings.filterwarnings("ignore", message=r"Be aware that when using `ckpt_path`, callbacks used to create")
    # The ONNX exporter lists torchvision operators it skips; colorgan uses none of them.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
