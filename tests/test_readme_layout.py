"""README.md's layout table lists every top-level module and every folder of the package, and
nothing that is not there (a folder's own modules are said in a line, not listed); the table's
order is the layering: each entry imports only the entries below it."""

from __future__ import annotations

import ast
import re

from helpers.configs import REPO

PACKAGE = REPO / "colorgan"


def listed_entries() -> list[str]:
    """The package's entries in the table's order, top (commands) to bottom (the ground)."""
    block = REPO.joinpath("README.md").read_text().split("## Layout", 1)[1].split("```")[1]
    found = []
    for line in block.splitlines():
        match = re.match(r"^ {2}(\S+)", line)
        if match and (match.group(1).endswith(".py") or match.group(1).endswith("/")):
            found.append(match.group(1))
    return found


def entry_of(module: str) -> str | None:
    """The table entry holding `colorgan.X[.Y...]`; None for the package itself and its own names
    (`from colorgan import Colorizer`)."""
    parts = module.split(".")
    if parts[0] != "colorgan" or len(parts) == 1:
        return None
    if (PACKAGE / parts[1]).is_dir():
        return f"{parts[1]}/"
    return f"{parts[1]}.py" if (PACKAGE / f"{parts[1]}.py").is_file() else None


def imported_entries(path) -> set[str]:
    """Every entry a file imports, at the top or inside a function (`from colorgan import x` counts x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {entry_of(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "colorgan":
                found |= {entry_of(f"colorgan.{alias.name}") for alias in node.names}
            else:
                found.add(entry_of(node.module))
    return found - {None}


def test_the_layout_table_matches_the_package():
    package = REPO / "colorgan"
    entries = {p.name for p in package.glob("*.py") if p.name != "__init__.py"}
    entries |= {f"{p.parent.name}/" for p in package.glob("*/__init__.py")}
    assert sorted(listed_entries()) == sorted(entries)


def package_imports() -> list[tuple[str, str]]:
    """(entry, entry it imports) for every import of every module but the package's own __init__
    (its lazy `Colorizer` and threads set-up)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue
        relative = path.relative_to(PACKAGE)
        entry = f"{relative.parts[0]}/" if len(relative.parts) > 1 else relative.name
        found += [(entry, imported) for imported in imported_entries(path) - {entry}]
    return found


def test_each_entry_imports_only_the_entries_below_it():
    order = listed_entries()
    upward = [f"{entry} imports {imported}, which the table puts above it"
              for entry, imported in package_imports() if order.index(imported) < order.index(entry)]
    assert not upward, "\n".join(upward)


def test_nothing_imports_a_top_level_command():
    block = REPO.joinpath("README.md").read_text().split("## Layout", 1)[1].split("```")[1]
    commands = set(re.findall(r"^ {2}(\w+\.py) +python -m colorgan\.", block, flags=re.M))
    assert {"train.py", "colorize.py", "app.py", "evaluate.py"} <= commands
    assert not [(entry, imported) for entry, imported in package_imports() if imported in commands]


def test_the_top_level_holds_about_15_modules_and_none_is_over_400_lines():
    package = REPO / "colorgan"
    assert len(list(package.glob("*.py"))) <= 15
    long = {str(p.relative_to(package)): n for p in package.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_every_code_block_in_the_docs_opens_and_closes_on_lines_of_its_own():
    """A closing fence with prose after it (```` ``` Peak memory ````) renders the rest of the page
    as code: every fence is a line that is only backticks and, when opening, a language name."""
    for page in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        fences = [line for line in page.read_text().splitlines() if line.lstrip().startswith("```")]
        bad = [line for line in fences if not re.fullmatch(r"\s*```[\w+-]*\s*", line)]
        assert not bad, f"{page.relative_to(REPO)}: fence with text after it: {bad}"
        assert len(fences) % 2 == 0, f"{page.relative_to(REPO)}: a code block is never closed"
