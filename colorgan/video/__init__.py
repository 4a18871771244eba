"""Videos: `python -m colorgan.colorize film.mp4 -o out/` (docs/video.md).

streams.py   PyAV in: probe, batches of upright, timed frames
mp4.py       PyAV out: the H.264 writer, the join of the parts with every audio stream
parts.py     a film written in resumable parts: a stopped run goes on where it stopped
pipeline.py  colorize_video: frames streamed through the network, merged at full resolution
stabilize.py temporal smoothing of predicted colour guided by lightness change; a shot's colour memory
flicker.py   the flicker and drift measures (colour change where lightness stands still; a shot's tint wandering)
command.py   colorize's video options, progress bar and --compare table
page.py      the web page's video section (colorgan.app): a short clip in, in colour out
"""

from colorgan.video.command import add_arguments as add_video_arguments
from colorgan.video.command import colorize_video_file
from colorgan.video.streams import VideoError, is_video

__all__ = ["VideoError", "add_video_arguments", "colorize_video_file", "is_video"]
