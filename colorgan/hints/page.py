"""The web page's hint section (colorgan.app, shown for a hint model): upload a photo, click on its
colour output where the colour is wrong, pick the colour it should be, and see the photo follow;
undo a hint, start again, download. Each answer goes through colorize's engine with the hints as
typed values (colorgan.inference.hints.Hint), so the page and `--hint` give the same photo.

No `from __future__ import annotations` here: Gradio reads the click handler's `gr.SelectData`
annotation as an object to know that it wants the click's event data."""

import re
from pathlib import Path

from colorgan.errors import UserError
from colorgan.image_io import DEFAULT_MAX_PIXELS
from colorgan.inference import ColorizeEngine, ColorizeOptions, Colorizer, Hint
from colorgan.inference.hints import parse_colour

DEFAULT_COLOUR = "#c0392b"


def picked_rgb(value: str) -> tuple[int, int, int]:
    """gr.ColorPicker's value ('#rrggbb', or 'rgba(r, g, b, a)' with fractions) -> (r, g, b) 0-255."""
    numbers = re.fullmatch(r"\s*rgba?\(([^)]*)\)\s*", value or "")
    if numbers:
        r, g, b = (round(float(n)) for n in numbers.group(1).split(",")[:3])
        return r, g, b
    return parse_colour(value or "")


def colorize_with_hints(colorizer: Colorizer, upload: str | Path, hints: list[Hint], output_dir: Path,
                        max_pixels: int | None = DEFAULT_MAX_PIXELS, min_side: int = 8,
                        hint_edges: bool = False) -> tuple[Path | None, str]:
    """One upload colorized after its hints into `output_dir`: (the output, a line saying what was
    done), or (None, an `error: NAME: ...` line, colorize's wording). `hint_edges` as colorize's."""
    upload = Path(upload)
    failures: list[str] = []
    options = ColorizeOptions(max_pixels=max_pixels, min_side=min_side, hints=tuple(hints), hint_edges=hint_edges)
    try:
        engine = ColorizeEngine(colorizer, options, lambda path, why: failures.append(why))
        jobs = engine.plan([(upload, Path(f"{upload.stem}_colorized{upload.suffix}"))], output_dir)
        engine.process(jobs)
    except UserError as error:
        return None, f"error: {upload.name}: {str(error).replace(str(upload), upload.name)}"
    if failures or not jobs or not jobs[0].done:
        return None, f"error: {upload.name}: {failures[0] if failures else 'not colorized'}"
    return jobs[0].output, f"{upload.name}: colorized with {len(hints)} hint(s)"


def describe(hints: list[Hint]) -> str:
    return "\n".join(f"{i + 1}. x={h.x:g}, y={h.y:g}: #{''.join(f'{v:02x}' for v in h.rgb)}" for i, h in enumerate(hints))


def add_hint_section(gr, colorizer: Colorizer, new_folder, remove_folder, keep_s: float,
                     max_pixels: int | None = DEFAULT_MAX_PIXELS, min_side: int = 8) -> None:
    """A row of the page (inside its gr.Blocks) for a hint model. Each answer writes into
    `new_folder(previous)` (the session's previous folder goes); `remove_folder` removes the
    session's folder when it ends (the page's own rules, colorgan.app)."""
    gr.Markdown("## Colour hints\nUpload a photo, pick a colour, then click on the colour photo where that "
                "colour belongs: the photo follows. Undo takes the last hint back.")
    with gr.Row():
        with gr.Column(scale=1):
            photo = gr.Image(type="filepath", sources=["upload"], label="Photo", elem_id="hint-photo")
            colour = gr.ColorPicker(value=DEFAULT_COLOUR, label="Hint colour", elem_id="hint-colour")
            edges = gr.Checkbox(value=False, label="Stop each hint's colour at edges (off: as far as the model spreads it)",
                                elem_id="hint-edges")
            with gr.Row():
                undo = gr.Button("Undo the last hint", elem_id="hint-undo")
                clear = gr.Button("Clear the hints", elem_id="hint-clear")
            listed = gr.Textbox(label="Hints (x, y in the photo's pixels)", lines=3, interactive=False,
                                elem_id="hint-list")
            message = gr.Textbox(label="Messages", lines=2, interactive=False, elem_id="hint-messages")
        with gr.Column(scale=2):
            result = gr.Image(type="filepath", label="Colour: click to place a hint", interactive=False,
                              elem_id="hint-result")
            download = gr.File(label="Colorized photo, full resolution", interactive=False, elem_id="hint-download")
    state = gr.State({"dir": None, "hints": []}, time_to_live=keep_s, delete_callback=remove_folder)

    def answer(upload, hints: list[Hint], previous, at_edges: bool):
        if not upload:
            remove_folder(previous)
            return None, None, "", "error: no photo uploaded; choose an image file", {"dir": None, "hints": []}
        output_dir = new_folder(previous)
        output, line = colorize_with_hints(colorizer, upload, hints, output_dir, max_pixels, min_side, bool(at_edges))
        shown = str(output) if output else None
        return shown, shown, describe(hints), line, {"dir": str(output_dir), "hints": hints}

    def place(upload, picked, shown, at_edges, evt: gr.SelectData):
        try:
            hint = Hint(float(evt.index[0]), float(evt.index[1]), picked_rgb(picked))
        except UserError as error:
            return gr.update(), gr.update(), gr.update(), f"error: {error}", shown
        return answer(upload, [*shown["hints"], hint], shown, at_edges)

    outputs = [result, download, listed, message, state]
    photo.change(lambda upload, shown, at_edges: answer(upload, [], shown, at_edges), [photo, state, edges], outputs)
    result.select(place, [photo, colour, state, edges], outputs)
    undo.click(lambda upload, shown, at_edges: answer(upload, shown["hints"][:-1], shown, at_edges), [photo, state, edges], outputs)
    clear.click(lambda upload, shown, at_edges: answer(upload, [], shown, at_edges), [photo, state, edges], outputs)
    edges.change(lambda upload, shown, at_edges: answer(upload, shown["hints"], shown, at_edges) if upload else
                 (gr.update(), gr.update(), gr.update(), gr.update(), shown), [photo, state, edges], outputs)
