"""The interface every inference backend (PyTorch, onnxruntime) offers the pipeline."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OptionError


FLOW_SCALES = {"1": 1, "0.5": 2, "0.25": 4}  # --flow-scale -> how many times the pair is shrunk
FLOW_SCALE_NAMES = {factor: name for name, factor in FLOW_SCALES.items()}
FLOW_SCALE_CHOICES = ("auto", *FLOW_SCALES)  # what --flow-scale accepts
# Wider frames move further in pixels. v1's learnt flow knew motion up to ~77 px per frame and won
# by estimating it shrunk above 1024 px (benchmarks/flow_scale). v2's DIS has a pyramid of its own
# and loses by it: at 1280x720 on held-out Big Buck Bunny, DIS on the half-size pair cost 0.77 dB
# (benchmarks/v2/RESULTS.md). So auto keeps full resolution up to 2048 px wide (4K is halved for
# speed and memory); with v1 weights, pass --flow-scale 0.5 above 1024 px.
FLOW_AUTO_MAX_WIDTH = 2048


# Frame pairs per network call when the user gives no --batch-size, for every backend.
CPU_BATCH_SIZE = 2
# On the CPU, at most this many pixels per frame times pairs per call (two 1280x720 pairs): above
# it, one pair per call was as fast and much lighter. x2 jobs of 12 generated frames, --batch-size 1
# against 2: 1920x1080 14.3 / 14.3 s and 2.4 GB against 14.8 / 15.5 s and 3.4 GB; 3840x2160 55 s and
# 6.5 GB against 89 s and 9.8 GB. At 1280x720 two pairs were 3 % faster (22.5 against 23.2 s).
CPU_PIXELS_PER_CALL = 2 * 1280 * 720
CUDA_BATCH_SIZE = 8


def default_batch_size(settings: "ModelSettings", device: str) -> int:
    """``--batch-size`` if given, else the device's default (:data:`CPU_BATCH_SIZE`, :data:`CUDA_BATCH_SIZE`)."""
    return settings.batch_size or (CUDA_BATCH_SIZE if device == "cuda" else CPU_BATCH_SIZE)


def batch_size_for_frames(settings: "ModelSettings", device: str, default: int, width: int, height: int) -> int:
    """Pairs per call for frames of ``width`` x ``height``: ``--batch-size`` if given; on the CPU the
    backend's ``default`` lowered so that a call holds at most :data:`CPU_PIXELS_PER_CALL` pixels per
    frame (at least one pair); elsewhere ``default``."""
    if settings.batch_size:
        return settings.batch_size
    if device != "cpu":
        return default
    return max(1, min(default, CPU_PIXELS_PER_CALL // max(1, width * height)))


def flow_downscale(flow_scale: str, width: int) -> int:
    """How many times (1, 2 or 4) to shrink a pair ``width`` pixels wide before estimating its flow."""
    if flow_scale == "auto":
        factor = 1
        while width / factor > FLOW_AUTO_MAX_WIDTH and factor < max(FLOW_SCALES.values()):
            factor *= 2
        return factor
    if flow_scale not in FLOW_SCALES:
        raise OptionError(f"unknown flow scale {flow_scale!r}: use auto, {', '.join(FLOW_SCALES)}")
    return FLOW_SCALES[flow_scale]


def resolve_flow_scale(flow_scale: str, width: int, span: float = 1.0) -> str:
    """``auto`` -> the fixed ``--flow-scale`` it means for a pair of frames ``width`` pixels wide
    that lie ``span`` source frame intervals apart; a fixed setting stays as it is.

    Motion in pixels grows with the width and with the time between the frames alike, so ``auto``
    treats a pair two intervals apart (re-timing across a held drawing) as one twice as wide. On
    such pairs one step below the width's own scale won 0.3-0.5 dB (benchmarks/flow_scale/gap2).
    """
    return FLOW_SCALE_NAMES[flow_downscale(flow_scale, round(width * max(span, 1.0)))]  # a fixed scale ignores the width


@dataclass(frozen=True)
class ModelSettings:
    """Which network runs where, and how.

    ``backend``: ``auto`` (the faster one for the device: torch on the CPU as measured, torch on CUDA; see
    :func:`fpsboost.backends.resolve_backend_name`), ``torch`` or ``onnx``.
    ``device``: ``auto`` (CUDA when present), ``cpu`` or ``cuda``. ``precision``: ``auto`` (fp16 on
    CUDA; on a CPU with native bf16 ``mixed``, else fp32), ``fp32``, ``fp16``, ``bf16``, ``mixed``
    (fp32 with the synthesis's convolution blocks in bf16, CPU only). ``weights``/``onnx_path``: None means the shipped
    default. ``batch_size``: frame pairs per network call; None picks one for the device.
    ``flow_scale``: the resolution motion is estimated at, as a fraction of the frame's (``1``,
    ``0.5``, ``0.25``; like RIFE's ``--scale``), or ``auto``: the largest that keeps the frame at
    most :data:`FLOW_AUTO_MAX_WIDTH` pixels wide.
    """

    backend: str = "auto"
    device: str = "auto"
    precision: str = "auto"
    weights: str | None = None
    onnx_path: str | None = None
    batch_size: int | None = None
    flow_scale: str = "auto"


BACKWARD_ONLY = np.array([[False, True]])  # of a pair's two DIS directions, measure F_1->0 only
DEVICES = ("auto", "cpu", "cuda")
# "mixed": fp32, with the synthesis's learnt convolution blocks in bf16 (CPUs with native bf16 only):
# their outputs came out 103-107 dB from fp32 on real frames, at 0.8x the blocks' time.
PRECISIONS = ("fp32", "fp16", "bf16", "mixed")
NO_GPU = "--device cuda was asked for but no CUDA GPU is available (try --device cpu)"


def resolve_device(requested: str, gpu_usable: bool, why_not: str | None = None) -> str:
    """The one device rule for every engine: ``auto`` -> ``cuda`` when the engine can use a GPU here
    (``gpu_usable``), else ``cpu``; ``cuda`` where it cannot is an error (``why_not``: the engine's
    reason, default: no GPU)."""
    if requested not in DEVICES:
        raise OptionError(f"unknown device {requested!r}: use {', '.join(DEVICES)}")
    if requested == "auto":
        return "cuda" if gpu_usable else "cpu"
    if requested == "cuda" and not gpu_usable:
        raise OptionError(why_not or NO_GPU)
    return requested


def cpu_has_bf16() -> bool:
    """True when the CPU has native bfloat16 arithmetic (AVX-512 BF16 or AMX); elsewhere bf16 is
    emulated, slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(requested: str, device: str, supported: tuple[str, ...], engine: str) -> str:
    """The one precision rule: ``auto`` -> fp16 on CUDA; on the CPU ``mixed`` where the engine runs it
    and the CPU has native bf16 (:func:`cpu_has_bf16`), else fp32. fp16 only on CUDA, ``mixed`` only
    on the CPU; an engine runs only the precisions it ``supported``."""
    if requested == "auto":
        if device == "cuda":
            return "fp16"
        return "mixed" if "mixed" in supported and cpu_has_bf16() else "fp32"
    if requested not in PRECISIONS:
        raise OptionError(f"unknown precision {requested!r}: use auto, {', '.join(PRECISIONS)}")
    if requested not in supported:
        raise OptionError(f"the {engine} backend runs {' or '.join(supported)}, not {requested!r}")
    if requested == "fp16" and device == "cpu":
        on_cpu = " or ".join(precision for precision in supported if precision != "fp16")
        raise OptionError(f"fp16 needs --device cuda; on the CPU use {on_cpu}")
    if requested == "mixed" and device == "cuda":
        raise OptionError("mixed precision is for the CPU; on CUDA use fp16")
    return requested


_LOCK_CREATION = threading.Lock()  # guards the first use of each backend's own measuring lock


@dataclass
class PreparedPairs:
    """A batch of frame pairs made ready by :meth:`InterpolationBackend.prepare`: the pairs, their
    flow scale and neighbours, and what the backend measured (None: measured in ``complete``)."""

    frames0: np.ndarray
    frames1: np.ndarray
    flow_scale: str | None = None
    neighbours: Any = None
    measured: dict[str, np.ndarray] | None = None
    downscale: int = 1  # the flow downscale the backend resolved for the batch (flow_downscale)


class InterpolationBackend(ABC):
    """Runs the interpolation network on batches of frame pairs.

    All arrays are numpy, channels first, float32 in [0, 1]:
    ``frames0``, ``frames1``: ``[P, 3, H, W]`` (P pairs); ``pair_index``: ``[Q]`` int64 in [0, P);
    ``timesteps``: ``[Q]`` float32 in (0, 1). Returns ``[Q, 3, H, W]``: in-between ``q`` is pair
    ``pair_index[q]`` at time ``timesteps[q]``. Flow for a pair is computed once however many
    timesteps ask for it.
    """

    name: str = "base"
    device: str = "cpu"
    default_batch_size: int = 1
    # True when the model fixes its own flow scale (a given ONNX file): callers must not ask for another.
    fixed_flow_scale: bool = False

    @abstractmethod
    def interpolate(
        self, frames0: np.ndarray, frames1: np.ndarray, pair_index: np.ndarray, timesteps: np.ndarray,
        flow_scale: str | None = None,
    ) -> np.ndarray:
        """``flow_scale``: this call's ``--flow-scale`` (``1``, ``0.5``, ``0.25``), None: the backend's setting."""

    def prepare(self, frames0: np.ndarray, frames1: np.ndarray, flow_scale: str | None = None,
                neighbours: Any = None) -> "PreparedPairs":
        """The part of :meth:`interpolate` that does not depend on the queries: a backend that can
        measures the pairs here (DIS, translations, accelerations; numpy, no device), so that a caller
        may measure the next batch while :meth:`complete` runs the network on this one. The default
        measures nothing and leaves everything to ``complete``. Calls must come in batch order (a
        batch's neighbour flows come from the batches before it) and from one thread at a time."""
        return PreparedPairs(frames0, frames1, flow_scale, neighbours)

    def complete(self, prepared: "PreparedPairs", pair_index: np.ndarray, timesteps: np.ndarray) -> np.ndarray:
        """:meth:`interpolate` of the pairs :meth:`prepare` made ready: :meth:`complete_measured`
        where ``prepare`` measured them, ``interpolate`` where it did not (``measured`` None: made
        ready by a backend that measures nothing)."""
        if prepared.measured is not None:
            return self.complete_measured(prepared, pair_index, timesteps)
        return self._interpolate_prepared(prepared, pair_index, timesteps)

    def complete_measured(self, prepared: "PreparedPairs", pair_index: np.ndarray, timesteps: np.ndarray) -> np.ndarray:
        """The network on pairs whose measurements ``prepared.measured`` holds; a backend that
        measures in ``prepare`` overrides this (the default ignores them and runs ``interpolate``)."""
        return self._interpolate_prepared(prepared, pair_index, timesteps)

    def _interpolate_prepared(self, prepared: "PreparedPairs", pair_index: np.ndarray, timesteps: np.ndarray) -> np.ndarray:
        extra = {"neighbours": prepared.neighbours} if prepared.neighbours is not None else {}
        return self.interpolate(prepared.frames0, prepared.frames1, pair_index, timesteps, prepared.flow_scale, **extra)

    def describe(self) -> str:
        return f"{self.name} on {self.device}"

    # A network with motion from four frames (CelFlow's four_frame_motion): calls carry PairNeighbours.
    wants_neighbours: bool = False

    @staticmethod
    def pair_measurements(frames0: np.ndarray, frames1: np.ndarray, classical_flow: bool, downscale: int,
                          known: list[tuple[np.ndarray | None, np.ndarray | None]] | None = None) -> dict[str, np.ndarray]:
        """What is measured of each pair outside the network graph, alike for every backend:
        ``global_shift`` (``[P,2]``, the dominant translation, :mod:`fpsboost.models.global_motion`)
        and, for a v2 network (``classical_flow``), ``pair_flows`` (``[P,4,H,W]``, DIS flows at
        ``1 / downscale`` of the frame, :func:`~fpsboost.models.classical_flow.classical_pair_flows`).
        ``known`` (per pair, ``(F_0->1, F_1->0)`` each ``[2,H,W]`` or None): directions already
        measured the same way, which are not measured again."""
        from ..models.global_motion import dominant_translation

        measured = {"global_shift": dominant_translation(frames0, frames1)}
        if classical_flow:
            import torch

            from ..models.classical_flow import classical_pair_flows

            needed = None if known is None else np.array([[flow is None for flow in pair] for pair in known])
            flows = classical_pair_flows(torch.from_numpy(np.ascontiguousarray(frames0, np.float32)),
                                         torch.from_numpy(np.ascontiguousarray(frames1, np.float32)), downscale,
                                         needed).numpy()
            for pair, (flow_0to1, flow_1to0) in enumerate(known or []):
                if flow_0to1 is not None:
                    flows[pair, :2] = flow_0to1
                if flow_1to0 is not None:
                    flows[pair, 2:] = flow_1to0
            measured["pair_flows"] = flows
        return measured

    def measure(self, frames0: np.ndarray, frames1: np.ndarray, classical_flow: bool, downscale: int,
                neighbours: Any = None) -> dict[str, np.ndarray]:
        """:meth:`pair_measurements`, and with ``neighbours`` (:class:`~fpsboost.batching.PairNeighbours`)
        ``pair_accelerations`` (``[P,4,H,W]``, :func:`~fpsboost.models.acceleration.pair_accelerations`)
        from each frame's flow to its other neighbour.

        The DIS flows the next call reads are kept, by the key indices of their two frames: a frame's
        flow to a neighbour is the neighbouring pair's own, and a batch's last pair measures the flow
        from its second frame to the one after, which is the next batch's first flow. So at a steady
        rate each pair costs two DIS directions, as without neighbours."""
        with self._measure_lock():  # the flow cache is shared by a backend's calls (prepare on a worker thread)
            return self._measure(frames0, frames1, classical_flow, downscale, neighbours)

    def _measure_lock(self) -> threading.Lock:
        """This backend's lock around its flow cache, made on first use (subclasses need not call
        an ``__init__`` here); two backends measure side by side without waiting for each other."""
        lock = self.__dict__.get("_measure_lock_instance")
        if lock is None:
            with _LOCK_CREATION:
                lock = self.__dict__.setdefault("_measure_lock_instance", threading.Lock())
        return lock

    def _measure(self, frames0: np.ndarray, frames1: np.ndarray, classical_flow: bool, downscale: int,
                 neighbours: Any = None) -> dict[str, np.ndarray]:
        cache = self._flow_cache(neighbours) if neighbours is not None and classical_flow else None
        known = None
        if cache is not None:
            known = [(cache.get((first, second, downscale)), cache.get((second, first, downscale)))
                     for _, first, second, _ in neighbours.keys]
        measured = self.pair_measurements(frames0, frames1, classical_flow, downscale, known)
        if cache is not None:
            measured["pair_accelerations"] = self._accelerations(frames0, frames1, measured["pair_flows"], neighbours,
                                                                 downscale, cache)
        return measured

    def _flow_cache(self, neighbours: Any) -> dict[tuple[int, int, int], np.ndarray]:
        """``(from key, to key, downscale) -> F_from->to`` for the job ``neighbours`` belongs to (a
        backend may serve several jobs one after another: key indices mean nothing in another video)."""
        if getattr(self, "_neighbour_stream", None) != neighbours.stream:
            self._neighbour_flows, self._neighbour_stream = {}, neighbours.stream
        return self._neighbour_flows

    def _accelerations(self, frames0: np.ndarray, frames1: np.ndarray, pair_flows: np.ndarray, neighbours: Any,
                       downscale: int, cache: dict[tuple[int, int, int], np.ndarray]) -> np.ndarray:
        import torch

        from ..models.acceleration import pair_accelerations
        from ..models.classical_flow import classical_flow_to, classical_pair_flows

        for (_, first, second, _), flows in zip(neighbours.keys, pair_flows):
            cache[(first, second, downscale)], cache[(second, first, downscale)] = flows[:2], flows[2:]
        to_before, to_after = np.zeros_like(pair_flows[:, :2]), np.zeros_like(pair_flows[:, :2])
        for side, frames, others, present, target in ((0, frames0, neighbours.before, neighbours.has_before, to_before),
                                                      (1, frames1, neighbours.after, neighbours.has_after, to_after)):
            for pair, keys in enumerate(neighbours.keys):
                if not present[pair]:
                    continue
                own, other = (keys[1], keys[0]) if side == 0 else (keys[2], keys[3])
                if (own, other, downscale) not in cache:
                    # Measured exactly as the neighbouring pair measures it (that pair's first frame sets
                    # the brightness), so that where a previous call already did, the numbers are the same.
                    this, that = torch.from_numpy(frames[pair:pair + 1]), torch.from_numpy(others[pair:pair + 1])
                    if side == 0:
                        flow = classical_pair_flows(that, this, downscale, needed=BACKWARD_ONLY)[0, 2:]
                    else:
                        flow = classical_flow_to(this, that, downscale)[0]
                    cache[(own, other, downscale)] = flow.numpy()
                target[pair] = cache[(own, other, downscale)]
        # The next call starts where this one ended: its first pair is this call's last pair's second
        # frame and the one after it, with this call's last first frame before it. No flow from or to an
        # older frame is read again (a call that is not the next one measures what it misses, the same
        # way). Keeping them cost memory in proportion to the frame: 64 frames' worth was 1 GB at 1280x720.
        oldest_needed = max(keys[1] for keys in neighbours.keys)
        for key in [key for key in cache if min(key[:2]) < oldest_needed]:
            del cache[key]
        as_tensor = torch.from_numpy
        return pair_accelerations(
            as_tensor(pair_flows[:, :2]), as_tensor(pair_flows[:, 2:]), as_tensor(to_before), as_tensor(to_after),
            as_tensor(neighbours.distance_before).view(-1, 1, 1, 1), as_tensor(neighbours.distance_after).view(-1, 1, 1, 1),
            as_tensor(neighbours.has_before), as_tensor(neighbours.has_after)).numpy().astype(np.float32)

    def shared_network(self) -> "InterpolationBackend | None":
        """This backend when it runs the PyTorch CelFlow at fp32 (``.model`` on ``.device``), so that
        the tail's motion can use its flow estimator instead of loading the weights again; else None."""
        return None
