"""colorgan: colorize black-and-white photos with a U-Net or a conditional GAN.

`from colorgan import Colorizer; Colorizer.from_checkpoint(path)(image)` colorizes a photo;
the import is lazy so that `import colorgan.<module>` stays as light as that module.
"""

from __future__ import annotations

from colorgan.system.threads import configure_openmp

OPENMP_SETUP = configure_openmp()  # before torch is imported: libgomp reads it once (colorgan/system/threads.py)

__all__ = ["Colorizer"]


def __getattr__(name: str):
    if name == "Colorizer":
        from colorgan.inference import Colorizer

        return Colorizer
    raise AttributeError(f"module 'colorgan' has no attribute {name!r}")
