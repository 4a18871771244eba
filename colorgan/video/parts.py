"""A film is written in parts, so a stopped run resumes where it stopped: the same command again
colorizes only what was not done, and a two-hour film survives Ctrl-C, SIGTERM, a kill or a reboot.

    OUTPUT/.NAME.mp4.parts/
        settings.json         what the parts were made from (the input file's size and time, the
                              model's weights, the options that change the pictures); a run with
                              other settings starts afresh
        000000.mp4            a finished part: PART_SECONDS (or more, to the end of a batch) of
                              colorized frames, H.264, no sound; made durable before the next
        000000.state.pt       written after it: the frames done so far and the state (clock,
                              stabilizer, colour memory) after its last frame, so the next part
                              goes on exactly as an unbroken run would
        .000001.mp4.PID.tmp   the part being written; a dead process's is removed by the next run

At the end the parts are joined with the input's sound (streams.join) into NAME.mp4 and the folder
is removed. A failure (not an interruption) removes the folder too: nothing is left.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from fractions import Fraction
from pathlib import Path

import torch

from colorgan.system.atomic_io import atomic_path, fsync_dir, remove_dead_temporaries, temporary_beside, write_text
from colorgan.video.mp4 import VideoWriter, WriteError, writing

PART_SECONDS = 60.0  # of film a part holds: at most this much colorizing is redone after a stop


def weights_digest(net: torch.nn.Module) -> str:
    """sha256 of a network's weights (a few ms for the shipped model): which model made the parts."""
    digest = hashlib.sha256()
    for name, tensor in net.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def folder_of(output: Path) -> Path:
    return output.with_name(f".{output.name}.parts")


class Part:
    """One part being written: a VideoWriter on a temporary file inside the parts folder."""

    def __init__(self, path: Path, width: int, height: int, rate: Fraction, time_base: Fraction) -> None:
        self.path, self.tmp = path, temporary_beside(path)
        self.writer = VideoWriter(self.tmp, width, height, rate, time_base)
        self.first: int | None = None  # time of its first frame

    def write(self, rgb, pts: int) -> None:
        if self.first is None:
            self.first = pts
        self.writer.write(rgb, pts)

    def discard(self) -> None:
        self.writer.abandon()
        self.tmp.unlink(missing_ok=True)


class Parts:
    """The parts folder of `output` (module docstring)."""

    def __init__(self, output: Path, settings: dict) -> None:
        self.output, self.folder, self.settings = output, folder_of(output), settings
        self.files: list[Path] = []

    def resume(self) -> dict | None:
        """The state after the last finished part of a stopped run with the same settings (its parts
        in self.files), or None: then any other run's parts are removed and the folder is new."""
        if self.folder.is_dir():
            remove_dead_temporaries(self.folder)
            try:
                same = json.loads((self.folder / "settings.json").read_text()) == self.settings
            except (OSError, ValueError):
                same = False
            if same:
                state = None
                for index in range(len(os.listdir(self.folder))):
                    part, saved = self.part(index), self.folder / f"{index:06d}.state.pt"
                    if not (part.is_file() and saved.is_file()):
                        break
                    try:
                        state = torch.load(saved, map_location="cpu", weights_only=True)
                    except Exception:  # a state cut short by a crash: that part is redone
                        break
                    self.files.append(part)
                if state is not None:
                    return state
            self.files = []
            self.remove()
        try:
            self.folder.mkdir(parents=True)
            write_text(self.folder / "settings.json", json.dumps(self.settings, indent=1, sort_keys=True))
        except OSError as error:
            raise writing(self.folder, error) from None
        return None

    def part(self, index: int) -> Path:
        return self.folder / f"{index:06d}.mp4"

    def start(self, width: int, height: int, rate: Fraction, time_base: Fraction) -> Part:
        return Part(self.part(len(self.files)), width, height, rate, time_base)

    def finish(self, part: Part, state: dict) -> None:
        """Close the part, make it durable, then write the state that says it is done."""
        part.writer.close()
        try:
            with open(part.tmp, "rb") as written:
                os.fsync(written.fileno())
            os.replace(part.tmp, part.path)
            with atomic_path(self.folder / f"{part.path.stem}.state.pt") as tmp:
                torch.save(state, tmp)
            fsync_dir(self.folder)
        except OSError as error:
            part.tmp.unlink(missing_ok=True)
            raise WriteError(f"cannot write {part.path}: {error.strerror or error}") from None
        self.files.append(part.path)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
