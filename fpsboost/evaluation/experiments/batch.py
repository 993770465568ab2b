"""fpsboost batch on one machine: 1 worker vs 2, and equality with the single job, on a long
generated clip with scene cuts (procedural cel animation, shots on ones, twos and threes, audio).

    fpsboost bench batch --minutes 10 [--work /tmp/fpsboost-batch-bench] [--out-dir benchmarks/batch]

Runs, side by side in one go and with the same options: ``fpsboost IN single.mkv``, then
``fpsboost batch IN --workers 1`` and ``--workers 2`` (each into a fresh folder, local Ray started
by the command itself, so its start-up is counted), and a ``--workers 2`` run killed at half and
run again. Lossless output (``--codec ffv1``) so that the outputs can be compared picture for
picture. Uses only the command line and fpsboost's public clip generator; the numbers go to
``results.json`` for RESULTS.md.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...data.clips import ShotSpec, write_cel_video
from ..report import write_report
from .commands import RATE, fpsboost_command, timed, work_folder


@dataclass(frozen=True)
class Settings:
    minutes: float = 10.0
    width: int = 96
    height: int = 64
    work: str = field(default="/tmp/fpsboost-batch-bench", metadata={"help": "scratch folder for the clip and outputs"})
    out_dir: str = "benchmarks/batch"


def shots_for(minutes: float, seed: int = 0) -> list[ShotSpec]:
    """Shots of 2-12 s, cadence ones/twos/threes, until the clip is ``minutes`` long."""
    rng = np.random.default_rng(seed)
    shots, frames = [], 0
    wanted = int(minutes * 60 * float(RATE))
    while frames < wanted:
        length = min(int(rng.integers(48, 290)), wanted - frames)
        shots.append(ShotSpec(int(rng.integers(0, 1_000_000)), max(length, 2), int(rng.choice([1, 2, 2, 3]))))
        frames += length
    return shots


def compare(path: Path, reference: Path) -> dict:
    """Frames, exact timestamps and the largest pixel difference between two outputs."""
    import av

    with av.open(str(path)) as a, av.open(str(reference)) as b:
        sa, sb = a.streams.video[0], b.streams.video[0]
        frames = same_times = 0
        largest = 0
        for fa, fb in zip(a.decode(sa), b.decode(sb)):
            frames += 1
            same_times += fa.pts * sa.time_base == fb.pts * sb.time_base
            largest = max(largest, int(np.abs(fa.to_ndarray(format="rgb24").astype(np.int16) - fb.to_ndarray(format="rgb24")).max()))
        audio = [len(c.streams.audio) for c in (a, b)]
    return {"frames_compared": frames, "timestamps_equal": same_times, "max_pixel_difference": largest, "audio_streams": audio}


def kill_at_half_and_resume(fpsboost: list[str], source: Path, out: Path, options: list[str], single: Path) -> dict:
    """``kill -9`` the batch (driver and Ray together) once half its chunks are done, run it again,
    and count the chunks the second run made."""
    subprocess.run(["rm", "-rf", str(out)], check=True)
    command = [*fpsboost, "batch", str(source), "--out-dir", str(out), "--workers", "2", *options]
    driver = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / ".fpsboost-batch"
    total = None
    while driver.poll() is None:
        time.sleep(0.5)
        manifests = list(state.glob("manifest.json"))
        if manifests and total is None:
            files = json.loads(manifests[0].read_text())["files"]
            total = sum(len(entry["chunks"]) for entry in files.values()) or None
        if total and len(list(state.glob("*/*/chunk-*.json"))) >= total / 2:
            break
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    done_before = len(list(state.glob("*/*/chunk-*.json")))
    result = subprocess.run([*command, "--json"], check=True, capture_output=True, text=True)
    (entry,) = json.loads(result.stdout)["files"]
    return {"chunks": entry["chunks"], "done_when_killed": done_before, "made_after_restart": entry["chunks_run"],
            "vs_single": compare(out / source.name, single)}


def count_frames(path: Path) -> int:
    """Video packets with data in ``path``: its frames."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.demux(container.streams.video[0]) if _.size)


def run(settings: Settings) -> None:
    work = work_folder(settings.work)
    source = work / "long.mkv"
    shots = shots_for(settings.minutes)
    if not source.exists():
        write_cel_video(source, shots, settings.width, settings.height, RATE, audio=True)
    fpsboost = fpsboost_command()
    options = ["--factor", "2", "--codec", "ffv1", "--overwrite", "-q"]
    results: dict = {"clip": {"minutes": settings.minutes, "frames": sum(s.frames for s in shots), "shots": len(shots),
                              "size": f"{settings.width}x{settings.height}", "rate": str(RATE)},
                     "platform": platform.platform(), "command_options": options}
    single = work / "single.mkv"
    results["single_s"] = timed([*fpsboost, str(source), str(single), *options])
    results["frames_out"] = count_frames(single)
    for workers in (1, 2):
        out = work / f"batch-{workers}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        seconds = timed([*fpsboost, "batch", str(source), "--out-dir", str(out), "--workers", str(workers), *options])
        manifest = json.loads((out / ".fpsboost-batch" / "manifest.json").read_text())
        (entry,) = manifest["files"].values()
        results[f"workers_{workers}"] = {"seconds": seconds, "chunks": len(entry["chunks"]),
                                         "vs_single": compare(out / source.name, single)}
        records = sorted((out / ".fpsboost-batch").glob("*/*/chunk-*.json"))
        results[f"workers_{workers}"]["chunk_seconds"] = [json.loads(r.read_text())["seconds"] for r in records]
    results["speedup_2_over_1"] = results["workers_1"]["seconds"] / results["workers_2"]["seconds"]
    results["killed_at_half"] = kill_at_half_and_resume(fpsboost, source, work / "batch-killed", options, single)
    lines = [json.dumps({k: v for k, v in results.items() if k not in ("workers_1", "workers_2")}, indent=1)]
    for workers in (1, 2):
        entry = results[f"workers_{workers}"]
        lines.append(" ".join(str(part) for part in (workers, "worker(s):", round(entry["seconds"], 1), "s,", entry["chunks"], "chunks,",
                                                      entry["vs_single"])))
    write_report(settings.out_dir, results, lines, markdown_name=None)
