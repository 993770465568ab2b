"""End to end on a CPU: ``fpsboost IN OUT`` against ffmpeg minterpolate, side by side in one run.

    fpsboost bench e2e [--repeats 2] [--out-dir benchmarks/speed]

Clips: 48 frames of the held-out last fifth of Big Buck Bunny (from the data cache that
``fpsboost train --real-video bbb`` fills), scaled to 854x480 and to 1280x720, x264 at 23.976 fps.
Jobs, each in its own process, interleaved round by round: fpsboost ``--factor 2`` and ``--factor 4``
(shipped model, default options: extrapolated tail, torch on the CPU) and ``ffmpeg -vf
minterpolate=fps=...:mi_mode=mci`` to the same rate (libx264 defaults), median wall time of
``--repeats`` rounds. Ratios > 1 mean fpsboost is faster. Writes ``e2e.json``.

``--models celflow-v2-fast`` (repeatable; ``default`` is the shipped default) times other networks
in the same rounds, each as ``fpsboost ... --model NAME``.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ...data.real import fetch_big_buck_bunny
from ..report import load_average, write_report
from .commands import RATE, fpsboost_command, timed, work_folder

HELD_OUT_START = 12_000  # a frame inside Big Buck Bunny's held-out last fifth (of ~14,300)
FRAMES = 48
SIZES = {"480p": (854, 480), "720p": (1280, 720)}
JOBS = [("480p", 2), ("480p", 4), ("720p", 2)]
DEFAULT_MODEL = "default"  # --models entry for the job without --model


@dataclass(frozen=True)
class Settings:
    repeats: int = 2
    work: str = field(default="/tmp/fpsboost-e2e", metadata={"help": "scratch folder for the clips and outputs"})
    out_dir: str = "benchmarks/speed"
    models: tuple[str, ...] = field(default=(DEFAULT_MODEL,), metadata={
        "help": "networks to time (repeatable): 'default', or a --model value such as celflow-v2-fast"})


def make_clip(path: Path, width: int, height: int) -> None:
    """``FRAMES`` frames of Big Buck Bunny from ``HELD_OUT_START``, scaled, as x264 at ``RATE``."""
    import av

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


def _key(model: str, size: str, factor: int) -> str:
    """The name of one fpsboost job's times in the report (the default keeps the old name)."""
    return f"fpsboost {size} x{factor}" + ("" if model == DEFAULT_MODEL else f" --model {model}")


def run(settings: Settings) -> None:
    work = work_folder(settings.work)
    for name, (width, height) in SIZES.items():
        if not (work / f"{name}.mp4").exists():
            make_clip(work / f"{name}.mp4", width, height)
    times: dict[str, list[float]] = {}
    for _ in range(settings.repeats):
        for size, factor in JOBS:
            clip = work / f"{size}.mp4"
            for model in settings.models:
                ours = [*fpsboost_command(), str(clip), str(work / "ours.mp4"), "--factor", str(factor), "--overwrite", "-q",
                        *([] if model == DEFAULT_MODEL else ["--model", model])]
                times.setdefault(_key(model, size, factor), []).append(timed(ours, stderr=subprocess.DEVNULL))
            theirs = ["ffmpeg", "-y", "-v", "error", "-i", str(clip), "-vf", f"minterpolate=fps={factor * RATE}:mi_mode=mci",
                      str(work / "minterpolate.mp4")]
            times.setdefault(f"minterpolate {size} x{factor}", []).append(timed(theirs, stderr=subprocess.DEVNULL))
    rows, lines = [], []
    for size, factor in JOBS:
        theirs = statistics.median(times[f"minterpolate {size} x{factor}"])
        for model in settings.models:
            ours = statistics.median(times[_key(model, size, factor)])
            rows.append({"clip": size, "factor": factor, "model": model, "fpsboost_s": round(ours, 2),
                         "minterpolate_s": round(theirs, 2), "speed_vs_minterpolate": round(theirs / ours, 3)})
            lines.append(f"{size} x{factor} ({model}): fpsboost {ours:.2f} s, minterpolate {theirs:.2f} s -> {theirs / ours:.2f}x")
    write_report(settings.out_dir, {"platform": platform.platform(), "load_average_end": load_average(), "frames_in": FRAMES,
                                    "rows": rows, "all_s": times}, lines, json_name="e2e.json", markdown_name=None)
