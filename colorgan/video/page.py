"""The web page's video section (colorgan.app): upload a short clip, get it back in colour with its
sound. Clips are held to MAX_CLIP_SECONDS and MAX_CLIP_PIXELS a frame, which the page states: a
request runs while the page waits, at a few frames/s on a CPU (BENCHMARKS.md, "video")."""

from __future__ import annotations

from pathlib import Path

from colorgan.errors import UserError
from colorgan.inference import Colorizer
from colorgan.video.pipeline import colorize_video
from colorgan.video.stabilize import Stabilizer, colour_memory
from colorgan.video.streams import RAISE_LIMIT, open_video

MAX_CLIP_SECONDS = 20.0
MAX_CLIP_PIXELS = 1280 * 720
LIMIT = f"at most {MAX_CLIP_SECONDS:.0f} s and 1280x720 (720p) a frame"


def colorize_clip(colorizer: Colorizer, upload: str | Path, output_dir: Path) -> tuple[Path | None, str]:
    """Colorize one uploaded clip into `output_dir`: (the MP4, a line saying what was done), or
    (None, an `error: NAME: ...` line) when it cannot be colorized or is over the page's limits."""
    upload = Path(upload)
    try:
        container, info = open_video(upload, MAX_CLIP_PIXELS)
        container.close()
        if info.duration > MAX_CLIP_SECONDS:
            raise UserError(f"{upload}: {info.duration:.1f} s long; the page takes clips of {LIMIT}. "
                            "Cut it, or colorize it with python -m colorgan.colorize, which takes any length")
        output = output_dir / f"{upload.stem}_colorized.mp4"
        result = colorize_video(colorizer, upload, output, stabilizer=Stabilizer(), memory=colour_memory(),
                                max_frame_pixels=MAX_CLIP_PIXELS)
    except UserError as error:
        text = str(error).replace(str(upload), upload.name).replace(RAISE_LIMIT, f" (the page takes {LIMIT})")
        return None, f"error: {text}"
    notes = "".join(f"; {note}" for note in result.notes)
    return output, (f"{upload.name}: {result.frames} frames ({info.width}x{info.height}, {float(info.rate):.3g} "
                    f"frames/s, {'with' if info.audio else 'no'} sound) colorized in {result.seconds:.1f} s{notes}")


def add_video_section(gr, colorizer: Colorizer, new_folder, remove_folder, keep_s: float) -> None:
    """A row of the page (inside its gr.Blocks): clip upload, button, colour clip, message. Each
    request writes into `new_folder(previous)` (the session's previous folder goes); the session's
    folder is removed by `remove_folder` when the session ends (the page's own rules, colorgan.app)."""
    gr.Markdown(f"## A short film\nUpload a clip ({LIMIT}); it comes back in colour, frame-stable, with "
                "its sound. Longer films: `python -m colorgan.colorize film.mp4 -o out/`.")
    with gr.Row():
        with gr.Column(scale=1):
            clip = gr.Video(label=f"Clip ({LIMIT})", sources=["upload"], elem_id="clip")
            button = gr.Button("Colorize the clip", variant="primary", elem_id="colorize-clip")
            message = gr.Textbox(label="Messages", lines=2, interactive=False, elem_id="clip-messages")
        with gr.Column(scale=2):
            colour = gr.Video(label="Colour", interactive=False, elem_id="clip-colour")
    request = gr.State({"dir": None}, time_to_live=keep_s, delete_callback=remove_folder)

    def colorize(upload, previous):
        if not upload:
            remove_folder(previous)
            return None, "error: no clip uploaded; choose a video file", {"dir": None}
        output_dir = new_folder(previous)
        output, line = colorize_clip(colorizer, upload, output_dir)
        return (str(output) if output else None), line, {"dir": str(output_dir)}

    button.click(colorize, [clip, request], [colour, message, request])
