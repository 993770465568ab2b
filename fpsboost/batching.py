"""Pair batching: output frames in, backend calls out, frames handed on in display order.

The planner (:mod:`fpsboost.timing`) says, frame by frame, whether an output frame is an original
or an in-between of two keys at time t. :class:`PairBatcher` gathers the in-betweens of up to
``backend.batch_size`` key pairs (and at most :data:`TIMESTEPS_PER_PAIR_IN_BATCH` timesteps per
pair) into one call, so each pair's flow is estimated once however many timesteps use it, and
hands every frame on in order: originals are passed through as decoded, never re-synthesised.

A backend that can ``prepare`` (measure) a batch apart from running its network has the next batch
measured on a worker thread while the network runs on this one (:class:`PairBatcher`).
"""

from __future__ import annotations

import itertools
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Protocol

import numpy as np

from .timing import OutputFrame

_STREAMS = itertools.count(1)  # one number per batcher: the job its key indices belong to
# Timesteps per pair in one call, at most (x8 and beyond need no bigger batches to keep the network busy).
TIMESTEPS_PER_PAIR_IN_BATCH = 8


@dataclass
class KeyImage:
    """A keyframe as the network sees it (``chw``: [3,H,W] float32 in [0,1]) and as decoded."""

    index: int
    time: Fraction
    chw: np.ndarray
    source: Any  # av.VideoFrame, written through unchanged where the output shows this frame


@dataclass
class PairNeighbours:
    """For motion from four frames: each pair's frame before its first and after its second
    (``[P,3,H,W]``, zeros where none belongs: a cut, the clip's ends, a still), whether each exists
    (``[P]`` bool), how many pair intervals away it is (``[P]`` float32), and the key indices
    ``(before, first, second, after)`` of each pair (None where missing), by which a backend finds
    flows it measured for the neighbouring pairs."""

    before: np.ndarray
    after: np.ndarray
    has_before: np.ndarray
    has_after: np.ndarray
    distance_before: np.ndarray
    distance_after: np.ndarray
    keys: list[tuple[int | None, int, int, int | None]]
    stream: int = 0  # which job the key indices belong to (a backend may serve several jobs)

    def select(self, pairs: slice) -> "PairNeighbours":
        """The neighbours of ``pairs`` only (out-of-memory splits)."""
        return PairNeighbours(self.before[pairs], self.after[pairs], self.has_before[pairs], self.has_after[pairs],
                              self.distance_before[pairs], self.distance_after[pairs], self.keys[pairs], self.stream)


def gather_neighbours(pairs: list[tuple[KeyImage, KeyImage]], around: list[tuple[KeyImage | None, KeyImage | None]],
                      stream: int = 0) -> PairNeighbours:
    """:class:`PairNeighbours` of a batch's pairs, given each pair's ``(before, after)`` keys."""
    blank = np.zeros_like(pairs[0][0].chw)
    befores, afters, has_before, has_after, distance_before, distance_after, keys = [], [], [], [], [], [], []
    for (first, second), (before, after) in zip(pairs, around):
        span = second.time - first.time
        befores.append(blank if before is None else before.chw)
        afters.append(blank if after is None else after.chw)
        has_before.append(before is not None)
        has_after.append(after is not None)
        distance_before.append(float((first.time - before.time) / span) if before is not None else 1.0)
        distance_after.append(float((after.time - second.time) / span) if after is not None else 1.0)
        keys.append((before.index if before else None, first.index, second.index, after.index if after else None))
    return PairNeighbours(np.stack(befores), np.stack(afters), np.asarray(has_before), np.asarray(has_after),
                          np.asarray(distance_before, np.float32), np.asarray(distance_after, np.float32), keys, stream)


class BatchBackend(Protocol):
    """What the batcher needs of a backend (:class:`~fpsboost.pipeline.ResilientBackend`)."""

    batch_size: int
    wants_neighbours: bool  # a network with motion from four frames: calls carry PairNeighbours

    def interpolate(self, frames0: np.ndarray, frames1: np.ndarray, pair_index: np.ndarray, timesteps: np.ndarray,
                    flow_scale: str | None = None, neighbours: PairNeighbours | None = None) -> np.ndarray: ...

    # Optional (InterpolationBackend.prepare / complete): measure a batch, then run the network on it.


@dataclass
class _Batch:
    """Output frames in order; the in-betweens among them share one backend call."""

    entries: list[tuple[OutputFrame, Any, int | None]] = field(default_factory=list)  # frame, source or None, query
    pairs: list[tuple[KeyImage, KeyImage]] = field(default_factory=list)
    around: list[tuple[KeyImage | None, KeyImage | None]] = field(default_factory=list)  # each pair's neighbours
    pair_slots: dict[tuple[int, int], int] = field(default_factory=dict)
    pair_index: list[int] = field(default_factory=list)
    timesteps: list[float] = field(default_factory=list)
    flow_scale: str | None = None  # every pair of a batch has its flow estimated at one scale


def stack_pairs(pairs: list[tuple[KeyImage, KeyImage]]) -> tuple[np.ndarray, np.ndarray]:
    """``(frames0, frames1)`` arrays of a batch's pairs.

    Consecutive pairs usually share a key (``(a, b), (b, c), ...``): then every key is copied once
    and the two arrays are views of one stack, instead of copying each shared key twice.
    """
    if all(left[1] is right[0] for left, right in zip(pairs, pairs[1:])):
        chain = np.stack([pairs[0][0].chw] + [pair[1].chw for pair in pairs])
        return chain[:-1], chain[1:]
    return np.stack([pair[0].chw for pair in pairs]), np.stack([pair[1].chw for pair in pairs])


class PairBatcher:
    """Batches in-betweens for the backend and hands every output frame on in display order.

    ``send(time, picture)`` receives each output frame: the decoded source frame for an original,
    a ``[3,H,W]`` float array for an in-between. ``flow_scale_of(key_a, key_b)`` gives a pair's own
    flow scale (None: the backend's); pairs of different scales never share a call.
    ``after_call()`` runs after each batch (progress reports). ``neighbours_of(key_a, key_b)``: the
    keys before and after a pair (None where none belongs), asked only for a backend that
    ``wants_neighbours``; the caller must know both when it adds the pair's frames.

    With a backend that can ``prepare`` (measure DIS flows and the rest apart from its network), a
    flushed batch is measured on a worker thread and run when the next batch is flushed, so that the
    measuring of one batch and the network of the one before it share the CPU's cores (480p, x2, 24
    pairs in calls of 2: 10.3 s sequential against 8.3 s overlapped; benchmarks/speed/RESULTS.md).
    Frames still leave in display order. :meth:`finish` runs whatever is left: call it at the end.
    """

    def __init__(self, backend: BatchBackend, send: Callable[[Fraction, Any], None],
                 flow_scale_of: Callable[[KeyImage, KeyImage], str | None], after_call: Callable[[], None] = lambda: None,
                 neighbours_of: Callable[[KeyImage, KeyImage], tuple[KeyImage | None, KeyImage | None]] | None = None) -> None:
        self.backend = backend
        self._send = send
        self._flow_scale_of = flow_scale_of
        self._after_call = after_call
        self._neighbours_of = neighbours_of if getattr(backend, "wants_neighbours", False) else None
        self._stream = next(_STREAMS)
        self._batch = _Batch()
        self.pairs_by_flow_scale: Counter[str | None] = Counter()
        self._overlap = callable(getattr(backend, "prepare", None)) and callable(getattr(backend, "complete", None))
        self._measurer: ThreadPoolExecutor | None = None
        self._in_flight: tuple[_Batch, Future] | None = None  # flushed, being measured, network not run yet

    def add(self, frame: OutputFrame, keys: dict[int, KeyImage]) -> None:
        """Queue one output frame; ``keys`` holds (at least) the keys it refers to."""
        batch = self._batch
        if frame.is_original:
            source = keys[frame.key_a].source
            if batch.entries:
                batch.entries.append((frame, source, None))
            else:
                self._run_in_flight()  # its frames come first
                self._send(frame.time, source)
            return
        pair = (frame.key_a, frame.key_b)
        if pair not in batch.pair_slots:
            flow_scale = self._flow_scale_of(keys[frame.key_a], keys[frame.key_b])
            if len(batch.pairs) >= self.backend.batch_size or (batch.pairs and flow_scale != batch.flow_scale):
                self.flush()
                batch = self._batch
            batch.flow_scale = flow_scale
            batch.pair_slots[pair] = len(batch.pairs)
            batch.pairs.append((keys[frame.key_a], keys[frame.key_b]))
            if self._neighbours_of is not None:
                batch.around.append(self._neighbours_of(keys[frame.key_a], keys[frame.key_b]))
        batch.entries.append((frame, None, len(batch.timesteps)))
        batch.pair_index.append(batch.pair_slots[pair])
        batch.timesteps.append(float(frame.t))
        if len(batch.timesteps) >= self.backend.batch_size * TIMESTEPS_PER_PAIR_IN_BATCH:
            self.flush()

    def flush(self) -> None:
        """Close the pending batch: run it (or, with a backend that can prepare, start measuring it and
        run the batch flushed before), and hand on every frame whose batch has run."""
        batch, self._batch = self._batch, _Batch()
        if not batch.pairs or not self._overlap:
            self._run_in_flight()
            self._hand_on(batch, self._interpolate(batch) if batch.pairs else None)
            return
        frames0, frames1 = stack_pairs(batch.pairs)
        if self._measurer is None:
            self._measurer = ThreadPoolExecutor(1, thread_name_prefix="fpsboost-measure")
        # Submitted before the batch in flight runs: this batch's measuring overlaps that batch's network.
        prepared = self._measurer.submit(self.backend.prepare, frames0, frames1, batch.flow_scale, self._neighbours(batch))
        self._run_in_flight()
        self._in_flight = (batch, prepared)

    def finish(self) -> None:
        """Flush, run the batch in flight and stop the measuring thread: every frame added has been handed on."""
        try:
            self.flush()
            self._run_in_flight()
        finally:
            if self._measurer is not None:
                self._measurer.shutdown(wait=True, cancel_futures=True)
                self._measurer = None

    def _neighbours(self, batch: _Batch) -> PairNeighbours | None:
        return gather_neighbours(batch.pairs, batch.around, self._stream) if self._neighbours_of is not None else None

    def _interpolate(self, batch: _Batch) -> np.ndarray:
        frames0, frames1 = stack_pairs(batch.pairs)
        neighbours = self._neighbours(batch)
        extra = {"neighbours": neighbours} if neighbours is not None else {}
        return self.backend.interpolate(frames0, frames1, np.asarray(batch.pair_index, np.int64),
                                        np.asarray(batch.timesteps, np.float32), batch.flow_scale, **extra)

    def _run_in_flight(self) -> None:
        if self._in_flight is None:
            return
        (batch, prepared), self._in_flight = self._in_flight, None
        results = self.backend.complete(prepared.result(), np.asarray(batch.pair_index, np.int64),
                                        np.asarray(batch.timesteps, np.float32))
        self._hand_on(batch, results)

    def _hand_on(self, batch: _Batch, results: np.ndarray | None) -> None:
        if batch.pairs:
            self.pairs_by_flow_scale[batch.flow_scale] += len(batch.pairs)
        for frame, source, query in batch.entries:
            self._send(frame.time, source if query is None else results[query])
        self._after_call()
