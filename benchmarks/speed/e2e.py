"""End to end on a CPU: ``fpsboost IN OUT`` against ffmpeg minterpolate, side by side in one run.

    python benchmarks/speed/e2e.py [--repeats 2] [--out benchmarks/speed/e2e.json]

Clips: 48 frames of the held-out last fifth of Big Buck Bunny (from the data cache that
``fpsboost train --real-video bbb`` fills), scaled to 854x480 and to 1280x720, x264 at 23.976 fps.
Jobs, each in its own process, interleaved round by round: fpsboost ``--factor 2`` and ``--factor 4``
(shipped model, default options: extrapolated tail, torch on the CPU) and ``ffmpeg -vf
minterpolate=fps=...:mi_mode=mci`` to the same rate (libx264 defaults), median wall time of
``--repeats`` rounds. Ratios > 1 mean fpsboost is faster.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av

from fpsboost.data.real import fetch_big_buck_bunny

RATE = Fraction(24000, 1001)
HELD_OUT_START = 12_000  # a frame inside Big Buck Bunny's held-out last fifth (of ~14,300)
FRAMES = 48
SIZES = {"480p": (854, 480), "720p": (1280, 720)}
JOBS = [("480p", 2), ("480p", 4), ("720p", 2)]


def make_clip(path: Path, width: int, height: int) -> None:
    with av.open(str(fetch_big_buck_bunny())) as source, av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = stream.time_base = 1 / RATE
        written = 0
        for index, frame in enumerate(source.decode(video=0)):
            if index < HELD_OUT_START:
                continue
            picture = frame.reformat(width=width, height=height, format="yuv420p")
            picture.pts, picture.time_base = written, 1 / RATE
            out.mux(stream.encode(picture))
            written += 1
            if written == FRAMES:
                break
        out.mux(stream.encode(None))


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--work", default="/tmp/fpsboost-e2e")
    parser.add_argument("--out", default="benchmarks/speed/e2e.json")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    for name, (width, height) in SIZES.items():
        if not (work / f"{name}.mp4").exists():
            make_clip(work / f"{name}.mp4", width, height)
    times: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for size, factor in JOBS:
            clip = work / f"{size}.mp4"
            ours = [sys.executable, "-m", "fpsboost.cli", str(clip), str(work / "ours.mp4"), "--factor", str(factor), "--overwrite", "-q"]
            theirs = ["ffmpeg", "-y", "-v", "error", "-i", str(clip), "-vf", f"minterpolate=fps={factor * RATE}:mi_mode=mci",
                      str(work / "minterpolate.mp4")]
            times.setdefault(f"fpsboost {size} x{factor}", []).append(timed(ours))
            times.setdefault(f"minterpolate {size} x{factor}", []).append(timed(theirs))
    rows = []
    for size, factor in JOBS:
        ours = statistics.median(times[f"fpsboost {size} x{factor}"])
        theirs = statistics.median(times[f"minterpolate {size} x{factor}"])
        rows.append({"clip": size, "factor": factor, "fpsboost_s": round(ours, 2), "minterpolate_s": round(theirs, 2),
                     "speed_vs_minterpolate": round(theirs / ours, 3)})
        print(f"{size} x{factor}: fpsboost {ours:.2f} s, minterpolate {theirs:.2f} s -> {theirs / ours:.2f}x")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    Path(args.out).write_text(json.dumps({"commit": commit, "cpus": os.cpu_count(), "platform": platform.platform(),
                                          "load_average_end": os.getloadavg(), "frames_in": FRAMES, "rows": rows,
                                          "all_s": times}, indent=1) + "\n")


if __name__ == "__main__":
    main()
