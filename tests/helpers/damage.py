"""A checkpoint damaged as a failing disk or a bad copy damages one: one byte flipped inside its
largest tensor, so torch.load still reads it (torch's zip reader checks no CRCs) and only a
checksum can tell."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path


def flip_byte_in_largest_tensor(source: Path, target: Path) -> Path:
    """Copy `source` to `target` with one byte of its largest record (a tensor) inverted."""
    shutil.copyfile(source, target)
    with zipfile.ZipFile(target) as archive:
        largest = max(archive.infolist(), key=lambda info: info.file_size)
    with open(target, "r+b") as f:
        f.seek(largest.header_offset + 26)  # the local header's name and extra-field lengths
        name_length, extra_length = (int.from_bytes(f.read(2), "little") for _ in range(2))
        at = largest.header_offset + 30 + name_length + extra_length + largest.file_size // 2
        f.seek(at)
        byte = f.read(1)[0]
        f.seek(at)
        f.write(bytes([byte ^ 0xFF]))
    return target
