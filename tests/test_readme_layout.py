"""README.md's layout table lists every top-level module and every folder of the package, and
nothing that is not there (a folder's own modules are said in a line, not listed)."""

from __future__ import annotations

import re

from helpers.configs import REPO


def listed_entries() -> set[str]:
    block = REPO.joinpath("README.md").read_text().split("## Layout", 1)[1].split("```")[1]
    found = set()
    for line in block.splitlines():
        match = re.match(r"^ {2}(\S+)", line)
        if match and (match.group(1).endswith(".py") or match.group(1).endswith("/")):
            found.add(match.group(1))
    return found


def test_the_layout_table_matches_the_package():
    package = REPO / "colorgan"
    entries = {p.name for p in package.glob("*.py") if p.name != "__init__.py"}
    entries |= {f"{p.parent.name}/" for p in package.glob("*/__init__.py")}
    assert listed_entries() == entries


def test_the_top_level_holds_about_15_modules_and_none_is_over_400_lines():
    package = REPO / "colorgan"
    assert len(list(package.glob("*.py"))) <= 15
    long = {str(p.relative_to(package)): n for p in package.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
