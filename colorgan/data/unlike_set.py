"""The 434 photos unlike the training set (docs/photos.md, "Photos unlike the training set"), made
again from their public sources:

    python -m colorgan.data.unlike_set --bsds BSDS500/data/images --kodak testsets/Kodak24 \\
        --mcmaster testsets/McMaster --set5 CSet5 --set14 CSet14 --sunhays CSun_Hays80 -o photos/unlike

Each photo is resized so its shorter side is 256 px and kept only if in colour (colorgan.data.photo_copies'
rule), saved as PNG (lossless: these are the truth a model is judged on) named by its source's prefix:
bsds_ (BSDS500 test/ and val/, not train/), kodak_, mcm_, set5_, set14_, sunhays_. Set5 and Set14
are their colour versions, less the photos that are not photos or are another one again: Set14's
comic (a drawing), ppt3 (a screenshot), lenna, and face (Set5's head); Set5's butterfly (a crop of
Set14's monarch). Set14's bridge and man are gray and fall to the colour rule.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from colorgan.data.errors import DatasetError, folder_exists
from colorgan.data.images import open_rgb
from colorgan.data.photo_copies import is_colour, resized, save_copy
from colorgan.errors import user_command
from colorgan.image_io import ImageReadError, find_images


@dataclass(frozen=True)
class Source:
    flag: str  # the command-line option naming its folder
    prefix: str  # of each file name in the unlike set
    what: str  # the folder the option expects, for the help and the errors
    expected: int  # photos it gives to docs/photos.md's set
    subfolders: tuple[str, ...] = ()  # read these sub-folders of the given folder, else the folder itself
    left_out: frozenset[str] = frozenset()  # file stems that are not photos or repeat another source's


SOURCES = (
    Source("bsds", "bsds", "BSDS500's data/images folder, holding test/ and val/ (BIDS/BSDS500)", 300,
           subfolders=("test", "val")),
    Source("kodak", "kodak", "the Kodak24 folder (testsets/Kodak24 of cszn/FFDNet)", 24),
    Source("mcmaster", "mcm", "the McMaster folder (testsets/McMaster of cszn/FFDNet)", 18),
    Source("set5", "set5", "the colour Set5 folder, CSet5 (majedelhelou/denoising_datasets)", 4,
           left_out=frozenset({"butterfly"})),
    Source("set14", "set14", "the colour Set14 folder, CSet14 (majedelhelou/denoising_datasets)", 8,
           left_out=frozenset({"comic", "ppt3", "lenna", "face"})),
    Source("sunhays", "sunhays", "the colour Sun-Hays80 folder, CSun_Hays80 (majedelhelou/denoising_datasets)", 80),
)


def source_photos(source: Source, folder: Path) -> list[Path]:
    """The photos of one source, checked to be where its folder keeps them, less its left-out ones."""
    folders = [folder / sub for sub in source.subfolders] or [folder]
    for where in folders:
        if not folder_exists(where) or not find_images(where):
            raise DatasetError(f"No photos in {where}: --{source.flag} is {source.what}.")
    return [p for where in folders for p in find_images(where) if p.stem not in source.left_out]


def build(folders: dict[str, Path], out: Path) -> dict[str, int]:
    """Write the unlike set from each source's folder into `out`; photos kept per prefix."""
    chosen = {source: source_photos(source, folders[source.flag]) for source in SOURCES}
    names = {f"{source.prefix}_{p.stem}.png" for source, photos in chosen.items() for p in photos}
    strangers = sorted(p.name for p in find_images(out) if p.name not in names) if folder_exists(out) else []
    if strangers:
        raise DatasetError(f"{out} holds photos that are not of the unlike set ({len(strangers)}, e.g. {strangers[0]}): "
                           "give a new folder, or an empty one.")
    kept = {}
    for source, photos in chosen.items():
        kept[source.prefix] = 0
        for photo in photos:
            try:
                image = resized(open_rgb(photo))
            except ImageReadError as err:
                raise DatasetError(f"Cannot read {photo}: {err}.") from None
            if is_colour(image):
                save_copy(image, out / f"{source.prefix}_{photo.stem}.png")
                kept[source.prefix] += 1
        if not kept[source.prefix]:
            raise DatasetError(f"Every photo of --{source.flag} {folders[source.flag]} is gray: "
                               f"it is {source.what}.")
    return kept


@user_command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.data.unlike_set", description=__doc__.split("\n\n")[0])
    for source in SOURCES:
        parser.add_argument(f"--{source.flag}", type=Path, required=True, help=source.what)
    parser.add_argument("-o", "--out", type=Path, required=True, help="the folder to write the photos to")
    args = parser.parse_args(argv)
    kept = build({source.flag: getattr(args, source.flag) for source in SOURCES}, args.out)
    said = ", ".join(f"{prefix}_ {count}" for prefix, count in kept.items())
    print(f"{args.out}: {sum(kept.values())} colour photos at 256 px ({said}).")
    expected = {source.prefix: source.expected for source in SOURCES}
    if kept != expected:
        print(f"warning: docs/photos.md's unlike set has {sum(expected.values())} "
              f"({', '.join(f'{p}_ {n}' for p, n in expected.items())}): these sources are not the ones it names.",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
