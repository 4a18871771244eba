"""The error every data module raises for data a user must fix (missing, unreadable, corrupt,
unsafe), and the permission check they share: one message style for CIFAR-10, image folders and
the report's test images."""

from __future__ import annotations

import os
from pathlib import Path

from colorgan.errors import UserError


class DatasetError(UserError, RuntimeError):
    """A dataset is missing or unreadable; the message says which file and what to do."""


def permission_denied(path: Path) -> DatasetError:
    return DatasetError(
        f"Permission denied: this user cannot read {path}. Make it readable (e.g. `chmod -R u+rX {path}`), "
        "or point the data setting at a copy you can read. The data itself is not at fault."
    )


def folder_exists(folder: Path) -> bool:
    """Path.is_dir(), except that a folder this user may not list is a DatasetError saying so."""
    try:
        if not folder.is_dir():
            return False
        os.listdir(folder)
    except PermissionError:
        raise permission_denied(folder) from None
    return True
