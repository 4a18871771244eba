"""Frames/s of colorizing a video, and where the time goes: `python -m colorgan.bench.video CLIP
--heights 480 1080 --frames 48`.

For each height, the first --frames frames of CLIP are scaled to that height (16:9 kept, sides
even) and written as an H.264 clip; then, with the shipped photo colorizer on the CPU:
- end to end: `colorize_video` on that clip (decode, network, stabilizer, merge, encode), frames/s;
- by stage, on the same frames held in memory: decoding, the network (its working-resolution
  batch, under PyTorch and under onnxruntime), the full-resolution merge, H.264 encoding.
Each stage is timed twice and the faster kept. Ratios within one run compare like with like; the
rates are an idle machine's only when nothing else ran (the line "load" says).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from colorgan.errors import user_command
from colorgan.inference import Colorizer
from colorgan.quiet import silence_library_noise
from colorgan.video.mp4 import VideoWriter
from colorgan.video.pipeline import DEFAULT_BATCH, FrameColorizer, colorize_video, working_inputs
from colorgan.video.stabilize import Stabilizer, colour_memory
from colorgan.video.streams import FrameClock, open_video, read_batches, video_stream


def scaled_clip(source: Path, target: Path, height: int, frames: int) -> tuple[int, int]:
    """The first `frames` frames of `source` scaled to `height` (even sides), as an H.264 clip."""
    container, info = open_video(source)
    width = 2 * round(info.width * height / info.height / 2)
    with container, av.open(str(target), "w") as out:
        stream = out.add_stream("libx264", rate=info.rate, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        done = 0
        for frame in container.decode(video=0):
            out.mux(stream.encode(frame.reformat(width=width, height=height, format="yuv420p")))
            done += 1
            if done == frames:
                break
        out.mux(stream.encode(None))
    return width, height


def aged_clip(source: Path, target: Path, grain: float = 4.0, exposure: float = 0.03, seed: int = 0) -> int:
    """`source` as old film: each frame's brightness scaled by 1 + exposure * N(0, 1) (exposure
    flicker) and gray grain of std `grain` (0-255) added; colour kept, so it stays a colour
    original for --compare. Silent H.264; returns the frame count."""
    rng = np.random.default_rng(seed)
    container, info = open_video(source)
    frames = 0
    clock = FrameClock(video_stream(container).time_base, info.rate)
    with container, VideoWriter(target, info.width, info.height, info.rate, clock.time_base) as writer:
        for batch in read_batches(container, source, 8, clock):
            for rgb, pts in zip(batch.rgb, batch.pts, strict=True):
                noisy = rgb * (1.0 + exposure * rng.standard_normal()) + grain * rng.standard_normal(rgb.shape[:2])[..., None]
                writer.write(np.clip(noisy, 0, 255).round().astype(np.uint8), pts)
                frames += 1
    return frames


def best_of(runs: int, work) -> float:
    """The fastest of `runs` timings of work(), in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def onnx_session(net, example: torch.Tensor):
    """onnxruntime session of the network (RGB -> ab) exported at exactly example's shape, and its export seconds."""
    import onnxruntime

    start = time.perf_counter()
    with torch.no_grad(), tempfile.TemporaryDirectory() as folder:
        program = torch.onnx.export(net, (example,), input_names=["rgb"], output_names=["ab"], dynamo=True,
                                    verbose=False)
        path = Path(folder) / "net.onnx"
        program.save(str(path))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session, time.perf_counter() - start


def measure(colorizer: Colorizer, clip: Path, frames: int, batch: int) -> dict:
    container, info = open_video(clip)
    with container:
        decoded = [b.rgb.copy() for b in read_batches(container, clip, batch)]
    batches = len(decoded)
    result = {"size": f"{info.width}x{info.height}", "frames": frames}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.mp4"
        result["end to end"] = frames / best_of(2, lambda: colorize_video(colorizer, clip, out, batch, Stabilizer(),
                                                                          memory=colour_memory()))

        def decode():
            c, _ = open_video(clip)
            with c:
                for _ in read_batches(c, clip, batch):
                    pass

        result["decode"] = frames / best_of(2, decode)
        small = working_inputs(torch.from_numpy(decoded[0]), colorizer.size)
        stride = colorizer.net.stride
        h, w = small.shape[-2:]
        padded = F.pad(small, (0, math.ceil(w / stride) * stride - w, 0, math.ceil(h / stride) * stride - h),
                       mode="replicate")
        with torch.no_grad():
            result["network (torch)"] = len(padded) / best_of(5, lambda: colorizer.net(padded))
        session, export_s = onnx_session(colorizer.net, padded)
        array = padded.numpy()
        result["network (onnxruntime)"] = len(padded) / best_of(5, lambda: session.run(["ab"], {"rgb": array}))
        with torch.no_grad():
            diff = float(np.abs(session.run(["ab"], {"rgb": array})[0] - colorizer.net(padded).numpy()).max())
        result["onnx export s"], result["onnx max diff"] = export_s, diff
        result["shrink + network + stabilizer + merge"] = frames / best_of(
            2, lambda: [FrameColorizer(colorizer, Stabilizer(), None, colour_memory())(b) for b in decoded])
        colour = FrameColorizer(colorizer, Stabilizer(), None)(decoded[0])

        def encode():
            with VideoWriter(Path(folder) / "enc.mp4", info.width, info.height, info.rate, 1 / info.rate) as writer:
                for i in range(batches):
                    for j, rgb in enumerate(colour):
                        writer.write(rgb, i * len(colour) + j)

        result["encode (H.264)"] = batches * len(colour) / best_of(2, encode)
    return result


@user_command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorgan.bench.video", description=__doc__.split("\n\n")[0])
    parser.add_argument("clip", type=Path, help="a video to take the frames from (any size; it is scaled)")
    parser.add_argument("--heights", type=int, nargs="+", default=[480, 1080])
    parser.add_argument("--frames", type=int, default=48, help="frames per clip (default: 48)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--age", type=Path, default=None, metavar="OUT",
                        help="instead: write CLIP as old film to OUT (grain 4/255, exposure flicker 3%%) and stop")
    args = parser.parse_args(argv)
    silence_library_noise()
    if args.age is not None:
        print(f"wrote {args.age}: {aged_clip(args.clip, args.age)} frames")
        return 0
    colorizer = Colorizer.pretrained(device="cpu")
    load = os.getloadavg()
    print(f"shipped photo colorizer, working size {colorizer.size}px, batch {args.batch_size}, "
          f"{torch.get_num_threads()} torch threads; load average at start {load[0]:.1f}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for height in args.heights:
            clip = Path(folder) / f"clip{height}.mp4"
            scaled_clip(args.clip, clip, height, args.frames)
            rows.append(measure(colorizer, clip, args.frames, args.batch_size))
            print(rows[-1], flush=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    stages = [k for k in rows[0] if k not in ("size", "frames", "onnx export s", "onnx max diff")]
    print("\n| frames/s | " + " | ".join(r["size"] for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for stage in stages:
        print(f"| {stage} | " + " | ".join(f"{r[stage]:.1f}" for r in rows) + " |")
    for r in rows:
        print(f"{r['size']}: onnx export {r['onnx export s']:.1f} s, onnxruntime vs torch max |ab| difference "
              f"{r['onnx max diff']:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
