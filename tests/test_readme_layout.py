"""README.md's layout table lists every module of the package, and nothing that is not there."""

from __future__ import annotations

import re

from helpers.configs import REPO


def listed_modules() -> set[str]:
    block = REPO.joinpath("README.md").read_text().split("## Layout", 1)[1].split("```")[1]
    found, folder = set(), ""
    for line in block.splitlines():
        match = re.match(r"^( {2,4})(\S+)", line)
        if not match:
            continue
        indent, name = len(match.group(1)), match.group(2)
        if name.endswith("/"):
            folder = name if indent == 2 else folder
        elif name.endswith(".py"):
            found.add(f"{folder}{name}" if indent == 4 else name)
    return found


def test_the_layout_table_matches_the_package():
    package = REPO / "colorgan"
    modules = {str(p.relative_to(package)) for p in package.rglob("*.py") if p.name != "__init__.py"}
    assert listed_modules() == modules
