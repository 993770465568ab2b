"""``fpsboost bench``: speed, memory and quality of fpsboost beside its anchors, in one run.

Everything runs on built-in content (generated :class:`~fpsboost.data.celgen.CelScene` clips) on
this machine, and every comparison is measured side by side in the same run: configurations are
timed in interleaved rounds and reported as medians, so a busy machine slows them all alike.

Sections:

* **network**: milliseconds per in-between (factor 2: one timestep per pair) for each resolution
  x backend (torch, onnx) x precision (fp32; bf16/fp16 where the device has them) x batch size,
  plus the anchor, a RIFE-v4.6-shaped network with random weights
  (:class:`~fpsboost.models.reference.Rife46Shaped`, fp32, batch 1).
* **end to end**: ``--factor 2`` through the real pipeline (:func:`fpsboost.pipeline.upscale`),
  each job in its own process: output fps, where the wall time goes (network inside the job;
  decode and encode of the same frames timed alone; their overlap), peak RSS and peak GPU memory;
  next to ffmpeg ``minterpolate`` (``mi_mode=mci``, libx264 defaults) on the same clip.
* **scaling**: time against pixels (480p -> 1080p) and against the factor (network cost of one
  pair at factor 2, 4, 8), and peak RSS of a short and a 5x longer 720p job.
* **quality** (``--quality``): :mod:`fpsboost.evaluation.quality`'s table, and the extrapolation table that
  ``fpsboost bench extrapolation`` recorded, when present.

Targets are recorded with each run, never asserted.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import FpsboostError, OptionError
from .report import describe_weights, git_commit, load_average, machine_info

# 2160p is not in the default set: at 4K the RIFE-shaped anchor alone takes tens of seconds a pass on a CPU.
RESOLUTIONS: dict[str, tuple[int, int]] = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080),
                                           "2160p": (3840, 2160)}
QUICK_RESOLUTION = "96p"
QUICK_SIZE = (160, 96)
QUICK_SCAN_LIMIT = 3  # quick quality runs take the first seeds, whatever their motion
FACTORS = (2, 4, 8)
CLIP_RATE = 24
CONTENT_SEED = 10_300_000  # a held-out CelScene seed (>= VALIDATION_SEED_BASE), never trained on
RSS_LONG_MULTIPLE = 5
RSS_AGREEMENT = 0.10
E2E_OVER_NETWORK_TARGET = 0.90  # issue 17: the job's throughput >= 90 % of the network alone
FACTOR8_OVER_FACTOR2_TARGET = 3.0
RIFE_SPEEDUP_TARGET = 2.0
TARGET_RESOLUTION = "480p"
FFMPEG = "/usr/bin/ffmpeg"
FFPROBE = "/usr/bin/ffprobe"
RIFE_ANCHOR = "rife46-shaped"
MINTERPOLATE_ANCHOR = "ffmpeg-minterpolate"
MEBIBYTE = 1024 * 1024


@dataclass(frozen=True)
class BenchSettings:
    """What one ``fpsboost bench`` run measures.

    ``resolutions``: names in :data:`RESOLUTIONS` (or ``96p`` for quick runs). ``repeats``: timed
    rounds per network configuration (after one warm-up). ``clip_frames``: input frames of each
    end-to-end clip; ``e2e_repeats``: runs of each end-to-end job. ``rss_frames``: frames of the
    short memory clip (the long one has :data:`RSS_LONG_MULTIPLE` times as many). ``threads``:
    CPU threads for torch, OpenCV and onnxruntime in every process of the run (None: their defaults).
    """

    resolutions: tuple[str, ...] = ("480p", "720p", "1080p")
    backends: tuple[str, ...] = ("torch", "onnx")
    precisions: tuple[str, ...] = ("fp32", "mixed", "bf16", "fp16")
    batch_sizes: tuple[int, ...] = (1, 2)
    repeats: int = 3
    clip_frames: int = 12
    e2e_repeats: int = 2
    rss_resolution: str = "720p"
    rss_frames: int = 8
    factor_resolution: str = "480p"
    device: str = "auto"
    weights: str | None = None
    speed: bool = True
    quality: bool = False
    real_dir: str | None = None
    synthetic_pairs: int = 45
    quality_size: tuple[int, int] = (480, 270)
    quick: bool = False
    threads: int | None = None


def quick_settings(settings: BenchSettings) -> BenchSettings:
    """A seconds-long run: one tiny resolution, torch only, one round, tiny clips."""
    return replace(settings, resolutions=(QUICK_RESOLUTION,), backends=("torch",), precisions=("fp32",),
                   batch_sizes=(1,), repeats=1, clip_frames=6, e2e_repeats=1, rss_resolution=QUICK_RESOLUTION,
                   rss_frames=4, factor_resolution=QUICK_RESOLUTION, synthetic_pairs=3, quality_size=QUICK_SIZE,
                   quick=True)


def frame_size(resolution: str) -> tuple[int, int]:
    """``(width, height)`` of a resolution name."""
    if resolution == QUICK_RESOLUTION:
        return QUICK_SIZE
    if resolution not in RESOLUTIONS:
        raise OptionError(f"unknown resolution {resolution!r}: use {', '.join(RESOLUTIONS)}")
    return RESOLUTIONS[resolution]


# -- the machine ----------------------------------------------------------------------------------

def supported_precisions(backend: str, device: str, wanted: tuple[str, ...]) -> list[str]:
    """Which of ``wanted`` the backend can run on ``device``."""
    import torch

    from ..backends.base import cpu_has_bf16

    if backend == "onnx":
        available = ["fp32", "fp16"] if device == "cuda" else ["fp32"]
    elif device == "cuda":
        available = ["fp32", "fp16"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])
    else:
        available = ["fp32"] + (["bf16", "mixed"] if cpu_has_bf16() else [])
    return [precision for precision in wanted if precision in available]


def limit_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads in torch and OpenCV in this process (None: leave the defaults)."""
    if threads is None:
        return
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


# -- content --------------------------------------------------------------------------------------

def bench_clip(width: int, height: int, frames: int, folder: Path | None = None) -> Path:
    """A generated cel-animation clip (H.264, :data:`CLIP_RATE` fps), made once and cached."""
    import av

    from ..backends.export import cache_dir
    from ..data.celgen import CelScene, MotionStyle

    folder = folder or cache_dir() / "bench"
    path = folder / f"celscene-{CONTENT_SEED}-{width}x{height}-{frames}f.mp4"
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    scene = CelScene(CONTENT_SEED, height, width, MotionStyle(flash_probability=0.0))
    temporary = path.with_name(path.stem + ".partial.mp4")
    with av.open(str(temporary), mode="w") as container:
        stream = container.add_stream("libx264", rate=CLIP_RATE)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "16"}
        for index in range(frames):
            rgb = (scene.render(float(index)).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    temporary.replace(path)
    return path


# -- network timings ------------------------------------------------------------------------------

@dataclass
class _Timed:
    """One configuration in the interleaved rounds: ``run()`` does one timed unit of work."""

    key: dict
    run: Callable[[], None]
    inbetweens: int
    seconds: list[float] = field(default_factory=list)
    peak_gpu_mb: float | None = None


def _median_ms(seconds: list[float], per: int) -> float:
    return round(1000 * statistics.median(seconds) / per, 2)


def _interleave(entries: list[_Timed], repeats: int, device: str, progress: Callable[[str], None]) -> None:
    """Warm every entry up once (recording peak GPU memory), then time ``repeats`` rounds."""
    import torch

    for entry in entries:
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        entry.run()
        if device == "cuda":
            torch.cuda.synchronize()
            entry.peak_gpu_mb = round(torch.cuda.max_memory_allocated() / MEBIBYTE, 1)
    for round_index in range(repeats):
        for entry in entries:
            started = time.perf_counter()
            entry.run()
            if device == "cuda":
                torch.cuda.synchronize()
            entry.seconds.append(time.perf_counter() - started)
        progress(f"network: round {round_index + 1}/{repeats} done")


def _rife_runner(width: int, height: int, device: str) -> Callable[[], None]:
    import torch

    from ..models.reference import Rife46Shaped

    torch.manual_seed(0)
    network = Rife46Shaped().to(device).eval()
    image0 = torch.rand(1, 3, height, width, device=device)
    image1 = torch.rand(1, 3, height, width, device=device)
    t = torch.full((1,), 0.5, device=device)

    def run() -> None:
        with torch.inference_mode():
            network(image0, image1, t)

    return run


def _backend_runner(backend: Any, pairs: int, timesteps_per_pair: int, width: int, height: int) -> Callable[[], None]:
    rng = np.random.default_rng(0)
    frames0 = rng.random((pairs, 3, height, width), dtype=np.float32)
    frames1 = rng.random((pairs, 3, height, width), dtype=np.float32)
    pair_index = np.repeat(np.arange(pairs, dtype=np.int64), timesteps_per_pair)
    steps = np.arange(1, timesteps_per_pair + 1, dtype=np.float32) / (timesteps_per_pair + 1)
    timesteps = np.tile(steps, pairs)

    def run() -> None:
        backend.interpolate(frames0, frames1, pair_index, timesteps)

    return run


def _create_backend(backend: str, device: str, precision: str, weights: str | None, batch: int | None = None,
                    threads: int | None = None) -> Any:
    from ..backends import ModelSettings, create_backend

    settings = ModelSettings(backend=backend, device=device, precision=precision, weights=weights, batch_size=batch)
    if backend == "onnx" and threads is not None:
        from ..backends.onnx_backend import OnnxBackend

        return OnnxBackend(settings, cpu_threads=threads)  # pins intra-op threads on the CPU
    return create_backend(settings)


def network_section(settings: BenchSettings, device: str, progress: Callable[[str], None]) -> dict:
    """Network-only ms per in-between for every configuration, the RIFE-shaped anchor beside them,
    and the factor scaling (one pair at factor 2, 4, 8)."""
    notes: list[str] = []
    backends: dict[tuple[str, str], Any] = {}
    for name in settings.backends:
        for precision in supported_precisions(name, device, settings.precisions):
            try:
                backends[(name, precision)] = _create_backend(name, device, precision, settings.weights, threads=settings.threads)
            except (FpsboostError, ImportError) as error:
                notes.append(f"{name} {precision} skipped: {error}")
    entries: list[_Timed] = []
    for resolution in settings.resolutions:
        width, height = frame_size(resolution)
        for (name, precision), backend in backends.items():
            for batch in settings.batch_sizes:
                key = {"resolution": resolution, "width": width, "height": height, "backend": name,
                       "precision": precision, "batch": batch, "describe": backend.describe()}
                entries.append(_Timed(key, _backend_runner(backend, batch, 1, width, height), batch))
        key = {"resolution": resolution, "width": width, "height": height, "backend": RIFE_ANCHOR,
               "precision": "fp32", "batch": 1, "describe": "random weights, anchor"}
        entries.append(_Timed(key, _rife_runner(width, height, device), 1))
    factor_entries = []
    # At the precision a user's job runs: mixed where the CPU has it, else fp32.
    factor_precision = "mixed" if ("torch", "mixed") in backends else "fp32"
    torch_backend = backends.get(("torch", factor_precision))
    if torch_backend is not None:
        width, height = frame_size(settings.factor_resolution)
        for factor in FACTORS:
            key = {"resolution": settings.factor_resolution, "factor": factor, "timesteps_per_pair": factor - 1,
                   "precision": factor_precision}
            factor_entries.append(_Timed(key, _backend_runner(torch_backend, 1, factor - 1, width, height), factor - 1))
    _interleave(entries + factor_entries, settings.repeats, device, progress)
    rows = [{**entry.key, "ms_per_inbetween": _median_ms(entry.seconds, entry.inbetweens),
             "inbetweens_per_s": round(entry.inbetweens / statistics.median(entry.seconds), 3),
             "samples_s": [round(s, 4) for s in entry.seconds], "peak_gpu_mb": entry.peak_gpu_mb} for entry in entries]
    factors = [{**entry.key, "ms_per_pair": _median_ms(entry.seconds, 1),
                "ms_per_inbetween": _median_ms(entry.seconds, entry.inbetweens),
                "samples_s": [round(s, 4) for s in entry.seconds]} for entry in factor_entries]
    return {"rows": rows, "factors": factors, "notes": notes}


# -- end to end -----------------------------------------------------------------------------------

# The end-to-end jobs measure streaming throughput, so they hold the tail: extrapolating it is a
# fixed cost per job (one flow and its refinement, about a second at 480p on a 2-core CPU) that
# would dominate these 8-frame clips and says nothing about the per-frame rate.
E2E_TAIL = "hold"
# A job whose "network" takes no time (each in-between is a copy of its first frame): the most
# frames per second this machine's decoding, analysis and encoding allow, whatever device draws.
PIPELINE_CEILING = "no-network"


class _NoNetwork:
    """Stands in for the network in a :data:`PIPELINE_CEILING` job."""

    name, device, default_batch_size = PIPELINE_CEILING, "cpu", 8

    def interpolate(self, frames0: np.ndarray, frames1: np.ndarray, pair_index: np.ndarray, timesteps: np.ndarray,
                    flow_scale: str | None = None) -> np.ndarray:
        return frames0[pair_index]

    def describe(self) -> str:
        return "no network (in-betweens are copies)"


def child_main() -> None:
    """Entry point of a job subprocess: ``python -c 'from fpsboost.evaluation.speed import child_main; child_main()' SPEC``.

    Runs one ``--factor 2`` job as the spec says and prints one JSON line: wall time, frames,
    seconds inside the network, and peak RSS (and GPU memory) of this process.
    """
    spec = json.loads(sys.argv[1])
    print(json.dumps(run_job(**spec)), flush=True)


def run_job(clip: str, out: str, backend: str, device: str, precision: str, weights: str | None,
            batch: int | None, warm_up: bool, stages: bool, threads: int | None = None) -> dict:
    """One ``--factor 2`` job through :func:`fpsboost.pipeline.upscale`; see :func:`child_main`."""
    from ..backends.base import InterpolationBackend, PreparedPairs
    from ..cadence import CadenceSettings
    from ..pipeline import UpscaleSettings, upscale
    from ..video.reader import VideoReader
    from ..video.writer import EncodeSettings, VideoWriter

    limit_threads(threads)
    inner = _NoNetwork() if backend == PIPELINE_CEILING else _create_backend(backend, device, precision, weights, batch, threads)
    if warm_up:
        with VideoReader(clip) as reader:
            info = reader.info
        _backend_runner(inner, 1, 1, info.width, info.height)()

    class TimedBackend(InterpolationBackend):
        """Counts the seconds the job spends inside the network, and apart from them the seconds
        spent measuring the pairs (``prepare``: DIS and the rest, on the job's measuring thread
        beside the network), passing the job's neighbours on as the job gives them."""

        def __init__(self) -> None:
            self.name, self.device, self.default_batch_size = inner.name, inner.device, inner.default_batch_size
            self.wants_neighbours = getattr(inner, "wants_neighbours", False)
            self.seconds, self.measure_seconds, self.inbetweens, self.calls = 0.0, 0.0, 0, 0

        def interpolate(self, frames0: np.ndarray, frames1: np.ndarray, pair_index: np.ndarray, timesteps: np.ndarray,
                        flow_scale: str | None = None, **extra: Any) -> np.ndarray:
            started = time.perf_counter()
            result = inner.interpolate(frames0, frames1, pair_index, timesteps, flow_scale, **extra)
            self._count(started, timesteps)
            return result

        def prepare(self, frames0: np.ndarray, frames1: np.ndarray, flow_scale: str | None = None,
                    neighbours: Any = None) -> PreparedPairs:
            if not hasattr(inner, "prepare"):
                return super().prepare(frames0, frames1, flow_scale, neighbours)
            started = time.perf_counter()
            prepared = inner.prepare(frames0, frames1, flow_scale, neighbours)
            self.measure_seconds += time.perf_counter() - started
            return prepared

        def complete_measured(self, prepared: PreparedPairs, pair_index: np.ndarray, timesteps: np.ndarray) -> np.ndarray:
            # Pairs the inner backend measured in prepare; the rest go through interpolate, counted there.
            started = time.perf_counter()
            result = inner.complete_measured(prepared, pair_index, timesteps)
            self._count(started, timesteps)
            return result

        def _count(self, started: float, timesteps: np.ndarray) -> None:
            self.seconds += time.perf_counter() - started
            self.inbetweens += len(timesteps)
            self.calls += 1

        def describe(self) -> str:
            return inner.describe()

    timed = TimedBackend()
    started = time.perf_counter()
    summary = upscale(clip, out, UpscaleSettings(factor=2, tail=E2E_TAIL), encode=EncodeSettings(overwrite=True),
                      cadence=CadenceSettings(), backend=timed)
    wall = time.perf_counter() - started
    result = {"wall_s": round(wall, 3), "frames_in": summary.frames_in, "frames_out": summary.frames_out,
              "inbetweens": timed.inbetweens, "network_calls": timed.calls, "network_s": round(timed.seconds, 3),
              "measure_s": round(timed.measure_seconds, 3),
              "output_fps": round(summary.frames_out / wall, 3), "describe": summary.backend}
    if stages:
        # The same decode and encode work as the job's own threads, each timed alone.
        started = time.perf_counter()
        with VideoReader(clip) as reader:
            info = reader.info
            decoded = [(frame.time, frame.source, frame.rgb) for frame in reader]
        result["decode_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        step = Fraction(1, 2) / info.average_rate
        with VideoWriter(out + ".encode.mp4", info, info.average_rate * 2, EncodeSettings(overwrite=True)) as writer:
            for frame_time, source, rgb in decoded:
                writer.write(source, frame_time)
                writer.write(rgb, frame_time + step)
        result["encode_s"] = round(time.perf_counter() - started, 3)
    result["peak_rss_mb"] = peak_rss_mb()
    if device == "cuda":
        import torch

        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / MEBIBYTE, 1)
    return result


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB.

    Read from ``VmHWM`` in /proc/self/status: ``getrusage``'s ``ru_maxrss`` would carry the parent's
    high-water mark across fork and exec on Linux, so every child would report the parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux KiB
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MEBIBYTE, 1)


def _job_spec(clip: Path, out: Path, backend: str, device: str, precision: str, weights: str | None,
              threads: int | None, timed: bool) -> dict:
    """The arguments of :func:`run_job` for one job process (default batch size). ``timed``: warm the
    network up first and also time decoding and encoding alone (the throughput jobs)."""
    return {"clip": str(clip), "out": str(out), "backend": backend, "device": device, "precision": precision,
            "weights": weights, "batch": None, "warm_up": timed, "stages": timed, "threads": threads}


def _spawn_job(spec: dict) -> dict:
    command = [sys.executable, "-c", "from fpsboost.evaluation.speed import child_main; child_main()", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"benchmark job failed ({spec['backend']} {spec['precision']}): {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def minterpolate_job(clip: Path, out: Path) -> dict:
    """ffmpeg ``minterpolate`` (mci) to twice the rate, libx264 defaults; wall time and frames."""
    command = [FFMPEG, "-y", "-v", "error", "-i", str(clip), "-vf", f"minterpolate=fps={2 * CLIP_RATE}:mi_mode=mci",
               "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - started
    count = subprocess.run([FFPROBE, "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                            "stream=nb_read_packets", "-of", "csv=p=0", str(out)], capture_output=True, text=True)
    frames = int(count.stdout.strip() or 0)
    return {"wall_s": round(wall, 3), "frames_out": frames, "output_fps": round(frames / wall, 3)}


def end_to_end_section(settings: BenchSettings, device: str, work: Path, progress: Callable[[str], None]) -> dict:
    """``--factor 2`` jobs for every resolution x backend x precision (default batch size), each in
    its own process, interleaved with ffmpeg minterpolate on the same clips; medians."""
    jobs: list[tuple[dict, dict]] = []
    anchors: list[tuple[dict, Path, Path]] = []
    for resolution in settings.resolutions:
        width, height = frame_size(resolution)
        progress(f"end to end: making the {resolution} clip")
        clip = bench_clip(width, height, settings.clip_frames)
        size = {"resolution": resolution, "width": width, "height": height}
        for name in settings.backends:
            for precision in supported_precisions(name, device, settings.precisions):
                jobs.append(({**size, "backend": name, "precision": precision},
                             _job_spec(clip, work / f"{resolution}-{name}-{precision}.mp4", name, device, precision,
                                       settings.weights, settings.threads, timed=True)))
        jobs.append(({**size, "backend": PIPELINE_CEILING, "precision": "–"},
                     _job_spec(clip, work / f"{resolution}-{PIPELINE_CEILING}.mp4", PIPELINE_CEILING, "cpu", "fp32",
                               None, settings.threads, timed=False)))
        if Path(FFMPEG).exists():
            anchors.append(({**size, "backend": MINTERPOLATE_ANCHOR}, clip, work / f"{resolution}-minterpolate.mp4"))
    results: dict[int, list[dict]] = {}
    notes: list[str] = []
    failed: set[int] = set()
    for round_index in range(settings.e2e_repeats):
        for index, (key, spec) in enumerate(jobs):
            if index in failed:
                continue
            try:
                run = _spawn_job(spec)
            except RuntimeError as error:
                failed.add(index)
                notes.append(str(error))
                continue
            results.setdefault(index, []).append(run)
        for index, (key, clip, out) in enumerate(anchors):
            results.setdefault(len(jobs) + index, []).append(minterpolate_job(clip, out))
        progress(f"end to end: round {round_index + 1}/{settings.e2e_repeats} done")
    rows = []
    for index, (key, _) in enumerate(jobs):
        if index in results:
            rows.append({**key, **_median_run(results[index])})
    for index, (key, _, _) in enumerate(anchors):
        rows.append({**key, **_median_run(results[len(jobs) + index])})
    if not Path(FFMPEG).exists():
        notes.append(f"ffmpeg minterpolate anchor skipped: {FFMPEG} not found")
    return {"clip_frames": settings.clip_frames, "clip_rate": CLIP_RATE, "tail": E2E_TAIL, "rows": rows, "notes": notes}


def _median_run(runs: list[dict]) -> dict:
    """The run with the median wall time, plus every run's wall time."""
    ordered = sorted(runs, key=lambda run: run["wall_s"])
    middle = dict(ordered[(len(ordered) - 1) // 2])
    middle["wall_samples_s"] = [run["wall_s"] for run in runs]
    if "network_s" in middle:
        busy = middle["network_s"] + middle.get("decode_s", 0.0) + middle.get("encode_s", 0.0)
        middle["overlap_s"] = round(busy - middle["wall_s"], 3)  # work hidden by running stages at once
        middle["network_fraction"] = round(middle["network_s"] / middle["wall_s"], 3)
    return middle


def memory_section(settings: BenchSettings, device: str, work: Path, progress: Callable[[str], None]) -> dict:
    """Peak RSS of a short and a :data:`RSS_LONG_MULTIPLE` times longer job, each in a fresh process."""
    width, height = frame_size(settings.rss_resolution)
    rows = []
    for frames in (settings.rss_frames, settings.rss_frames * RSS_LONG_MULTIPLE):
        progress(f"memory: {frames}-frame {settings.rss_resolution} job")
        clip = bench_clip(width, height, frames)
        run = _spawn_job(_job_spec(clip, work / f"rss-{frames}.mp4", "torch", device, "auto", settings.weights,
                                   settings.threads, timed=False))
        rows.append({"resolution": settings.rss_resolution, "frames_in": run["frames_in"], "frames_out": run["frames_out"],
                     "peak_rss_mb": run["peak_rss_mb"], "peak_gpu_mb": run.get("peak_gpu_mb"), "wall_s": run["wall_s"]})
    short, long = rows[0]["peak_rss_mb"], rows[-1]["peak_rss_mb"]
    return {"rows": rows, "long_over_short": round(long / short, 3)}


# -- targets --------------------------------------------------------------------------------------

def _find(rows: list[dict], **match: Any) -> dict | None:
    return next((row for row in rows if all(row.get(k) == v for k, v in match.items())), None)


def speed_targets(report: dict) -> list[dict]:
    """The recorded speed/memory goals with measured values (never asserted)."""
    targets = []
    network = report.get("network", {}).get("rows", [])
    e2e = report.get("end_to_end", {}).get("rows", [])
    resolution = TARGET_RESOLUTION if _find(e2e, resolution=TARGET_RESOLUTION) else (e2e[0]["resolution"] if e2e else None)
    # The precision a user's job runs here: mixed where the CPU has it (--precision auto), else fp32.
    precision = "mixed" if _find(e2e, resolution=resolution, backend="torch", precision="mixed") else "fp32"
    ours = _find(e2e, resolution=resolution, backend="torch", precision=precision)
    if ours:
        minterpolate = _find(e2e, resolution=resolution, backend=MINTERPOLATE_ANCHOR)
        if minterpolate:
            ratio = ours["output_fps"] / minterpolate["output_fps"]
            targets.append({"target": f"end-to-end x2 at {resolution} faster than ffmpeg minterpolate",
                            "measured": f"{ours['output_fps']:.2f} vs {minterpolate['output_fps']:.2f} fps out ({ratio:.2f}x)",
                            "met": ratio > 1})
        rife = _find(network, resolution=resolution, backend=RIFE_ANCHOR)
        if rife:
            rife_seconds = ours["inbetweens"] * rife["ms_per_inbetween"] / 1000
            ratio = rife_seconds / ours["wall_s"]
            targets.append({"target": f"end-to-end x2 at {resolution} >= {RIFE_SPEEDUP_TARGET:g}x a RIFE-v4.6-shaped network's forward passes alone",
                            "measured": f"job {ours['wall_s']:.2f} s vs {ours['inbetweens']} RIFE-shaped passes {rife_seconds:.2f} s ({ratio:.2f}x)",
                            "met": ratio >= RIFE_SPEEDUP_TARGET})
        torch_batches = [r["batch"] for r in network if r["backend"] == "torch" and r["resolution"] == resolution]
        alone = _find(network, resolution=resolution, backend="torch", precision=precision,
                      batch=max(torch_batches)) if torch_batches else None
        if alone:
            network_only = ours["inbetweens"] * alone["ms_per_inbetween"] / 1000
            ratio = network_only / ours["wall_s"]
            inside = ours["network_s"] / ours["wall_s"]
            targets.append({"target": f"end-to-end throughput >= {E2E_OVER_NETWORK_TARGET:.0%} of network-only",
                            "measured": f"{ours['inbetweens']} in-betweens: network alone {network_only:.2f} s (batch {alone['batch']}), "
                                        f"job {ours['wall_s']:.2f} s ({ratio:.0%}); inside the job the network took "
                                        f"{ours['network_s']:.2f} s ({inside:.0%} of its wall time)",
                            "met": ratio >= E2E_OVER_NETWORK_TARGET})
    factors = report.get("network", {}).get("factors", [])
    f2, f8 = _find(factors, factor=2), _find(factors, factor=8)
    if f2 and f8:
        ratio = f8["ms_per_pair"] / f2["ms_per_pair"]
        targets.append({"target": f"network cost of factor 8 <= {FACTOR8_OVER_FACTOR2_TARGET:g}x factor 2",
                        "measured": f"{f8['ms_per_pair']:.0f} vs {f2['ms_per_pair']:.0f} ms per pair ({ratio:.2f}x; 7 full passes would be 7x)",
                        "met": ratio <= FACTOR8_OVER_FACTOR2_TARGET})
    memory = report.get("memory")
    if memory:
        ratio = memory["long_over_short"]
        targets.append({"target": f"peak RSS flat: {RSS_LONG_MULTIPLE}x longer clip within {RSS_AGREEMENT:.0%}",
                        "measured": " vs ".join(f"{row['frames_in']} frames {row['peak_rss_mb']:.0f} MB" for row in memory["rows"]) + f" ({ratio:.2f}x)",
                        "met": abs(ratio - 1) <= RSS_AGREEMENT})
    return targets


# -- report ---------------------------------------------------------------------------------------

def _number(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def network_table_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    header = ["resolution", "backend", "precision", "batch", "ms / in-between", "in-betweens / s", "vs RIFE-shaped", "peak GPU MB"]
    rows = []
    network = report["network"]["rows"]
    for row in network:
        rife = _find(network, resolution=row["resolution"], backend=RIFE_ANCHOR)
        ratio = rife["ms_per_inbetween"] / row["ms_per_inbetween"] if rife else None
        rows.append([f"{row['resolution']} ({row['width']}x{row['height']})", row["backend"], row["precision"], str(row["batch"]),
                     _number(row["ms_per_inbetween"], 0), _number(row["inbetweens_per_s"], 2),
                     "anchor" if row["backend"] == RIFE_ANCHOR else f"{ratio:.2f}x faster", _number(row["peak_gpu_mb"])])
    return header, rows


def e2e_table_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    header = ["resolution", "job", "fps out", "wall s", "network s", "measure s", "decode s", "encode s", "overlap s",
              "network share", "peak RSS MB", "peak GPU MB", "vs minterpolate"]
    rows = []
    e2e = report["end_to_end"]["rows"]
    for row in e2e:
        anchor = _find(e2e, resolution=row["resolution"], backend=MINTERPOLATE_ANCHOR)
        name = row["backend"] if row["backend"] in (MINTERPOLATE_ANCHOR, PIPELINE_CEILING) else f"fpsboost {row['backend']} {row['precision']}"
        versus = "anchor" if row["backend"] == MINTERPOLATE_ANCHOR else (
            f"{row['output_fps'] / anchor['output_fps']:.2f}x" if anchor else "–")
        share = row.get("network_fraction")
        rows.append([row["resolution"], name, _number(row["output_fps"], 2), _number(row["wall_s"], 2),
                     _number(row.get("network_s"), 2), _number(row.get("measure_s"), 2), _number(row.get("decode_s"), 2),
                     _number(row.get("encode_s"), 2),
                     _number(row.get("overlap_s"), 2), "–" if share is None else f"{share:.0%}",
                     _number(row.get("peak_rss_mb"), 0), _number(row.get("peak_gpu_mb")), versus])
    return header, rows


def scaling_table_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    header = ["scaling", "measure", "value"]
    rows = []
    network = report["network"]["rows"]
    torch_rows = [r for r in network if r["backend"] == "torch" and r["precision"] == "fp32" and r["batch"] == 1]
    if len(torch_rows) > 1:
        first, last = torch_rows[0], torch_rows[-1]
        pixels = (last["width"] * last["height"]) / (first["width"] * first["height"])
        rows.append([f"pixels {first['resolution']} -> {last['resolution']}", "ms per in-between (torch fp32, batch 1)",
                     f"{first['ms_per_inbetween']:.0f} -> {last['ms_per_inbetween']:.0f} ({last['ms_per_inbetween'] / first['ms_per_inbetween']:.2f}x for {pixels:.2f}x pixels)"])
    factors = report["network"]["factors"]
    base = _find(factors, factor=2)
    for row in factors:
        rows.append([f"factor {row['factor']} ({row['resolution']})", "ms per pair (all its in-betweens)",
                     f"{row['ms_per_pair']:.0f} ({row['ms_per_pair'] / base['ms_per_pair']:.2f}x factor 2), {row['ms_per_inbetween']:.0f} per in-between"])
    memory = report.get("memory")
    if memory:
        for row in memory["rows"]:
            rows.append([f"memory {row['resolution']}", f"{row['frames_in']}-frame job, own process",
                         f"peak RSS {row['peak_rss_mb']:.0f} MB" + (f", GPU {row['peak_gpu_mb']:.0f} MB" if row.get("peak_gpu_mb") else "")])
    return header, rows


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _print_table(console: Any, title: str, header: list[str], rows: list[list[str]]) -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in header:
        table.add_column(column)
    for row in rows:
        ours = row[1].startswith("fpsboost") or row[1] in ("torch", "onnx")
        table.add_row(*row, style="bold" if ours else None)
    console.print(table)


def extrapolation_results() -> dict | None:
    """What ``fpsboost bench extrapolation`` recorded in benchmarks/extrapolation/results.json, if present."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "extrapolation" / "results.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def markdown_report(report: dict) -> str:
    """RESULTS.md: machine, commit, every table, targets and notes."""
    from .quality import quality_header, quality_markdown

    machine = report["machine"]
    lines = ["# fpsboost benchmark results", "",
             f"Measured by `{report['command']}` at commit `{report['commit']}` with weights "
             f"`{report['model'].get('version', '?')}` (step {report['model'].get('step', '?')}) in {report['wall_s']:.0f} s.", "",
             f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine.get('memory_gib', '?')} GiB, "
             f"device {machine['device']}{' (' + machine['gpu'] + ')' if machine.get('gpu') else ''}; torch {machine['torch']} "
             f"({machine['torch_threads']} threads), onnxruntime {machine.get('onnxruntime', '–')}, {machine.get('ffmpeg', 'no ffmpeg')}. "
             f"Load average at start {machine.get('load_average_start')}, at end {machine.get('load_average_end')}.", ""]
    if report.get("machine_note"):
        lines += [report["machine_note"], ""]
    if "network" in report:
        lines += ["## Network alone (factor 2: one in-between per pair; median of interleaved rounds)", "",
                  _markdown_table(*network_table_rows(report)), ""]
        lines += ["## End to end (`--factor 2` through the pipeline, each job in its own process)", "",
                  f"Clips: {report['end_to_end']['clip_frames']} generated frames at {report['end_to_end']['clip_rate']} fps, "
                  f"`--tail {report['end_to_end'].get('tail', 'extrapolate')}` (the streaming rate; an extrapolated tail is a fixed cost per job). "
                  "network s: time inside the network during the job; measure s: time measuring the pairs (DIS and the "
                  "rest) on the job's measuring thread, beside the network; decode s / encode s: the same decoding and encoding "
                  "timed alone; overlap s = network + decode + encode - wall (work the three threads did at once). "
                  f"`{PIPELINE_CEILING}`: the same job with a network that takes no time (in-betweens are copies), "
                  "the ceiling this CPU puts on any device.", "",
                  _markdown_table(*e2e_table_rows(report)), ""]
        lines += ["## Scaling", "", _markdown_table(*scaling_table_rows(report)), ""]
    if report.get("targets"):
        lines += ["## Speed targets (recorded, not asserted)", "", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'no'} |" for t in report["targets"]]
        lines.append("")
    if report.get("quality"):
        source = f" (from `{report['quality_source']}`, measured just before)" if report.get("quality_source") else ""
        lines += [f"## Quality of in-betweens{source}", "", quality_header(report["quality"]), quality_markdown(report["quality"])]
    extrapolation = report.get("extrapolation")
    if extrapolation:
        lines += ["## Extrapolation (as recorded by fpsboost bench extrapolation)", "",
                  f"From `benchmarks/extrapolation/results.json` (commit `{extrapolation.get('commit', '?')}`); "
                  "see benchmarks/extrapolation/RESULTS.md for the per-step table.", ""]
    notes = report.get("notes", [])
    if notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in notes] + [""]
    return "\n".join(lines)


def print_report(report: dict) -> None:
    from rich.console import Console

    from .quality import print_quality

    console = Console()
    if "network" in report:
        _print_table(console, "Network alone: ms per in-between (median)", *network_table_rows(report))
        _print_table(console, "End to end, --factor 2", *e2e_table_rows(report))
        _print_table(console, "Scaling", *scaling_table_rows(report))
        for target in report["targets"]:
            console.print(f"{'met' if target['met'] else 'NOT met'}: {target['target']} — {target['measured']}")
    if report.get("quality"):
        print_quality(report["quality"])
    for note in report.get("notes", []):
        console.print(f"note: {note}")


def plot_report(report: dict, path: str) -> None:
    """Throughput against resolution, and quality bars, into one PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise OptionError("--plot needs matplotlib: pip install 'fpsboost[plot]' (or pip install matplotlib)") from None
    panels = ("network" in report) + bool(report.get("quality"))
    if not panels:
        raise OptionError("--plot: nothing to plot (no speed or quality section in this run)")
    figure, axes = plt.subplots(1, panels, figsize=(7 * panels, 4.8), squeeze=False)
    axes = list(axes[0])
    if "network" in report:
        axis = axes.pop(0)
        network = report["network"]["rows"]
        series: dict[str, list[tuple[float, float]]] = {}
        for row in network:
            label = RIFE_ANCHOR + " (network)" if row["backend"] == RIFE_ANCHOR else f"{row['backend']} {row['precision']} b{row['batch']} (network)"
            series.setdefault(label, []).append((row["width"] * row["height"] / 1e6, row["inbetweens_per_s"]))
        for row in report["end_to_end"]["rows"]:
            label = MINTERPOLATE_ANCHOR + " (end to end)" if row["backend"] == MINTERPOLATE_ANCHOR else f"fpsboost {row['backend']} {row['precision']} (end to end)"
            series.setdefault(label, []).append((row["width"] * row["height"] / 1e6, row["output_fps"] / 2))
        for label, points in series.items():
            points.sort()
            style = "--" if "end to end" in label else "-"
            axis.plot([p[0] for p in points], [p[1] for p in points], style, marker="o", label=label)
        axis.set_xlabel("megapixels per frame")
        axis.set_ylabel("in-betweens per second (end to end: output fps / 2)")
        axis.set_yscale("log")
        axis.set_title(f"Throughput on {report['machine']['device']} ({report['machine']['cores']} cores)")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7)
    if report.get("quality"):
        axis = axes.pop(0)
        rows = [row for row in report["quality"]["rows"] if row["split"] in ("all", "large")]
        groups = list(dict.fromkeys((row["set"] if row["split"] == "all" else f"{row['set']} large") for row in rows))
        methods = list(dict.fromkeys(row["method"] for row in rows))
        width = 0.8 / len(methods)
        for offset, method in enumerate(methods):
            values = []
            for group in groups:
                set_name, split = (group[:-6], "large") if group.endswith(" large") else (group, "all")
                row = _find(rows, set=set_name, split=split, method=method)
                values.append(row["per_t"].get("0.5", {}).get("psnr") if row else None)
            axis.bar([i + offset * width for i in range(len(groups))], [v or 0 for v in values], width, label=method)
        axis.set_xticks([i + 0.4 - width / 2 for i in range(len(groups))])
        axis.set_xticklabels([g.replace(" (", "\n(") for g in groups], fontsize=7)
        axis.set_ylabel("PSNR at t = 0.5 (dB)")
        low = min((r["per_t"].get("0.5", {}).get("psnr") or 99) for r in rows)
        axis.set_ylim(max(0, low - 3), None)
        axis.set_title("In-between quality (held-out)")
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# -- the run --------------------------------------------------------------------------------------

def run_bench(settings: BenchSettings, progress: Callable[[str], None] = lambda message: None) -> dict:
    """Every section ``settings`` asks for; returns the JSON-ready report (see the module docstring)."""
    from ..backends.torch_backend import resolve_device
    from .quality import QualitySettings, run_quality

    device = resolve_device(settings.device)
    limit_threads(settings.threads)
    started = time.perf_counter()
    report: dict[str, Any] = {"commit": git_commit(), "settings": asdict(settings), "machine": machine_info(device),
                              "model": describe_weights(settings.weights), "notes": []}
    if settings.speed:
        with tempfile.TemporaryDirectory(prefix="fpsboost-bench-") as folder:
            report["network"] = network_section(settings, device, progress)
            report["end_to_end"] = end_to_end_section(settings, device, Path(folder), progress)
            report["memory"] = memory_section(settings, device, Path(folder), progress)
        report["notes"] += report["network"]["notes"] + report["end_to_end"]["notes"]
        report["targets"] = speed_targets(report)
    if settings.quality:
        width, height = settings.quality_size
        quality = QualitySettings(synthetic_pairs=settings.synthetic_pairs, width=width, height=height,
                                  real_dir=settings.real_dir, weights=settings.weights, device=device)
        if settings.quick:
            quality = replace(quality, scan_limit=QUICK_SCAN_LIMIT)
        report["quality"] = run_quality(quality, progress)
        report["extrapolation"] = extrapolation_results()
    report["machine"]["load_average_end"] = load_average()
    report["wall_s"] = round(time.perf_counter() - started, 1)
    return report
