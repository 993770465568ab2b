"""The main job: decode -> keyframes and cuts -> exact timing -> batched interpolation -> encode.

Three threads, joined by bounded queues so memory does not grow with the length of the video:

* the decode thread iterates :class:`~fpsboost.video.reader.VideoReader`;
* the calling thread runs cadence/cut analysis, :class:`~fpsboost.timing.FramePlanner`, batching and
  the backend's network (the backend releases the GIL while it computes); a backend that can prepare
  a batch apart from its network has it measured on the batcher's measuring thread meanwhile
  (:class:`~fpsboost.batching.PairBatcher`);
* the encode thread converts results to uint16 and feeds :class:`~fpsboost.video.writer.VideoWriter`.

A source frame is referenced only until the analyser has decided whether it is a keyframe, and a
keyframe only until the batches that use it are written.
"""

from __future__ import annotations

import json
import queue
import threading
import time as wallclock
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

import numpy as np

from .backends import InterpolationBackend, ModelSettings, create_backend
from .batching import KeyImage, PairBatcher
from .backends.base import PreparedPairs, batch_size_for_frames, resolve_flow_scale
from .cadence import CadenceAnalyzer, CadenceSettings, Shot, frame_signature
from .chunking import MIN_INPUT_FRAMES, Chunk, PlannedKey, SegmentRule, VideoPlan
from .errors import InputError, ModelError, OptionError, OutputError
from .timing import FrameClock, FramePlanner, Keyframe, OutputFrame, output_frame_count
from .video.colour import chw_to_rgb16, rgb16_to_chw
from .video.reader import DecodedFrame, VideoInfo, VideoReader
from .video.writer import EncodeSettings, VideoWriter

DEFAULT_FACTOR = 2
KEPT_KEYS = 4  # a pair's two keys, the key before it and the key after it
TAIL_MODES = ("hold", "extrapolate")
DEFAULT_TAIL = "extrapolate"  # +6.9..9.5 dB over hold at the tail: benchmarks/extrapolation
# Queue depths bound memory: at 4K one float32 frame is ~100 MB, so the queues stay short; a
# few frames of slack are enough to keep decode, network and encode busy at once.
DECODE_QUEUE_FRAMES = 8
ENCODE_QUEUE_FRAMES = 8
# A call gets at most batch_size pairs and batch_size * this many in-betweens (long holds give one
# pair dozens of timesteps; they are split over several calls rather than one huge one).
QUEUE_POLL_S = 0.1
_OUT_OF_MEMORY_MARKERS = (
    "out of memory",
    "failed to allocate memory",
    "cudaerrormemoryallocation",
    "cuda_error_out_of_memory",
    "cublas_status_alloc_failed",
    "bfcarena",
)

ProgressCallback = Callable[["Progress"], None]
WarningCallback = Callable[[str], None]


@dataclass(frozen=True)
class UpscaleSettings:
    """What output rate to make: ``factor`` times the input's average rate, or ``fps`` exactly.

    ``factor`` is a whole number >= 2; ``fps`` a positive rate in frames per second. At most one
    may be given; with neither the factor is :data:`DEFAULT_FACTOR`. ``report_path``: where to write
    a JSON report of every source frame's role (keyframe, hold, cut), or None. ``tail``: what
    fills the output frames after the last drawing: ``hold`` it, or ``extrapolate`` its motion
    (:class:`~fpsboost.extrapolation.TailFiller`).
    """

    factor: int | None = None
    fps: Fraction | None = None
    report_path: str | None = None
    tail: str = DEFAULT_TAIL

    def __post_init__(self) -> None:
        if self.factor is not None and self.fps is not None:
            raise OptionError("give either --factor or --fps, not both")
        if self.factor is not None:
            if isinstance(self.factor, bool) or not isinstance(self.factor, (int, np.integer)) or self.factor < 2:
                raise OptionError(f"--factor must be a whole number of at least 2, got {self.factor!r} (use --fps for other rates)")
        if self.fps is not None and not Fraction(self.fps) > 0:
            raise OptionError(f"--fps must be positive, got {self.fps}")
        if self.tail not in TAIL_MODES:
            raise OptionError(f"--tail must be {' or '.join(TAIL_MODES)}, got {self.tail!r}")

    def output_rate(self, input_rate: Fraction) -> Fraction:
        """Output frames per second for an input whose average rate is ``input_rate``."""
        if self.fps is not None:
            return Fraction(self.fps)
        return Fraction(input_rate) * (self.factor or DEFAULT_FACTOR)


@dataclass(frozen=True)
class Progress:
    """Where a running job stands: frames decoded and written, the expected total out (None when
    the input does not declare its duration), and seconds since frames started flowing (model
    loading left out, so ``output_fps`` is the steady rate)."""

    frames_in: int
    frames_out: int
    total_out: int | None
    elapsed_s: float

    @property
    def output_fps(self) -> float:
        return self.frames_out / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True)
class UpscaleSummary:
    """What a finished job did. Times in seconds, rates in frames per second."""

    input_path: str
    output_path: str
    frames_in: int
    frames_out: int
    keyframes: int
    scene_cuts: int
    holds: int
    tail_predicted: int
    input_rate: Fraction
    output_rate: Fraction
    duration: Fraction
    wall_time_s: float
    backend: str
    warnings: tuple[str, ...] = ()
    flow_scale: str = "1"  # the job's --flow-scale (auto resolved for the width), used for pairs one frame apart
    pairs_by_flow_scale: dict[str, int] = field(default_factory=dict)  # frame pairs interpolated at each --flow-scale
    shots: tuple[Shot, ...] = ()  # source frames between cuts, each with its cadence (twos, threes, ...)

    @property
    def throughput_fps(self) -> float:
        """Output frames written per wall-clock second."""
        return self.frames_out / self.wall_time_s if self.wall_time_s > 0 else 0.0


def model_for_width(model: ModelSettings, width: int) -> ModelSettings:
    """``model`` with ``--flow-scale auto`` resolved for frames ``width`` pixels wide, as a job runs it."""
    return replace(model, flow_scale=resolve_flow_scale(model.flow_scale, width))


def is_out_of_memory(error: BaseException) -> bool:
    """True for device (or host) allocation failures from torch or onnxruntime."""
    if isinstance(error, MemoryError):
        return True
    try:
        import torch

        if isinstance(error, torch.cuda.OutOfMemoryError):
            return True
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    message = str(error).lower()
    return any(marker in message for marker in _OUT_OF_MEMORY_MARKERS)


def _release_device_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


class ResilientBackend:
    """A backend that survives running out of device memory.

    A failed call is split in halves (pairs first, then timesteps) and later batches use the
    smaller size; a single in-between that still does not fit moves the job to the CPU backend.
    """

    def __init__(self, backend: InterpolationBackend, settings: ModelSettings, warn: WarningCallback,
                 frame_size: tuple[int, int] | None = None) -> None:
        """``frame_size`` (``(width, height)``): the job's frames, for the CPU's pairs per call
        (:func:`~fpsboost.backends.base.batch_size_for_frames`); None: the backend's default."""
        self.backend = backend
        self.settings = settings
        default = settings.batch_size or backend.default_batch_size
        if frame_size is not None:
            default = batch_size_for_frames(settings, backend.device, default, *frame_size)
        self.batch_size = max(1, default)
        self._warn = warn

    def describe(self) -> str:
        return self.backend.describe()

    @property
    def fixed_flow_scale(self) -> bool:
        return self.backend.fixed_flow_scale

    def shared_network(self) -> Any:
        """See :meth:`InterpolationBackend.shared_network`."""
        return self.backend.shared_network()

    @property
    def wants_neighbours(self) -> bool:
        return getattr(self.backend, "wants_neighbours", False)

    def prepare(self, frames0: np.ndarray, frames1: np.ndarray, flow_scale: str | None = None,
                neighbours: Any = None) -> PreparedPairs:
        """:meth:`InterpolationBackend.prepare` (measuring needs no device memory)."""
        return self.backend.prepare(frames0, frames1, flow_scale, neighbours)

    def complete(self, prepared: PreparedPairs, pair_index: np.ndarray, timesteps: np.ndarray) -> np.ndarray:
        """:meth:`InterpolationBackend.complete`; out of memory, the batch is split as in :meth:`interpolate`."""
        try:
            return self.backend.complete(prepared, pair_index, timesteps)
        except Exception as error:  # noqa: BLE001 - anything but out-of-memory is re-raised
            if not is_out_of_memory(error):
                raise
        return self._split(prepared.frames0, prepared.frames1, pair_index, timesteps, prepared.flow_scale, prepared.neighbours)

    def interpolate(
        self, frames0: np.ndarray, frames1: np.ndarray, pair_index: np.ndarray, timesteps: np.ndarray,
        flow_scale: str | None = None, neighbours: Any = None,
    ) -> np.ndarray:
        """Same contract as :meth:`InterpolationBackend.interpolate`."""
        extra = {"neighbours": neighbours} if neighbours is not None else {}
        try:
            return self.backend.interpolate(frames0, frames1, pair_index, timesteps, flow_scale, **extra)
        except Exception as error:  # noqa: BLE001 - anything but out-of-memory is re-raised
            if not is_out_of_memory(error):
                raise
        return self._split(frames0, frames1, pair_index, timesteps, flow_scale, neighbours)

    def _split(
        self, frames0: np.ndarray, frames1: np.ndarray, pair_index: np.ndarray, timesteps: np.ndarray,
        flow_scale: str | None, neighbours: Any,
    ) -> np.ndarray:
        """A call that ran out of memory, in halves (pairs first, then timesteps), or on the CPU."""
        _release_device_memory()
        pairs, queries = frames0.shape[0], timesteps.shape[0]
        if pairs > 1:
            half = pairs // 2
            if half < self.batch_size:
                self.batch_size = max(1, half)
                self._warn(f"out of memory on {self.backend.device}: batch size lowered to {self.batch_size}")
            first = pair_index < half
            result = np.empty((queries, *frames0.shape[1:]), np.float32)
            head = neighbours.select(slice(0, half)) if neighbours is not None else None
            rest = neighbours.select(slice(half, None)) if neighbours is not None else None
            result[first] = self.interpolate(frames0[:half], frames1[:half], pair_index[first], timesteps[first], flow_scale, head)
            result[~first] = self.interpolate(frames0[half:], frames1[half:], pair_index[~first] - half, timesteps[~first],
                                              flow_scale, rest)
            return result
        if queries > 1:
            half = queries // 2
            return np.concatenate([
                self.interpolate(frames0, frames1, pair_index[:half], timesteps[:half], flow_scale, neighbours),
                self.interpolate(frames0, frames1, pair_index[half:], timesteps[half:], flow_scale, neighbours),
            ])
        if self.backend.device == "cpu":
            raise ModelError("out of memory even for a single frame pair on the CPU; the video is too large for this machine")
        self._warn(f"out of memory on {self.backend.device} even for one frame pair: continuing on the CPU (slow)")
        self.settings = replace(self.settings, device="cpu", precision="auto")
        self.backend = create_backend(self.settings)
        return self.interpolate(frames0, frames1, pair_index, timesteps, flow_scale, neighbours)


class _Stop(Exception):
    """Raised inside a worker thread when the job is being abandoned."""


class _Worker(threading.Thread):
    """A daemon thread that records its exception for the calling thread to re-raise."""

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=True)
        self._work = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except _Stop:
            pass
        except BaseException as error:  # noqa: BLE001 - handed to the calling thread
            self.error = error


def _put(channel: queue.Queue, item: Any, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stop
        try:
            channel.put(item, timeout=QUEUE_POLL_S)
            return
        except queue.Full:
            continue


_END = object()


Result = TypeVar("Result")


def run_stages(source: Iterable[Any], middle: Callable[[Iterator[Any], Callable[[Any], None]], Result],
               write: Callable[[Fraction, Any], None]) -> Result:
    """The job engine: decode -> ``middle`` -> encode, each on its own thread, joined by bounded queues.

    The decode thread iterates ``source`` (decoding happens there); ``middle(items, put)`` runs on
    the calling thread, gets the items in order and calls ``put((time, picture))`` for every output
    frame in order; the encode thread calls ``write(time, picture)`` for each. Returns what
    ``middle`` returns. An error in any stage stops the others and is raised here; frames still
    queued when the job is abandoned never reach ``write``.
    """
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(DECODE_QUEUE_FRAMES)
    encoded: queue.Queue = queue.Queue(ENCODE_QUEUE_FRAMES)

    def decode() -> None:
        for item in source:
            _put(decoded, item, stop)
        _put(decoded, _END, stop)

    def encode() -> None:
        while True:
            if stop.is_set():
                raise _Stop  # abandoned: whatever is queued must not reach the file
            try:
                item = encoded.get(timeout=QUEUE_POLL_S)
            except queue.Empty:
                continue
            if item is _END:
                return
            write(*item)

    def put(item: Any) -> None:
        while True:
            if encoder.error is not None:
                raise encoder.error
            try:
                encoded.put(item, timeout=QUEUE_POLL_S)
                return
            except queue.Full:
                continue

    decoder, encoder = _Worker("fpsboost-decode", decode), _Worker("fpsboost-encode", encode)
    try:
        decoder.start()
        encoder.start()
        result = middle(_drain(decoded, decoder), put)
        put(_END)
        while encoder.is_alive():
            encoder.join(QUEUE_POLL_S)
        if encoder.error is not None:
            raise encoder.error
        return result
    finally:
        stop.set()
        _join_despite_interrupts(decoder, encoder)


def write_picture(writer: VideoWriter, time: Fraction, picture: Any) -> None:
    """Encode one output frame: a network's ``[3,H,W]`` float picture, or an original as decoded."""
    writer.write(chw_to_rgb16(picture) if isinstance(picture, np.ndarray) else picture, time)


def _with_signatures(reader: VideoReader) -> Iterator[tuple[DecodedFrame, Any]]:
    """Every decoded frame with its cadence signature, computed beside the decoder so that the thread
    that feeds the network does not wait for it."""
    for frame in reader:
        yield frame, frame_signature(frame.rgb)


def _drain(decoded: queue.Queue, decoder: _Worker) -> Iterator[Any]:
    """The decode thread's items in order until its end marker; its error, if it failed, is raised here."""
    while True:
        try:
            entry = decoded.get(timeout=QUEUE_POLL_S)
        except queue.Empty:
            if decoder.error is not None:
                raise decoder.error
            continue
        if entry is _END:
            break
        yield entry
    if decoder.error is not None:
        raise decoder.error


def _join_despite_interrupts(*threads: threading.Thread) -> None:
    """Wait for stopped workers even through further Ctrl-C/SIGTERM: the reader and writer they
    use are closed next, and closing them under a running thread would crash. Re-raises the
    first interrupt afterwards."""
    interrupt: BaseException | None = None
    for thread in threads:
        while thread.ident is not None and thread.is_alive():
            try:
                thread.join()
            except KeyboardInterrupt as error:
                interrupt = interrupt or error
    if interrupt is not None:
        raise interrupt


class _Scheduler:
    """The job's middle stage: decoded frames -> keys and cuts (cadence) -> output frames (timing)
    -> :class:`~fpsboost.batching.PairBatcher`; and the tail after the last drawing."""

    def __init__(self, job: "UpscaleJob", backend: ResilientBackend, info: VideoInfo, out_rate: Fraction,
                 send: Callable[[Fraction, Any], None], after_call: Callable[[], None]) -> None:
        self.job, self.backend, self.info, self.out_rate, self.send = job, backend, info, out_rate, send
        self.analyzer = job.analyzer
        self.planner: FramePlanner | None = None
        self.waiting: dict[int, DecodedFrame] = {}  # decoded and may still become a key
        # The last KEPT_KEYS keys: a pair, the key before it and the one after (motion from four frames).
        self.keys: dict[int, KeyImage] = {}
        self.recent: list[Keyframe] = []
        self.batcher = PairBatcher(backend, send, self._pair_flow_scale, after_call, self._neighbours_of)
        self.segments = SegmentRule()  # batches end at segment starts, so chunks of the job make the same calls
        # The output frames up to the newest key wait until the key after it is known: their pair's
        # second neighbour (the same batches either way: they are added in the same order).
        self.pending: list[OutputFrame] = []
        self.pending_key: Keyframe | None = None
        self._after: Keyframe | None = None
        self.tail_predicted = 0
        self.tail = None
        if job.settings.tail == "extrapolate":
            from .extrapolation import TailFiller

            shared = backend.shared_network()
            self.tail = TailFiller(job.model.weights, shared.device if shared else job.model.device,
                                   interpolator=shared.model if shared else None, flow_scale=backend.settings.flow_scale)

    def _pair_flow_scale(self, key_a: KeyImage, key_b: KeyImage) -> str | None:
        """The pair's own flow scale when ``auto`` asks for a smaller one than the job's (keys further
        apart than one source frame move further); None: the backend's (always, for a model whose
        scale is fixed, such as a given ONNX file)."""
        if self.backend.fixed_flow_scale:
            return None
        span = float((key_b.time - key_a.time) * self.info.average_rate)
        scale = resolve_flow_scale(self.job.model.flow_scale, self.info.width, span)
        return None if scale == self.backend.settings.flow_scale else scale

    def push(self, item: DecodedFrame, time: Fraction, signature: Any) -> None:
        """One decoded frame at its (grid-snapped) ``time``."""
        self.waiting[item.index] = item
        for key in self.analyzer.push(item.index, time, item.rgb, signature):
            self._accept(key)
        lookahead = self.analyzer.LOOKAHEAD_FRAMES
        for index in [index for index in self.waiting if index < item.index - lookahead]:
            del self.waiting[index]  # a hold: never needed again

    def _accept(self, key: Keyframe) -> None:
        self.accept(key, self.waiting.pop(key.index))

    def accept(self, key: Keyframe, frame: DecodedFrame) -> None:
        """A key decided (by the analyser, or by a chunk's plan) with its decoded frame: batch the
        output frames that waited for it, and plan those before it."""
        self.remember(key, frame)
        self.release(key)
        if self.planner is None:
            self.planner = FramePlanner(self.out_rate, key.time)
        self.pending, self.pending_key = self.planner.add_key(key), key

    def release(self, after: Keyframe | None) -> None:
        """Batch the waiting output frames, whose pair's next key is now known (``after``; None: the
        clip ended), and close the batch where their interval ended a segment."""
        self._after = after
        for output in self.pending:
            self.batcher.add(output, self.keys)
        if self.pending_key is not None and self.segments.starts_segment(self.pending_key):
            self.batcher.flush()
        self.pending, self.pending_key = [], None

    def _neighbours_of(self, key_a: KeyImage, key_b: KeyImage) -> tuple[KeyImage | None, KeyImage | None]:
        """The keys before ``key_a`` and after ``key_b`` in the same shot (None across a cut or a still,
        and at the clip's ends)."""
        order = [key.index for key in self.recent]
        position = order.index(key_a.index)
        before = None
        if position > 0 and not self.recent[position].cut_before:
            before = self.keys[order[position - 1]]
        after = self._after
        return before, (self.keys[after.index] if after is not None and not after.cut_before else None)

    def remember(self, key: Keyframe, frame: DecodedFrame) -> None:
        """Keep a key (for the tail's motion and as a pair's neighbour) without planning frames before it."""
        self.keys[key.index] = KeyImage(key.index, key.time, rgb16_to_chw(frame.rgb), frame.source)
        self.recent = (self.recent + [key])[-KEPT_KEYS:]
        for index in [index for index in self.keys if index < self.recent[0].index]:
            del self.keys[index]
        if self.tail is not None:
            self.tail.add(key.time, self.keys[key.index].chw, key.cut_before)

    def start_chunk(self, origin: Fraction, context: tuple[Keyframe, DecodedFrame] | None, first: tuple[Keyframe, DecodedFrame]) -> None:
        """Begin a chunk of a longer job (:mod:`fpsboost.chunking`) at its ``first`` key, on the grid
        that starts at ``origin``; ``context``, the key before it, feeds the tail's motion and is the
        first pair's neighbour. The single job would now hold the previous chunk's last frames."""
        if context is not None:
            self.remember(*context)
        self.remember(*first)
        self.planner = FramePlanner.after(self.out_rate, origin, first[0])
        self.pending, self.pending_key = [], first[0]

    def finish(self, end_time: Fraction) -> None:
        """The last keys, then the frames from the last drawing to ``end_time``: held, or (tail) predicted."""
        for key in self.analyzer.finish():
            self._accept(key)
        self.waiting.clear()
        self.release(None)
        assert self.planner is not None, "the cadence analyser returned no keyframe"
        last = self.planner.finish(end_time)
        horizons = self.tail.horizons([output.time for output in last], end_time) if self.tail is not None else None
        horizons = horizons or [0.0] * len(last)
        for output, horizon in zip(last, horizons):
            if horizon == 0:
                self.batcher.add(output, self.keys)
        self.batcher.finish()
        future = [(output, horizon) for output, horizon in zip(last, horizons) if horizon > 0]
        if future:
            for (output, _), picture in zip(future, self.tail.predict([horizon for _, horizon in future])):
                self.send(output.time, picture)
            self.tail_predicted = len(future)


class UpscaleJob:
    """One run of the main job; build it, then call :meth:`run` once."""

    def __init__(
        self,
        input_path: str | Path,
        output_path: str | Path,
        settings: UpscaleSettings = UpscaleSettings(),
        model: ModelSettings = ModelSettings(),
        encode: EncodeSettings = EncodeSettings(),
        cadence: CadenceSettings = CadenceSettings(),
        progress: ProgressCallback | None = None,
        on_warning: WarningCallback | None = None,
        backend: InterpolationBackend | None = None,
    ) -> None:
        self.input_path, self.output_path = str(input_path), str(output_path)
        self.settings, self.model, self.encode, self.cadence = settings, model, encode, cadence
        self._progress = progress
        self._on_warning = on_warning
        self._backend = backend
        self.warnings: list[str] = []
        self._frames_in = 0
        self._frames_out = 0
        self._first_time = Fraction(0)
        self._tail_predicted = 0
        self._pairs_by_flow_scale: Counter[str] = Counter()
        self.analyzer = CadenceAnalyzer(cadence, keep_report=settings.report_path is not None)

    # -- messages -----------------------------------------------------------------------------
    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if self._on_warning is not None:
            self._on_warning(message)

    def _report_progress(self, total_out: int | None, started: float) -> None:
        if self._progress is not None:
            self._progress(Progress(self._frames_in, self._frames_out, total_out, wallclock.monotonic() - started))

    # -- the job ------------------------------------------------------------------------------
    def run(self) -> UpscaleSummary:
        started = wallclock.monotonic()
        with VideoReader(self.input_path, on_warning=self.warn) as reader:
            info = reader.info
            if info.frame_count is not None and info.frame_count < MIN_INPUT_FRAMES:
                raise InputError(f"{self.input_path}: needs at least {MIN_INPUT_FRAMES} frames, it has {info.frame_count}")
            out_rate = self.settings.output_rate(info.average_rate)
            total_out = output_frame_count(info.duration, out_rate) if info.duration else None
            model, backend = self._backend_for(info.width, info.height)
            with VideoWriter(self.output_path, info, out_rate, self.encode, on_warning=self.warn) as writer:
                streaming_started = wallclock.monotonic()  # progress rates leave model loading out

                def plan_and_interpolate(decoded: Iterator[Any], put: Callable[[Any], None]) -> Fraction:
                    return self._plan_and_interpolate(decoded, put, backend, info, out_rate, total_out, streaming_started, reader)

                end_time = self._stream(writer, _with_signatures(reader), plan_and_interpolate)
        if self.settings.report_path:
            self._write_report(info, out_rate)
        self._report_progress(self._frames_out, streaming_started)
        cadence = self.analyzer.summary()
        return UpscaleSummary(
            input_path=self.input_path,
            output_path=self.output_path,
            frames_in=self._frames_in,
            frames_out=self._frames_out,
            keyframes=cadence.keyframes,
            scene_cuts=cadence.scene_cuts,
            holds=cadence.held_frames,
            tail_predicted=self._tail_predicted,
            input_rate=info.average_rate,
            output_rate=out_rate,
            duration=end_time - self._first_time,
            wall_time_s=wallclock.monotonic() - started,
            backend=backend.describe(),
            warnings=tuple(self.warnings),
            flow_scale=model.flow_scale,
            pairs_by_flow_scale=dict(self._pairs_by_flow_scale),
            shots=tuple(cadence.shots),
        )

    def run_chunk(self, plan: VideoPlan, chunk: Chunk) -> UpscaleSummary:
        """Write one chunk of the job (:mod:`fpsboost.chunking`) to the output path, video only: the
        output frames from the chunk's first key up to the next chunk's, at the single job's times,
        made by the single job's planner, batches and network (the tail too, in the last chunk)."""
        started = wallclock.monotonic()
        last = chunk.is_last(plan)
        # The key before the chunk (tail, neighbour), its keys, the next chunk's first key (the end of
        # its last interval) and the key after that (the last pair's neighbour).
        wanted = plan.keys[max(chunk.first - 1, 0):chunk.end + (0 if last else 2)]
        with VideoReader(self.input_path, on_warning=self.warn) as reader:
            info = reader.info
            model, backend = self._backend_for(info.width, info.height)
            video_only = replace(info, audio_streams=0, subtitle_streams=0)
            with VideoWriter(self.output_path, video_only, plan.out_rate, self.encode, on_warning=self.warn) as writer:
                streaming_started = wallclock.monotonic()

                def interpolate(decoded: Iterator[tuple[PlannedKey, DecodedFrame]], put: Callable[[Any], None]) -> Fraction:
                    scheduler = _Scheduler(self, backend, info, plan.out_rate, lambda time, picture: put((time, picture)),
                                           lambda: self._report_progress(chunk.output_frames, streaming_started))
                    context = next(decoded) if chunk.first > 0 else None
                    first = next(decoded)
                    scheduler.start_chunk(plan.first_time, (context[0].keyframe, context[1]) if context else None,
                                          (first[0].keyframe, first[1]))
                    self._frames_in = 1
                    after_end: PlannedKey | None = None
                    for key, frame in decoded:
                        if not last and key.index > plan.keys[chunk.end].index:
                            after_end = key
                            scheduler.remember(key.keyframe, frame)
                            continue
                        scheduler.accept(key.keyframe, frame)
                        self._frames_in += 1
                    if last:
                        scheduler.finish(plan.end_time)
                        self._tail_predicted = scheduler.tail_predicted
                    else:
                        scheduler.release(after_end.keyframe if after_end else None)
                        scheduler.batcher.finish()
                    self._count_pairs(scheduler, backend)
                    return plan.end_time

                self._stream(writer, reader.planned_frames(wanted), interpolate)
            # After close: the encoder's last packets come out when it is flushed.
            self.packet_times = list(writer.packet_times)
        if self._frames_out != chunk.output_frames:
            raise RuntimeError(f"chunk {chunk.number} of {self.input_path} made {self._frames_out} frames, "
                               f"its plan says {chunk.output_frames}")
        return UpscaleSummary(
            input_path=self.input_path, output_path=self.output_path, frames_in=self._frames_in, frames_out=self._frames_out,
            keyframes=chunk.end - chunk.first, scene_cuts=0, holds=0, tail_predicted=self._tail_predicted,
            input_rate=info.average_rate, output_rate=plan.out_rate, duration=plan.end_time - plan.first_time,
            wall_time_s=wallclock.monotonic() - started, backend=backend.describe(), warnings=tuple(self.warnings),
            flow_scale=model.flow_scale, pairs_by_flow_scale=dict(self._pairs_by_flow_scale),
        )

    def _backend_for(self, width: int, height: int) -> tuple[ModelSettings, ResilientBackend]:
        """The model settings for frames ``width`` pixels wide (``--flow-scale auto`` becomes the fixed
        scale for this width, for every backend the job uses) and the job's backend, with as many
        pairs per call as frames of this size allow."""
        model = model_for_width(self.model, width)
        return model, ResilientBackend(self._backend or create_backend(model), model, self.warn, (width, height))

    def _count_pairs(self, scheduler: _Scheduler, backend: ResilientBackend) -> None:
        """Add the pairs the scheduler's batcher interpolated to the summary, by flow scale (None: the job's)."""
        self._pairs_by_flow_scale.update({scale or backend.settings.flow_scale: count
                                          for scale, count in scheduler.batcher.pairs_by_flow_scale.items()})

    def _stream(self, writer: VideoWriter, source: Iterable[Any],
                middle: Callable[[Iterator[Any], Callable[[Any], None]], Fraction]) -> Fraction:
        """:func:`run_stages` writing into ``writer`` and counting the frames written."""

        def write(time: Fraction, picture: Any) -> None:
            write_picture(writer, time, picture)
            self._frames_out += 1

        return run_stages(source, middle, write)

    def _plan_and_interpolate(
        self, decoded: Iterator[tuple[DecodedFrame, Any]], put: Callable[[Any], None], backend: ResilientBackend,
        info: VideoInfo, out_rate: Fraction, total_out: int | None, started: float, reader: VideoReader,
    ) -> Fraction:
        """Take decoded frames, decide keys and timing, batch the in-betweens, and queue every
        output frame for the encoder in order; returns the input's end time in seconds."""
        scheduler = _Scheduler(self, backend, info, out_rate, lambda time, picture: put((time, picture)),
                               lambda: self._report_progress(total_out, started))
        clock = FrameClock(info.average_rate, info.time_base)
        for item, signature in decoded:
            time = clock.time_of(item.time)
            self._first_time = clock.first_time
            self._frames_in += 1
            scheduler.push(item, time, signature)
        if self._frames_in < MIN_INPUT_FRAMES:
            raise InputError(f"{self.input_path}: needs at least {MIN_INPUT_FRAMES} frames, it has {self._frames_in}")
        end_time = clock.end_time(reader.end_time)
        scheduler.finish(end_time)
        self._count_pairs(scheduler, backend)
        self._tail_predicted = scheduler.tail_predicted
        return end_time

    # -- report -------------------------------------------------------------------------------
    def _write_report(self, info: VideoInfo, out_rate: Fraction) -> None:
        report = {
            "input": self.input_path,
            "output": self.output_path,
            "input_rate": str(info.average_rate),
            "output_rate": str(out_rate),
            "cadence_settings": asdict(self.cadence),
            "shots": [shot._asdict() for shot in self.analyzer.summary().shots],
            "frames": self.analyzer.report(),
        }
        path = Path(self.settings.report_path or "")
        try:
            path.write_text(json.dumps(report, indent=1) + "\n")
        except OSError as error:
            raise OutputError(f"cannot write report {path}: {error.strerror or error}") from None


def upscale(
    input_path: str | Path,
    output_path: str | Path,
    settings: UpscaleSettings = UpscaleSettings(),
    model: ModelSettings = ModelSettings(),
    encode: EncodeSettings = EncodeSettings(),
    cadence: CadenceSettings = CadenceSettings(),
    progress: ProgressCallback | None = None,
    on_warning: WarningCallback | None = None,
    backend: InterpolationBackend | None = None,
) -> UpscaleSummary:
    """Make ``output_path``: ``input_path`` at the rate ``settings`` asks for, audio and subtitles kept.

    ``backend`` overrides the one ``model`` describes (for callers that already hold one).
    The output appears only when the job succeeds; the input is never modified.
    """
    job = UpscaleJob(input_path, output_path, settings, model, encode, cadence, progress, on_warning, backend)
    return job.run()
