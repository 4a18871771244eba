"""The `colorgan` command, which `pip install` puts on the PATH (`python -m colorgan` is the same):
`colorgan COMMAND [ARGS ...]` runs `python -m colorgan.COMMAND [ARGS ...]`, exactly as that would.

    colorgan colorize photo.jpg                 # colorized/photo.jpg, with the shipped photo colorizer
    colorgan train +experiment=gan_lrelu        # any Hydra overrides
    colorgan app                                # the web page
"""

from __future__ import annotations

import runpy
import sys

from colorgan.errors import EXIT_USER_ERROR

COMMANDS = {  # COMMAND: what `python -m colorgan.COMMAND` does
    "train": "train a colorizer, run a sweep, resume a run (Hydra overrides; --help)",
    "colorize": "colorize photos, folders or a video (default: the shipped photo colorizer)",
    "app": "the web page: upload photos, compare gray and colour, download",
    "evaluate": "metrics of a colorizer on a folder of colour photos, beside the grayscale baseline",
    "export": "export a colorizer to ONNX",
    "report": "compare finished runs: report.md, comparison.png, learning_curves.png",
    "retest": "test another checkpoint of a run into a folder of its own",
    "bench": "training speed against a bare PyTorch loop",
    "bench.threads": "which OpenMP waiting suits a shared CPU",
    "bench.colorize": "peak memory of colorizing one large photo",
    "bench.video": "frames/s of colorizing a video, and where the time goes",
    "hints": "a hint model's PSNR, MAE and share beating gray against its number of colour hints",
    "pretrained": "pack or verify the shipped photo colorizer",
    "data.photo_mix": "the shipped photo model's training folder: links to two public photo sets",
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, what in COMMANDS.items()]
    return ("usage: colorgan COMMAND [ARGS ...]   (the same as python -m colorgan.COMMAND [ARGS ...])\n\n"
            "commands:\n" + "\n".join(lines) + "\n\ncolorgan COMMAND --help says what each one takes.")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        sys.exit(0 if argv else EXIT_USER_ERROR)
    name, *args = argv
    if name not in COMMANDS:
        print(f"error: colorgan has no command {name!r}; the commands are {', '.join(COMMANDS)} (colorgan --help).",
              file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    sys.argv = [f"colorgan {name}", *args]  # runpy puts the module's file first, as python -m does
    runpy.run_module(f"colorgan.{name}", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
