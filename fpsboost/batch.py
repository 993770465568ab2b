"""``fpsboost batch``: many videos, each cut into chunks, run in parallel on Ray, resumable, frame-exact.

For every input the work is (see :mod:`fpsboost.chunking` for why the result equals the single job's):

1. **plan** (a Ray task): decode once, decide keyframes, cuts and the output grid -> ``plan.json``;
2. **chunks** (Ray tasks, at most ``workers`` at a time): each runs the main job's engine on its run of
   keys (:meth:`UpscaleJob.run_chunk <fpsboost.pipeline.UpscaleJob.run_chunk>`) and writes a
   video-only chunk file plus a record of its exact packet times, each moved into place when
   complete;
3. **join** (here, in the driver): the chunks by stream copy, then the source's audio, subtitles
   and chapters, written under a temporary name and renamed when whole.

Everything lives in ``OUT_DIR/.fpsboost-batch/<options>/``: one folder per input, keyed by the
options' fingerprint, so a second run with the same command finds the plans and chunks already
made and does only what is missing (after a crash, Ctrl-C, ``kill -9`` of the driver or of a
worker); Ray itself retries a chunk whose worker died. ``manifest.json`` beside them records each
input's state for people and tools. Ray is an optional dependency (``pip install 'fpsboost[batch]'``);
nothing else in fpsboost imports this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import time as wallclock
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from . import __version__
from .cadence import CadenceSettings
from .chunking import DEFAULT_CHUNK_FRAMES, Chunk, VideoPlan, analyse_video, plan_chunks
from .errors import FpsboostError, InputError, OptionError, OutputError
from .pipeline import UpscaleSettings
from .backends import ModelSettings
from .video.writer import EncodeSettings

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".m4v", ".avi", ".webm", ".ts", ".m2ts", ".mts", ".flv", ".wmv",
                            ".mpg", ".mpeg", ".ogv", ".y4m", ".nut"})
STATE_FOLDER = ".fpsboost-batch"
MANIFEST_NAME = "manifest.json"
CPUS_PER_LOCAL_WORKER = 2  # default split of a machine's cores: network threads per chunk
CHUNK_RETRIES = 3  # Ray re-runs a chunk whose worker process died this many times
WAIT_POLL_S = 0.5


@dataclass(frozen=True)
class JobOptions:
    """The main job's options, as ``fpsboost IN OUT`` takes them: one picklable object per batch."""

    upscale: UpscaleSettings = UpscaleSettings()
    model: ModelSettings = ModelSettings()
    encode: EncodeSettings = EncodeSettings()
    cadence: CadenceSettings = CadenceSettings()

    def fingerprint(self) -> str:
        """Names the state folder: chunks made with other options (or another fpsboost) are never reused.
        ``overwrite`` is left out: it says what may happen to finished outputs, not how they are made."""
        encode = asdict(self.encode)
        encode.pop("overwrite")
        text = json.dumps([__version__, asdict(self.upscale), asdict(self.model), encode, asdict(self.cadence)],
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class BatchSettings:
    """Where the outputs go and how the work is spread.

    ``address``: a Ray cluster to join (``HOST:PORT`` or ``auto``); None starts one on this machine
    (unless ``RAY_ADDRESS`` names one). ``workers``: chunks running at once (None: one per
    ``gpus_per_worker`` GPUs where asked for, else one per :data:`CPUS_PER_LOCAL_WORKER` cores).
    ``chunk_frames``: source frames per chunk, at least (chunks end at scene cuts or segment starts).
    """

    out_dir: str
    address: str | None = None
    workers: int | None = None
    gpus_per_worker: float = 0.0
    chunk_frames: int = DEFAULT_CHUNK_FRAMES

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise OptionError(f"--workers must be at least 1, got {self.workers}")
        if self.gpus_per_worker < 0:
            raise OptionError(f"--gpus-per-worker must be at least 0, got {self.gpus_per_worker}")
        if self.chunk_frames < 1:
            raise OptionError(f"--chunk-frames must be at least 1, got {self.chunk_frames}")


@dataclass
class WorkItem:
    """One input and where its output and its chunks go."""

    input_path: Path
    relative: str  # the output's path under the output folder
    output_path: Path
    state_dir: Path


@dataclass
class FileResult:
    """How one input ended: ``done``, ``skipped`` (finished by an earlier run) or ``failed``."""

    input_path: str
    output_path: str
    state: str
    error: str | None = None
    chunks: int = 0
    chunks_run: int = 0  # chunks this run made (the rest were found done)
    frames_out: int = 0


@dataclass
class BatchProgress:
    """What the whole batch has done so far (for the progress bar)."""

    files_total: int
    files_done: int = 0
    chunks_total: int = 0
    chunks_done: int = 0
    frames_total: int = 0
    frames_done: int = 0
    frames_made: int = 0  # by this run, for its rate
    started: float = field(default_factory=wallclock.monotonic)

    @property
    def output_fps(self) -> float:
        elapsed = wallclock.monotonic() - self.started
        return self.frames_made / elapsed if elapsed > 0 else 0.0


def collect_inputs(paths: list[str], out_dir: str | Path, fingerprint: str) -> list[WorkItem]:
    """Files as given and video files found under folders (recursively, sorted), each with its output
    at the same relative path under ``out_dir`` (a folder's files relative to it, a file by its name)."""
    out = Path(out_dir)
    items: list[WorkItem] = []
    seen: dict[Path, Path] = {}
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                           and STATE_FOLDER not in p.parts)
            pairs = [(p, p.relative_to(path)) for p in found]
        elif path.is_file():
            pairs = [(path, Path(path.name))]
        else:
            raise InputError(f"input {path} does not exist")
        for source, relative in pairs:
            output = out / relative
            if output.resolve() in seen:
                raise InputError(f"{source} and {seen[output.resolve()]} would both be written to {output}")
            seen[output.resolve()] = source
            # A changed input (another size or modification time) gets a fresh plan and fresh chunks.
            stat = source.stat()
            state = out / STATE_FOLDER / fingerprint / f"{relative.as_posix().replace('/', '__')}@{stat.st_size}-{stat.st_mtime_ns}"
            items.append(WorkItem(source, relative.as_posix(), output, state))
    if not items:
        raise InputError("no video files among the inputs")
    return items


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(text)
    os.replace(partial, path)


# -- Ray tasks (run in worker processes) --------------------------------------------------------

_BACKENDS: dict[ModelSettings, Any] = {}  # one loaded network per worker process and model setting


def _worker_backend(model: ModelSettings) -> Any:
    from .backends import create_backend

    if model not in _BACKENDS:
        _BACKENDS[model] = create_backend(model)
    return _BACKENDS[model]


def plan_task(input_path: str, options: JobOptions, plan_path: str) -> str:
    """Decide the keys of one input and write its plan (JSON, also returned)."""
    plan = analyse_video(input_path, options.upscale.output_rate, options.cadence)
    text = plan.to_json()
    _write_atomically(Path(plan_path), text)
    return text


def chunk_task(input_path: str, options: JobOptions, plan_text: str, chunk: Chunk, chunk_path: str, record_path: str,
               threads: int) -> dict:
    """Make one chunk file and then its record (exact packet times, counts); returns the record."""
    import torch

    from .pipeline import UpscaleJob, model_for_width
    from .video.reader import probe

    torch.set_num_threads(max(1, threads))
    plan = VideoPlan.from_json(plan_text)
    model = options.model
    # The backend is cached per process with the flow scale the job resolves for this width.
    resolved = model_for_width(model, probe(input_path).width)
    # A chunk file left by a run that died before writing the chunk's record is made again.
    encode = replace(options.encode, overwrite=True)
    job = UpscaleJob(input_path, chunk_path, options.upscale, model, encode, options.cadence,
                     backend=_worker_backend(resolved))
    summary = job.run_chunk(plan, chunk)
    record = {"chunk": chunk.number, "frames_out": summary.frames_out, "packet_times": job.packet_times,
              "warnings": list(summary.warnings), "backend": summary.backend, "seconds": round(summary.wall_time_s, 3)}
    _write_atomically(Path(record_path), json.dumps(record))
    return record


# -- the driver ---------------------------------------------------------------------------------


class _FileState:
    """One input while the batch runs: its plan, chunks, which are done, whether it failed."""

    def __init__(self, item: WorkItem) -> None:
        self.item = item
        self.plan: VideoPlan | None = None
        self.plan_ref: Any = None  # the plan's JSON in Ray's object store
        self.chunks: list[Chunk] = []
        self.done: set[int] = set()
        self.run_here: set[int] = set()
        self.error: str | None = None
        self.finished = False

    def chunk_path(self, chunk: Chunk) -> Path:
        return self.item.state_dir / f"chunk-{chunk.number:05d}{self.item.output_path.suffix}"

    def record_path(self, chunk: Chunk) -> Path:
        return self.item.state_dir / f"chunk-{chunk.number:05d}.json"

    def is_chunk_done(self, chunk: Chunk) -> bool:
        return self.record_path(chunk).is_file() and self.chunk_path(chunk).is_file()


class BatchRunner:
    """Runs a batch on Ray; see the module docstring. ``on_progress`` gets a :class:`BatchProgress`
    now and then, ``on_file`` each :class:`FileResult` as it is decided."""

    def __init__(self, inputs: list[str], options: JobOptions, settings: BatchSettings,
                 on_progress: Callable[[BatchProgress], None] = lambda progress: None,
                 on_file: Callable[[FileResult], None] = lambda result: None,
                 on_warning: Callable[[str], None] = lambda message: None) -> None:
        self.options, self.settings = options, settings
        self.out_dir = Path(settings.out_dir)
        self.fingerprint = options.fingerprint()
        self.items = collect_inputs(inputs, self.out_dir, self.fingerprint)
        self._on_progress, self._on_file, self._warn = on_progress, on_file, on_warning
        self.progress = BatchProgress(files_total=len(self.items))
        self.results: dict[str, FileResult] = {}

    # -- set-up ---------------------------------------------------------------------------------
    def _start_ray(self) -> Any:
        try:
            import ray
        except ImportError:
            raise OptionError("fpsboost batch needs Ray: pip install 'fpsboost[batch]'") from None
        address = self.settings.address or os.environ.get("RAY_ADDRESS")
        if not ray.is_initialized():
            try:
                if address:
                    ray.init(address=address, log_to_driver=False, configure_logging=False)
                else:
                    # Ray runs its workers at niceness 15 by default; here they do the user's job itself.
                    os.environ.setdefault("RAY_worker_niceness", "0")
                    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise OptionError(f"cannot start or join Ray ({address or 'local'}): {str(error).splitlines()[0]}") from None
        return ray

    def _worker_shape(self, ray: Any) -> tuple[int, float, float]:
        """(workers, CPUs per worker, GPUs per worker) for this cluster and these settings."""
        resources = ray.cluster_resources()
        cpus = max(1, int(resources.get("CPU", 1)))
        gpus = float(resources.get("GPU", 0))
        gpus_per_worker = self.settings.gpus_per_worker
        if gpus_per_worker > 0 and gpus < gpus_per_worker:
            raise OptionError(f"--gpus-per-worker {gpus_per_worker}: the cluster has {gpus:g} GPU(s)")
        workers = self.settings.workers
        if workers is None:
            workers = int(gpus // gpus_per_worker) if gpus_per_worker > 0 else max(1, cpus // CPUS_PER_LOCAL_WORKER)
        # A task must fit on one node: never ask for more CPUs than the largest node has.
        largest_node = max((node["Resources"].get("CPU", 0) for node in ray.nodes() if node.get("Alive")), default=cpus)
        return workers, max(1.0, min(cpus // workers, largest_node)), gpus_per_worker

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> list[FileResult]:
        """Do every input; returns one result per input (in input order)."""
        try:
            (self.out_dir / STATE_FOLDER).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"cannot create --out-dir {self.out_dir}: {error.strerror or error}") from None
        states = [_FileState(item) for item in self.items]
        waiting = [state for state in states if not self._finished_before(state)]
        self._write_manifest(states)
        if waiting:
            ray = self._start_ray()
            workers, cpus, gpus = self._worker_shape(ray)
            self._run_on_ray(ray, waiting, states, workers, cpus, gpus)
        self._write_manifest(states)
        return [self.results[state.item.relative] for state in states]

    def _finished_before(self, state: _FileState) -> bool:
        """An output a previous run of this batch finished is kept; any other existing file is an error."""
        item = state.item
        marker = item.state_dir / "done.json"
        if item.output_path.exists() and marker.is_file() and not self.options.encode.overwrite:
            result = FileResult(str(item.input_path), str(item.output_path), "skipped", **json.loads(marker.read_text()))
            self._decide(state, result)
            return True
        if item.output_path.exists() and not self.options.encode.overwrite:
            self._decide(state, FileResult(str(item.input_path), str(item.output_path), "failed",
                                           f"{item.output_path} already exists (use --overwrite to replace it)"))
            return True
        return False

    def _decide(self, state: _FileState, result: FileResult) -> None:
        state.finished = True
        state.error = result.error
        self.results[state.item.relative] = result
        self.progress.files_done += 1
        self._on_file(result)
        self._on_progress(self.progress)

    def _run_on_ray(self, ray: Any, waiting: list[_FileState], states: list[_FileState], workers: int, cpus: float,
                    gpus: float) -> None:
        remote_plan = ray.remote(num_cpus=1, max_retries=CHUNK_RETRIES)(plan_task)
        remote_chunk = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=CHUNK_RETRIES)(chunk_task)
        in_flight: dict[Any, tuple[str, _FileState, Chunk | None]] = {}
        ready_chunks: list[tuple[_FileState, Chunk]] = []
        plans_to_make: list[_FileState] = []
        for state in waiting:
            state.item.state_dir.mkdir(parents=True, exist_ok=True)
            plan_path = state.item.state_dir / "plan.json"
            if plan_path.is_file():
                ready_chunks += self._accept_plan(state, plan_path.read_text())
            else:
                plans_to_make.append(state)
        try:
            while in_flight or ready_chunks or plans_to_make:
                # Plans first (they decide the work), then chunks in input order, never more than `workers` at once.
                while plans_to_make and len(in_flight) < workers:
                    state = plans_to_make.pop(0)
                    ref = remote_plan.remote(str(state.item.input_path), self.options, str(state.item.state_dir / "plan.json"))
                    in_flight[ref] = ("plan", state, None)
                while ready_chunks and len(in_flight) < workers:
                    state, chunk = ready_chunks.pop(0)
                    if state.error is not None:
                        continue
                    if state.plan_ref is None:  # one copy of a (long) film's plan in Ray's object store, not one per chunk
                        state.plan_ref = ray.put(state.plan.to_json())
                    ref = remote_chunk.remote(str(state.item.input_path), self.options, state.plan_ref, chunk,
                                              str(state.chunk_path(chunk)), str(state.record_path(chunk)), int(cpus))
                    in_flight[ref] = ("chunk", state, chunk)
                if not in_flight:
                    continue
                finished, _ = ray.wait(list(in_flight), num_returns=1, timeout=WAIT_POLL_S)
                for ref in finished:
                    kind, state, chunk = in_flight.pop(ref)
                    try:
                        value = ray.get(ref)
                    except Exception as error:  # noqa: BLE001 - a task's failure fails its file, not the batch
                        self._fail(state, _reason(error))
                        ready_chunks = [(s, c) for s, c in ready_chunks if s is not state]
                        continue
                    if kind == "plan":
                        ready_chunks += self._accept_plan(state, value)
                    else:
                        self._chunk_done(state, chunk, value["frames_out"])
                if finished:
                    self._write_manifest(states)
        except KeyboardInterrupt:
            for ref in in_flight:
                ray.cancel(ref, force=True)
            raise

    def _accept_plan(self, state: _FileState, plan_text: str) -> list[tuple[_FileState, Chunk]]:
        """The input's chunks; those a previous run made count as done. Joins at once if all are."""
        state.plan = VideoPlan.from_json(plan_text)
        state.chunks = plan_chunks(state.plan, self.settings.chunk_frames)
        self.progress.chunks_total += len(state.chunks)
        self.progress.frames_total += sum(chunk.output_frames for chunk in state.chunks)
        todo = []
        for chunk in state.chunks:
            if state.is_chunk_done(chunk):
                state.done.add(chunk.number)
                self.progress.chunks_done += 1
                self.progress.frames_done += chunk.output_frames
            else:
                todo.append((state, chunk))
        self._on_progress(self.progress)
        if not todo:
            self._join(state)
        return todo

    def _chunk_done(self, state: _FileState, chunk: Chunk, frames: int) -> None:
        state.done.add(chunk.number)
        state.run_here.add(chunk.number)
        self.progress.chunks_done += 1
        self.progress.frames_done += frames
        self.progress.frames_made += frames
        self._on_progress(self.progress)
        if len(state.done) == len(state.chunks) and not state.finished:  # (a failed file's last chunks are kept, not joined)
            self._join(state)

    def _join(self, state: _FileState) -> None:
        from .video.reader import probe
        from .video.writer import join_chunks

        item = state.item
        try:
            item.output_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self._fail(state, f"cannot create {item.output_path.parent}: {error.strerror or error}")
            return
        try:
            parts = [(state.chunk_path(chunk), [tuple(times) for times in json.loads(state.record_path(chunk).read_text())["packet_times"]])
                     for chunk in state.chunks]
            join_chunks(parts, probe(item.input_path), state.plan.out_rate, item.output_path, self._warn,
                        overwrite=self.options.encode.overwrite)
        except FpsboostError as error:
            self._fail(state, str(error))
            return
        frames = sum(chunk.output_frames for chunk in state.chunks)
        done = {"chunks": len(state.chunks), "chunks_run": len(state.run_here), "frames_out": frames}
        _write_atomically(item.state_dir / "done.json", json.dumps(done))
        for chunk in state.chunks:  # the output is whole: its pieces are no longer needed
            state.chunk_path(chunk).unlink(missing_ok=True)
        self._decide(state, FileResult(str(item.input_path), str(item.output_path), "done", **done))

    def _fail(self, state: _FileState, reason: str) -> None:
        if state.finished:
            return
        self._decide(state, FileResult(str(state.item.input_path), str(state.item.output_path), "failed", reason,
                                       chunks=len(state.chunks), chunks_run=len(state.run_here)))

    def _write_manifest(self, states: list[_FileState]) -> None:
        files = {}
        for state in states:
            result = self.results.get(state.item.relative)
            files[state.item.relative] = {
                "input": str(state.item.input_path),
                "output": str(state.item.output_path),
                "state": result.state if result else ("running" if state.plan else "pending"),
                "error": result.error if result else None,
                "chunks": [{"number": chunk.number, "first_key": chunk.first, "end_key": chunk.end,
                            "source_frames": chunk.source_frames, "output_frames": chunk.output_frames,
                            "state": "done" if chunk.number in state.done else "pending"} for chunk in state.chunks],
            }
        manifest = {"fpsboost": __version__, "options": self.fingerprint, "files": files}
        _write_atomically(self.out_dir / STATE_FOLDER / MANIFEST_NAME, json.dumps(manifest, indent=1))


def _reason(error: BaseException) -> str:
    """One line for a failed task: the fpsboost error inside Ray's wrapper, else the error's first line."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, FpsboostError):
        return str(cause)
    text = str(cause or error).strip().splitlines()
    return text[-1] if text else type(error).__name__
