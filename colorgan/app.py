"""A web page to colorize photos: `python -m colorgan.app [CHECKPOINT] [--host 127.0.0.1] [--port 7860]`.

Upload one or several photos, see each one's gray input and colour output on a before/after
slider, download the colorized files at full resolution, choose the working size the network
sees. Built with Gradio (`pip install -e .[app]`), the convention of published colorizer demos,
with its upload, slider and download widgets. Photos go through the engine the colorize command
also runs (colorgan.inference.engine: its reader, its checks, its messages), so a bad upload gets
the line `python -m colorgan.colorize` would print, on the page, and the server keeps running. The page binds to 127.0.0.1 unless `--host` says otherwise.

Files: each request writes into its own folder of one `colorgan-app-*` temporary folder. A session's
folder is removed when its next request replaces it on the page or the session ends (the tab is
closed), any folder after an hour, and the whole temporary folder when the server stops (Ctrl-C or
SIGTERM). Gradio keeps its own copies of what the page shows in its cache, deleted on the same clock.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from colorgan.errors import UserError, exit_on_user_error
from colorgan.hints.page import add_hint_section
from colorgan.image_io import DEFAULT_MAX_PIXELS
from colorgan.inference import ColorizeEngine, ColorizeOptions, Colorizer, open_colorizer
from colorgan.quiet import silence_library_noise
from colorgan.video.animation import colorize_animation
from colorgan.video.page import add_video_section

DEFAULT_HOST = "127.0.0.1"  # this machine only; --host 0.0.0.0 serves the network
MAX_WORKING_SIZE = 1024
KEEP_RESULTS_S = 3600  # a request's files are deleted after an hour (Gradio keeps its own copies as long)
APP_EXTRA = "pip install -e '.[app]'"


@dataclass
class Result:
    """One colorized upload: its name, the gray input and the colour output (full-resolution files)."""

    name: str
    gray: Path
    colour: Path


def colorize_uploads(
    colorizer: Colorizer, uploads: list[str | Path], size: int | None, output_dir: Path,
    max_pixels: int | None = DEFAULT_MAX_PIXELS, min_side: int = 8,
) -> tuple[list[Result], list[str]]:
    """Colorize uploaded files into `output_dir` at working size `size` (None: the model's), with
    colorize's engine; each photo's gray input is written into `output_dir`/gray/.

    Returns the results and one message line per upload that failed (colorize's wording)."""
    messages: list[str] = []

    def keep_failure(path: Path, reason: str) -> None:
        messages.append(f"error: {Path(path).name}: {reason}")

    options = ColorizeOptions(gray=True, max_pixels=max_pixels, min_side=min_side)
    engine = ColorizeEngine(colorizer.at_size(size), options, keep_failure, animate=colorize_animation)
    inputs = [(Path(p), Path(f"{Path(p).stem}_colorized{Path(p).suffix}")) for p in uploads]
    jobs = engine.plan(inputs, output_dir)
    engine.process(jobs)
    return [Result(job.source.name, job.gray, job.output) for job in jobs if job.done], messages


def prune(work_dir: Path, older_than_s: float = KEEP_RESULTS_S) -> None:
    """Delete the request folders older than `older_than_s`, so a long-running page does not fill the disk."""
    cutoff = time.time() - older_than_s
    for folder in work_dir.glob("request-*"):
        if folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


def request_dir(work_dir: Path, previous: dict | None) -> Path:
    """A new folder for this request; the session's previous one goes (the page no longer shows it),
    and so does any folder older than KEEP_RESULTS_S."""
    remove_request(previous)
    prune(work_dir)
    return Path(tempfile.mkdtemp(prefix="request-", dir=work_dir))


def remove_request(shown: dict | None) -> None:
    """Remove a request's folder: the session's state when it is replaced or the session ends."""
    if shown and shown.get("dir"):
        shutil.rmtree(shown["dir"], ignore_errors=True)


def stop_on_sigterm() -> None:
    """SIGTERM as Ctrl-C: Gradio closes its server and `main` removes the temporary folder (Python's
    default for SIGTERM ends the process at once, leaving every request's files behind)."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def summary(results: list[Result], messages: list[str], size: int) -> str:
    done = f"{len(results)} colorized at working size {size} px"
    return "\n".join([*messages, f"{done}, {len(messages)} failed"])


def import_gradio():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home, also offline
    try:
        import gradio
    except ImportError:
        raise UserError(f"the page needs Gradio, which is not installed: {APP_EXTRA}") from None
    return gradio


def build_page(colorizer: Colorizer, work_dir: Path, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               min_side: int = 8):
    """The Gradio page around `colorizer`; each request writes into its own folder of `work_dir`."""
    gr = import_gradio()

    def colorize(uploads, size, chroma, previous):
        if not uploads:
            remove_request(previous)
            return (None, None, "error: no photo uploaded; choose one or more image files", gr.update(choices=[]),
                    {"dir": None, "pairs": []})
        output_dir = request_dir(work_dir, previous)
        results, messages = colorize_uploads(colorizer.with_chroma(chroma), uploads, size, output_dir, max_pixels, min_side)
        pairs = [(r.name, str(r.gray), str(r.colour)) for r in results]
        names = [name for name, _, _ in pairs]
        return ((pairs[0][1], pairs[0][2]) if pairs else None, [str(r.colour) for r in results] or None,
                summary(results, messages, int(size)), gr.update(choices=names, value=names[0] if names else None),
                {"dir": str(output_dir), "pairs": pairs})

    def show(name, shown):
        for listed, gray, colour in (shown or {}).get("pairs", []):
            if listed == name:
                return gray, colour
        return None

    with gr.Blocks(title="colorgan", delete_cache=(KEEP_RESULTS_S, KEEP_RESULTS_S)) as page:
        gr.Markdown(
            "# colorgan: colorize black-and-white photos\n"
            f"Upload one or several photos (colour ones are turned to gray first). Model: "
            f"{colorizer.color_space.name.capitalize()} colorizer trained at "
            f"{'x'.join(map(str, colorizer.train_image_size))} px."
        )
        with gr.Row():
            with gr.Column(scale=1):
                uploads = gr.File(file_count="multiple", label="Photos", elem_id="photos")
                size = gr.Slider(8, MAX_WORKING_SIZE, value=colorizer.size, step=1, elem_id="size",
                                 label="Working size: longer side, in pixels, of what the network sees "
                                       "(the output keeps the photo's size)")
                chroma = gr.Slider(0.0, 2.0, value=colorizer.chroma, step=0.05, elem_id="chroma",
                                   label="Colour: 1 as the model predicts it, higher bolder, lower safer")
                button = gr.Button("Colorize", variant="primary", elem_id="colorize")
                messages = gr.Textbox(label="Messages", lines=3, interactive=False, elem_id="messages")
            with gr.Column(scale=2):
                shown = gr.Dropdown(label="Photo shown", choices=[], elem_id="shown")
                slider = gr.ImageSlider(type="filepath", format="png", label="gray input | colour output",
                                        elem_id="before-after", interactive=False)
                downloads = gr.File(file_count="multiple", label="Colorized photos, full resolution",
                                    elem_id="downloads", interactive=False)
        # The session's request folder and what it shows; removed when the session ends.
        request = gr.State({"dir": None, "pairs": []}, time_to_live=KEEP_RESULTS_S, delete_callback=remove_request)
        button.click(colorize, [uploads, size, chroma, request], [slider, downloads, messages, shown, request])
        shown.change(show, [shown, request], slider)
        if colorizer.takes_hints:  # a hint model (docs/hints.md): click, pick a colour, see the photo follow
            add_hint_section(gr, colorizer, lambda previous: request_dir(work_dir, previous), remove_request,
                             KEEP_RESULTS_S, max_pixels, min_side)
        add_video_section(gr, colorizer, lambda previous: request_dir(work_dir, previous), remove_request,
                          KEEP_RESULTS_S)
    return page


def page_theme(gr):
    """Gradio's default look with system fonts: its own web fonts would be fetched from the internet."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m colorgan.app",
        description="A web page to colorize photos with a colorgan model: upload, compare gray and colour "
        f"on a slider, download at full resolution. Needs Gradio ({APP_EXTRA}).",
    )
    parser.add_argument("checkpoint", type=Path, nargs="?", default=None,
                        help="a .ckpt written by `python -m colorgan.train` (default: the shipped pretrained model)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to serve on (default: {DEFAULT_HOST}, this machine only; 0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps... (default: the best available)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help=f"refuse larger images, a guard against decompression bombs (default: {DEFAULT_MAX_PIXELS:,})")
    parser.add_argument("--min-side", type=int, default=8,
                        help="refuse images whose shorter side is below this many pixels (default: 8)")
    parser.add_argument("--max-upload-mb", type=float, default=100.0, help="largest upload, in MB (default: 100)")
    return parser


def load_colorizer(checkpoint: Path | None, device: str | None) -> Colorizer:
    """The checkpoint's colorizer, or the shipped photo colorizer without one (colorize's loader)."""
    return open_colorizer(checkpoint, device=device)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    silence_library_noise()
    gr = import_gradio()  # before the model loads: a missing extra is said at once
    colorizer = load_colorizer(args.checkpoint, args.device)
    work_dir = Path(tempfile.mkdtemp(prefix="colorgan-app-"))
    stop_on_sigterm()
    try:
        page = build_page(colorizer, work_dir, args.max_pixels, args.min_side)
        print(f"colorgan.app: {colorizer.color_space.name} model on {colorizer.device}; outputs in {work_dir}",
              flush=True)
        try:
            page.queue().launch(server_name=args.host, server_port=args.port, allowed_paths=[str(work_dir)],
                                max_file_size=int(args.max_upload_mb * 1024 * 1024), footer_links=[],
                                theme=page_theme(gr))
        except OSError as error:  # the port is taken, or the address is not this machine's
            raise UserError(f"cannot serve on {args.host}:{args.port}: {error}; choose another --port or --host") from None
        except KeyboardInterrupt:  # stopped while launch() was still starting, before Gradio's own wait loop
            page.close()
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    exit_on_user_error(main)
    sys.exit(0)
