"""Python API: upscale a file, or interpolate frames held in numpy arrays.

>>> from fpsboost import upscale_file, Interpolator
>>> summary = upscale_file("in.mp4", "out.mp4", factor=2)          # doctest: +SKIP
>>> middle = Interpolator().interpolate(frame0, frame1, 0.5)        # doctest: +SKIP
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from .backends import InterpolationBackend, ModelSettings, create_backend
from .batching import TIMESTEPS_PER_PAIR_IN_BATCH
from .cadence import CadenceSettings
from .errors import InputError, OptionError
from .pipeline import (
    DEFAULT_TAIL,
    ProgressCallback,
    ResilientBackend,
    UpscaleSettings,
    UpscaleSummary,
    WarningCallback,
    upscale,
)
from .timing import parse_rate
from .video.writer import EncodeSettings

_INTEGER_MAXIMUM = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def _as_rate(fps: Fraction | int | float | str | None) -> Fraction | None:
    if fps is None or isinstance(fps, Fraction):
        return fps
    if isinstance(fps, int):
        return Fraction(fps)
    return parse_rate(repr(fps) if isinstance(fps, float) else fps)


def upscale_file(
    input: str | Path,
    output: str | Path,
    *,
    factor: int | None = None,
    fps: Fraction | int | float | str | None = None,
    model: ModelSettings = ModelSettings(),
    encode: EncodeSettings = EncodeSettings(),
    cadence: CadenceSettings = CadenceSettings(),
    progress: ProgressCallback | None = None,
    on_warning: WarningCallback | None = None,
    report: str | Path | None = None,
    tail: str = DEFAULT_TAIL,
) -> UpscaleSummary:
    """Write ``output``: ``input`` at ``factor`` times its rate (default 2) or at exactly ``fps``.

    ``fps`` may be a Fraction, an int, or text/float read like ``--fps`` (59.94 means 60000/1001).
    Audio and subtitles are kept, the duration is unchanged, originals appear unchanged at their
    own times. ``progress`` gets a :class:`~fpsboost.pipeline.Progress` after every batch,
    ``on_warning`` each warning (damaged input, dropped streams, out-of-memory fallbacks),
    ``report`` a path for the per-frame cadence report (JSON), ``tail`` ``hold`` or ``extrapolate``
    (what fills the frames after the last drawing). Raises
    :class:`~fpsboost.errors.FpsboostError` subclasses for bad input, output or options; nothing
    is left at ``output`` unless the job finishes.
    """
    settings = UpscaleSettings(factor=factor, fps=_as_rate(fps), report_path=str(report) if report else None, tail=tail)
    return upscale(input, output, settings, model, encode, cadence, progress, on_warning)


class Interpolator:
    """The interpolation network on numpy frames.

    Frames are ``[H, W, 3]`` RGB arrays: uint8 (0..255), uint16 (0..65535) or float (0..1); the
    result has the input's dtype. Any size works (the network pads internally).
    """

    def __init__(self, settings: ModelSettings = ModelSettings(), backend: InterpolationBackend | None = None) -> None:
        self.settings = settings
        self._backend = ResilientBackend(backend or create_backend(settings), settings, warn=lambda message: None)

    def describe(self) -> str:
        """Backend and device, e.g. ``torch on cpu``."""
        return self._backend.describe()

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, t: float) -> np.ndarray:
        """The frame ``t`` of the way from ``frame0`` (t=0) to ``frame1`` (t=1)."""
        return self._at(frame0, frame1, [t])[0]

    def inbetweens(self, frame0: np.ndarray, frame1: np.ndarray, count: int) -> list[np.ndarray]:
        """``count`` evenly spaced frames strictly between the two: t = k / (count + 1), k = 1..count."""
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise OptionError(f"count must be a whole number >= 0, got {count!r}")
        return self._at(frame0, frame1, [Fraction(k, count + 1) for k in range(1, count + 1)])

    def _at(self, frame0: np.ndarray, frame1: np.ndarray, times: list[float | Fraction]) -> list[np.ndarray]:
        frame0, frame1 = np.asarray(frame0), np.asarray(frame1)
        if frame0.ndim != 3 or frame0.shape[2] != 3 or frame0.shape != frame1.shape:
            raise InputError(f"frames must both be [H, W, 3] of the same size, got {frame0.shape} and {frame1.shape}")
        if frame0.dtype != frame1.dtype:
            raise InputError(f"frames must have the same dtype, got {frame0.dtype} and {frame1.dtype}")
        dtype = frame0.dtype
        if dtype not in _INTEGER_MAXIMUM and dtype.kind != "f":
            raise InputError(f"frames must be uint8, uint16 or float, got {dtype}")
        for t in times:
            if not 0 <= t <= 1:
                raise OptionError(f"t must lie in [0, 1], got {t}")
        chw0, chw1 = _to_network(frame0), _to_network(frame1)
        results: list[np.ndarray | None] = [None] * len(times)
        pending = []
        for position, t in enumerate(times):
            if t == 0:
                results[position] = frame0.copy()
            elif t == 1:
                results[position] = frame1.copy()
            else:
                pending.append(position)
        chunk = max(1, self._backend.batch_size * TIMESTEPS_PER_PAIR_IN_BATCH)
        for start in range(0, len(pending), chunk):
            positions = pending[start:start + chunk]
            output = self._backend.interpolate(
                chw0[None], chw1[None], np.zeros(len(positions), np.int64),
                np.asarray([float(times[p]) for p in positions], np.float32),
            )
            for position, image in zip(positions, output):
                results[position] = _from_network(image, dtype)
        return results  # type: ignore[return-value]


def _to_network(frame: np.ndarray) -> np.ndarray:
    """[H,W,3] uint8/uint16/float -> [3,H,W] float32 in [0,1]."""
    scale = _INTEGER_MAXIMUM.get(frame.dtype, 1.0)
    return np.ascontiguousarray(frame.transpose(2, 0, 1), np.float32) / np.float32(scale)


def _from_network(chw: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """[3,H,W] float in [0,1] -> [H,W,3] of ``dtype`` (integers rounded and clipped)."""
    hwc = np.clip(chw.transpose(1, 2, 0), 0.0, 1.0)
    if dtype in _INTEGER_MAXIMUM:
        return (hwc * _INTEGER_MAXIMUM[dtype] + 0.5).astype(dtype)
    return np.ascontiguousarray(hwc, dtype)
