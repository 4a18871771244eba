"""Every file colorgan writes goes through colorgan.system.atomic_io (write_text, atomic_path, or
image_io.save_image, which uses it): a reader never sees half a file. A grep of the package finds no
other way of writing one, apart from the few listed below with the reason each must write in place."""

from __future__ import annotations

import re
from pathlib import Path

import colorgan

PACKAGE = Path(colorgan.__file__).parent
ATOMIC_IO = PACKAGE / "system" / "atomic_io.py"
# A plain write: Path.write_text/write_bytes, or open()/Path.open()/os.fdopen() for writing or appending.
PLAIN_WRITE = re.compile(
    r"\.write_text\(|\.write_bytes\("
    r"|(?:\bopen|\.open|fdopen)\([^)]*[\"'][wax]b?\+?[\"']"
)

# (file under colorgan/, text on the line) -> why it writes in place.
WRITES_IN_PLACE = {
    ("runs/devices.py", 'open(lock_dir / f"slot_{index}.lock", "w")'):
        "a flock lock file: the open handle is the lock, its content is never read",
    ("runs/run_lock.py", 'os.fdopen(fd, "w")'):
        "the run's lock is created with O_CREAT | O_EXCL, which is what makes the claim exclusive; a rename "
        "would replace another process's claim",
    ("data/cifar10.py", 'open(archive, "wb")'):
        "streams the download into a temporary folder, which is moved into place whole once verified",
    ("bench/bare.py", 'Path("/proc/self/clear_refs").write_text("5")'):
        "a kernel control file (resets the peak RSS), not a file colorgan keeps",
    ("bench/hint_page.py", 'open(log, "w")'):
        "the page server's output while the benchmark runs, in a temporary folder removed at its end",
}


def plain_writes() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if path == ATOMIC_IO:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not PLAIN_WRITE.search(line):
                continue
            if "atomic_path(" in line:  # `with atomic_path(target) as tmp, open(tmp, "w") as f:` writes the temporary
                continue
            if any(relative.as_posix() == where and text in line for where, text in WRITES_IN_PLACE):
                continue
            found.append((relative.as_posix(), number, line.strip()))
    return found


def test_no_file_is_written_but_through_atomic_io():
    found = plain_writes()
    assert not found, "write these through colorgan.system.atomic_io (write_text or atomic_path):\n" + "\n".join(
        f"  colorgan/{where}:{number}: {line}" for where, number, line in found
    )


def test_every_allowed_in_place_write_is_still_there():
    """An allow-list entry whose line has gone is removed, so that it cannot excuse a new write."""
    for where, text in WRITES_IN_PLACE:
        assert text in (PACKAGE / where).read_text(), f"colorgan/{where} no longer has {text!r}: remove its entry"


def test_the_check_finds_plain_writes():
    lines = ['path.write_text("x")', 'path.write_bytes(b"x")', 'with open(path, "w") as f:',
             "with open(path, 'ab') as f:", 'with path.open("w") as f:', 'os.fdopen(fd, "w+")']
    assert all(PLAIN_WRITE.search(line) for line in lines)
    assert not any(PLAIN_WRITE.search(line) for line in ['open(path, "rb")', "path.read_text()", "write_text(path, x)"])
