"""``medroom bench vp8``: the CPU of one VP8 output against the H.264 output of the same size.

A viewer whose browser has no H.264 (Firefox without its OpenH264 plugin) gets a VP8 output,
encoded once for every such viewer of that view and rendition, as H.264 outputs are. This
measures what one output costs: a 1080p view's ladder (1080p, 720p, 360p) is encoded rung by
rung in each codec, with the settings a room's broadcast gives that output, one output at a
time, for ``seconds``; the process's CPU time over that stretch is the output's cost (colour
conversion and encoding). The picture is the simulated endoscope, pre-rendered at each rung's
size so that neither drawing nor scaling is counted: scaling a lower rung from the view costs
the same in either codec. Rungs above ``VP8_MAX_HEIGHT`` are measured too: these figures are what
decides where the VP8 ladder stops.

Figures: cores at the output frame rate (CPU per frame times the frame rate; 1.0 = one core), CPU milliseconds per frame,
frames encoded per second (below the frame rate means the encoder cannot keep up), kbit/s
out, and VP8/H.264 per rung.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

import numpy as np

from room_controller.sources.synthetic import EndoscopeSimSource
from streaming.encoder import (
    H264,
    VIDEO_CODECS,
    VP8,
    EncoderSettings,
    SharedEncoder,
)
from streaming.renditions import Rendition, codec_ladder, ladder

WIDTH, HEIGHT = 1920, 1080
#: Pre-rendered frames, played in a loop (two seconds of moving picture at 30 fps).
LOOP_FRAMES = 60


def _frames(rung: Rendition, fps: int) -> list[np.ndarray]:
    source = EndoscopeSimSource("endo", "Endoscope", rung.width, rung.height, fps=fps)
    source.setup()
    return [source.render(i / fps) for i in range(LOOP_FRAMES)]


async def _measure(
    frames: list[np.ndarray], rung: Rendition, codec: str, fps: int, seconds: float
) -> dict[str, float | str]:
    started = time.monotonic()

    def supply() -> np.ndarray:
        return frames[int((time.monotonic() - started) * fps) % len(frames)]

    # As RoomBroadcast builds an output's encoder (1 s keyframe interval).
    encoder = SharedEncoder(supply, EncoderSettings(
        width=rung.width, height=rung.height, fps=fps, bitrate_kbps=rung.bitrate_kbps,
        gop_seconds=1.0, codec=codec), name=f"bench@{rung.name}:{codec}")
    encoder.subscribe(lambda packet: None)  # one receiver: an encoder nobody receives rests
    encoder.start()
    try:
        await asyncio.sleep(1.0)  # the codec opens and its first keyframe passes
        before = encoder.stats()
        wall0, cpu0 = time.monotonic(), time.process_time()
        await asyncio.sleep(seconds)
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        after = encoder.stats()
    finally:
        await encoder.stop()
    if encoder.error:
        raise RuntimeError(f"{encoder.name}: {encoder.error}")
    encoded = after.frames_encoded - before.frames_encoded
    per_frame = cpu / max(encoded, 1)
    return {
        "rendition": rung.name, "codec": codec,
        # CPU per frame times the frame rate: what the output costs when it keeps up, which
        # on a loaded machine (frames skipped) the measured share of a core understates.
        "cores": round(per_frame * fps, 3),
        "cpu_ms_per_frame": round(per_frame * 1000, 2),
        "fps": round(encoded / wall, 1),
        "kbps": round((after.bytes_out - before.bytes_out) * 8 / wall / 1000),
    }


async def run(seconds: float, fps: int) -> dict[str, object]:
    rungs = ladder(WIDTH, HEIGHT, 4000)
    rows = []
    for rung in rungs:
        frames = await asyncio.to_thread(_frames, rung, fps)
        for codec in VIDEO_CODECS:
            rows.append(await _measure(frames, rung, codec, fps, seconds))
    ratios = {}
    for rung in rungs:
        cores = {r["codec"]: float(r["cores"]) for r in rows if r["rendition"] == rung.name}
        ratios[rung.name] = round(cores[VP8] / cores[H264], 2) if cores[H264] else None
    vp8_ladder = [r.name for r in codec_ladder(rungs, VP8)]
    return {"bench": "vp8", "seconds": seconds, "fps": fps, "source": f"{WIDTH}x{HEIGHT}",
            "outputs": rows, "vp8_over_h264": ratios, "vp8_ladder": vp8_ladder}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=5.0, help="measured per output")
    parser.add_argument("--fps", type=int, default=30, help="output frame rate")


def run_from_args(args: argparse.Namespace) -> int:
    if not 1 <= args.seconds <= 120 or not 1 <= args.fps <= 60:
        print("medroom bench vp8: needs 1 <= --seconds <= 120 and 1 <= --fps <= 60")
        return 2
    report = asyncio.run(run(float(args.seconds), int(args.fps)))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"one output at a time, the ladder of a {report['source']} view, simulated endoscope "
          f"at each rung's size (no scaling counted), {args.fps} fps; "
          f"load average {load} (compare runs made under a similar load)")
    print(f"{'rendition':>9} {'codec':>5} {'cores':>6} {'cpu ms/frame':>12} {'fps':>5} "
          f"{'kbit/s':>7}")
    for row in report["outputs"]:  # type: ignore[attr-defined]
        print(f"{row['rendition']:>9} {row['codec']:>5} {row['cores']:>6} "
              f"{row['cpu_ms_per_frame']:>12} {row['fps']:>5} {row['kbps']:>7}")
    print("VP8 / H.264 cores:", ", ".join(
        f"{name} {ratio}" for name, ratio in report["vp8_over_h264"].items()  # type: ignore[attr-defined]
    ))
    print(f"VP8 offered to viewers at: {', '.join(report['vp8_ladder'])}")  # type: ignore[arg-type]
    print()
    print(json.dumps(report), flush=True)
    return 0
