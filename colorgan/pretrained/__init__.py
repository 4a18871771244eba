"""The photo colorizer shipped inside the package: `Colorizer.pretrained()`, and what
`python -m colorgan.colorize photo.jpg -o out/` uses when no checkpoint is given.

This folder holds `photo.pt` (a packed checkpoint: fp16 generator weights, hyper-parameters,
training size; `python -m colorgan.pretrained pack CKPT` writes it), `photo.sha256` (its
checksum, `sha256sum -c` format) and `MODEL_CARD.md`; `base/` the same three files of the automatic
model it was fine-tuned from, the photo experiments' warm start (`${base_model:}`). See
colorgan.pretrained.bundle.
"""

from colorgan.pretrained.bundle import (
    CHECKSUM_NAME,
    ENV_DIR,
    WEIGHTS_NAME,
    PretrainedError,
    base_model_dir,
    pretrained_dir,
    verified_weights,
)

__all__ = ["CHECKSUM_NAME", "ENV_DIR", "WEIGHTS_NAME", "PretrainedError", "base_model_dir", "pretrained_dir", "verified_weights"]
