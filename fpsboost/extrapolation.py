"""Frames after the last one: the motion of the last drawings continued into the future.

* :class:`Extrapolator` draws, from the last two or three numpy frames (oldest first), the
  frames ``tau`` source intervals after the last, for any real ``tau`` > 0. Its motion source
  (``motion``) is either ``interpolator`` (the default: the trained interpolation network's flow
  between the last two frames, continued linearly and projected forward, with no learnt
  extrapolation part: :class:`~fpsboost.models.extrapolator.FlowContinuation`) or ``celcast``
  (the separately trained :class:`~fpsboost.models.extrapolator.CelCast` network, still
  undertrained; see weights/EXTRAPOLATOR.md).
* :class:`TailFiller` is what the main job (:mod:`fpsboost.pipeline`) uses to fill the interval
  after the last input frame instead of holding it; :func:`predict_tail` is the same as one call.
* The file job behind ``fpsboost extrapolate`` is :mod:`fpsboost.extrapolate`.

With ``celcast``, horizons up to the training's ``MAX_HORIZON`` (8 intervals) are predicted in one
pass each from the real context ("step-conditioned"); further ones restart from the predictions
at horizons 6, 7, 8 (recursive in blocks of 8), so any length works. ``interpolator`` continues
the measured motion to any horizon in one pass.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .backends.base import flow_downscale
from .errors import InputError, OptionError

if TYPE_CHECKING:  # torch loads only when a network is built: ``fpsboost --help`` stays fast
    from torch import nn

MIN_CONTEXT_FRAMES = 2
MAX_CONTEXT_FRAMES = 3
MAX_DIRECT_HORIZON = 8.0  # the network was trained on horizons up to this many source intervals
QUERIES_PER_CALL = 8  # horizons per network call (bounds memory on large frames)
# A context frame whose mean absolute difference to the next one is below this is a held drawing
# (animation on twos/threes): it carries no motion, so the context skips it.
HOLD_DIFFERENCE = 1.0 / 255
HISTORY_FRAMES = 8  # decoded frames kept to find the last three drawings (threes: 7 frames)
EXTRAPOLATION_MODES = ("direct", "recursive")
MOTION_SOURCES = ("interpolator", "celcast")
DEFAULT_MOTION = "interpolator"  # PSNR above CelCast v1 at t+1..t+8, synthetic and real: benchmarks/extrapolation

class Extrapolator:
    """Future frames from numpy frames ``[3,H,W]`` float32 in [0,1].

    ``motion``: ``interpolator`` (the interpolation network's flow continued by a fixed
    projection; ``weights`` is then a CelFlow interpolator file, None: the shipped
    ``weights/celflow-v2``, read at construction) or ``celcast`` (``weights``: a CelCast file,
    None: the shipped ``weights/extrapolator-v1``). ``device``: ``auto`` | ``cpu`` | ``cuda``;
    ``model``: an already built network with the same call signature (tests).
    """

    def __init__(self, weights: str | Path | None = None, device: str = "auto", model: nn.Module | None = None,
                 motion: str = DEFAULT_MOTION, flow_scale: str = "auto") -> None:
        import torch

        from .backends.torch_backend import resolve_device
        from .models.extrapolator import load_extrapolator, load_flow_continuation

        if motion not in MOTION_SOURCES:
            raise OptionError(f"unknown motion source {motion!r}: use {' or '.join(MOTION_SOURCES)}")
        flow_downscale(flow_scale, 1)  # an unknown value fails here, before any work
        self.device = resolve_device(device)
        self.motion = motion
        self.flow_scale = flow_scale
        if model is None:
            model = load_extrapolator(weights) if motion == "celcast" else load_flow_continuation(weights)
        self.model = model.to(self.device).eval()
        # CelCast was trained on horizons up to 8; the continued flow has no such range.
        self.direct_horizon = MAX_DIRECT_HORIZON if motion == "celcast" else math.inf
        self._torch = torch

    def predict(self, context: Sequence[np.ndarray], horizons: Sequence[float], mode: str = "direct") -> np.ndarray:
        """Frames ``horizons`` source intervals after the last of ``context``.

        ``context``: 2 or more ``[3,H,W]`` float frames in [0,1], oldest first, one interval apart
        (only the last three are used). ``horizons``: positive reals. ``mode``: ``direct`` (one pass
        per horizon up to 8, blocks of 8 beyond) or ``recursive`` (one interval at a time, each
        prediction fed back; kept for comparison; ``interpolator`` has no limit on direct horizons).
        Returns ``[K,3,H,W]`` float32 in [0,1].
        """
        if len(context) < MIN_CONTEXT_FRAMES:
            raise InputError(f"extrapolation needs at least {MIN_CONTEXT_FRAMES} frames, got {len(context)}")
        if mode not in EXTRAPOLATION_MODES:
            raise OptionError(f"unknown extrapolation mode {mode!r}: use {' or '.join(EXTRAPOLATION_MODES)}")
        taus = np.asarray(horizons, np.float64)
        if taus.size == 0:
            return np.empty((0, *np.shape(context[-1])), np.float32)
        if not np.all(taus > 0):
            raise OptionError("extrapolation horizons must be positive")
        frames = [np.asarray(frame, np.float32) for frame in context[-MAX_CONTEXT_FRAMES:]]
        step = 1.0 if mode == "recursive" else self.direct_horizon
        return self._predict_in_blocks(frames, taus, step)

    def _predict_in_blocks(self, context: list[np.ndarray], taus: np.ndarray, block: float) -> np.ndarray:
        """Direct passes for horizons within ``block``; beyond, restart from predicted frames."""
        result = np.empty((len(taus), *context[-1].shape), np.float32)
        near = taus <= block + 1e-9 if math.isfinite(block) else np.ones(len(taus), bool)
        if near.any():
            result[near] = self._network(context, taus[near])
        if not near.all():
            anchors = [block - i for i in range(len(context) - 1, -1, -1) if block - i > 0]
            predicted = list(self._network(context, np.asarray(anchors)))
            next_context = (context + predicted)[-len(context):]
            result[~near] = self._predict_in_blocks(next_context, taus[~near] - block, block)
        return result

    def _network(self, context: list[np.ndarray], taus: np.ndarray) -> np.ndarray:
        torch = self._torch
        if hasattr(self.model, "flow_downscale"):  # the interpolator's flow (CelCast has no such setting)
            self.model.flow_downscale = flow_downscale(self.flow_scale, context[-1].shape[-1])
        with torch.inference_mode():
            stacked = torch.from_numpy(np.stack(context)[None]).to(self.device)
            outputs = []
            for start in range(0, len(taus), QUERIES_PER_CALL):
                chunk = torch.from_numpy(taus[start:start + QUERIES_PER_CALL].astype(np.float32)).to(self.device)
                index = torch.zeros(len(chunk), dtype=torch.long, device=self.device)
                outputs.append(self.model(stacked, index, chunk).float().cpu().numpy())
        return np.concatenate(outputs)


def predict_tail(last_frames: Sequence[np.ndarray], timesteps: Sequence[float],
                 extrapolator: Extrapolator | None = None) -> np.ndarray:
    """Fill the time after the last frame by extrapolation instead of holding it.

    ``last_frames``: the last 2-3 drawings ``[3,H,W]`` float32 in [0,1], oldest first, equally
    spaced; ``timesteps``: for each wanted output frame, its distance after the last drawing in
    units of that spacing (e.g. ``(time - t_last) / (t_last - t_previous)``), > 0. Returns
    ``[len(timesteps),3,H,W]`` float32 in [0,1].
    """
    return (extrapolator or Extrapolator()).predict(last_frames, timesteps)


# The main job continues the last drawing's motion only while the tail after it lasts no longer
# than this many drawing intervals: a drawing held longer than its predecessors means the motion
# stopped (or a still), and holding it is then right.
TAIL_MAX_INTERVALS = Fraction(3, 2)


class TailFiller:
    """The main job's tail: output frames after the last drawing, predicted instead of held.

    Feed every drawing in order with :meth:`add` (a scene cut forgets the shot before it);
    :meth:`horizons` says how far past the last drawing each tail frame lies, in drawing
    intervals, or None when the tail should hold; :meth:`predict` draws those frames. Only the
    last two drawings are kept (the default motion source continues at constant speed).
    ``interpolator_weights`` (None: the shipped ones) and ``device`` as for :class:`Extrapolator`,
    which is built on the first prediction; ``interpolator``: an already loaded fp32 CelFlow on
    ``device`` (the main job's) whose flow estimator is shared instead of loading the weights again.
    """

    def __init__(self, interpolator_weights: str | Path | None = None, device: str = "auto",
                 extrapolator: Extrapolator | None = None, interpolator: nn.Module | None = None,
                 flow_scale: str = "auto") -> None:
        self._weights, self._device, self._extrapolator = interpolator_weights, device, extrapolator
        self._interpolator, self._flow_scale = interpolator, flow_scale
        self._drawings: list[tuple[Fraction, np.ndarray]] = []

    def add(self, time: Fraction, chw: np.ndarray, cut_before: bool = False) -> None:
        """One drawing ``[3,H,W]`` float in [0,1] shown from ``time`` seconds."""
        kept = [] if cut_before else self._drawings[-1:]
        self._drawings = kept + [(Fraction(time), chw)]

    def horizons(self, times: Sequence[Fraction], end_time: Fraction) -> list[float] | None:
        """``(time - last) / (last - previous)`` per output time (0 for the last drawing's own
        frame), or None: fewer than two drawings in the shot, or a tail longer than
        :data:`TAIL_MAX_INTERVALS` drawing intervals."""
        if len(self._drawings) < MIN_CONTEXT_FRAMES:
            return None
        (previous, _), (last, _) = self._drawings
        interval = last - previous
        if Fraction(end_time) - last > TAIL_MAX_INTERVALS * interval:
            return None
        return [float(max(Fraction(time) - last, Fraction(0)) / interval) for time in times]

    def predict(self, horizons: Sequence[float]) -> np.ndarray:
        """Frames at positive ``horizons`` (drawing intervals after the last): ``[K,3,H,W]``."""
        if self._extrapolator is None:
            shared = None
            if self._interpolator is not None:
                from .models.extrapolator import FlowContinuation

                shared = FlowContinuation(self._interpolator.flow_estimator, self._interpolator.config.stride)
            self._extrapolator = Extrapolator(self._weights, self._device, model=shared, flow_scale=self._flow_scale)
        return self._extrapolator.predict([chw for _, chw in self._drawings], horizons)


def motion_context(history: Sequence[tuple[Fraction, np.ndarray]]) -> list[tuple[Fraction, np.ndarray]]:
    """The last up to three distinct drawings of ``history`` ((time, [3,H,W] float) oldest first).

    Held frames (nearly identical to the next one) are merged into their drawing, whose time
    becomes the first frame showing it, so an animation on twos gives drawings two frames apart
    rather than a still pair. The newest frame's picture is always the last one.
    """
    chosen = [history[-1]]
    for time, frame in reversed(history[:-1]):
        if float(np.abs(frame - chosen[0][1]).mean()) < HOLD_DIFFERENCE:
            chosen[0] = (time, chosen[0][1])
        elif len(chosen) < MAX_CONTEXT_FRAMES:
            chosen.insert(0, (time, frame))
        else:
            break
    return chosen


def future_times(last_time: Fraction, end_time: Fraction, grid_start: Fraction, rate: Fraction) -> list[Fraction]:
    """Grid points ``grid_start + j / rate`` in ``(last_time, end_time]``, exact."""
    first = math.floor((last_time - grid_start) * rate) + 1
    times = []
    index = first
    while grid_start + Fraction(index) / rate <= end_time:
        times.append(grid_start + Fraction(index) / rate)
        index += 1
    return times
