"""The file job behind ``fpsboost extrapolate IN OUT --steps N``: decode, write the input (at its
own rate, or ``--factor`` / ``--fps`` times finer with the interpolation network), then the predicted
frames on the same grid (:class:`~fpsboost.extrapolation.Extrapolator`), and keep the audio.
"""

from __future__ import annotations

import time as wallclock
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import InputError, OptionError
from .extrapolation import (DEFAULT_MOTION, HISTORY_FRAMES, MIN_CONTEXT_FRAMES, MOTION_SOURCES, QUERIES_PER_CALL, Extrapolator,
                            future_times, motion_context)

ProgressCallback = Callable[[Any], None]
WarningCallback = Callable[[str], None]


@dataclass(frozen=True)
class ExtrapolateSettings:
    """What ``fpsboost extrapolate`` makes.

    ``steps``: input frame intervals to predict after the last frame (>= 1). ``factor`` (whole
    number >= 1) or ``fps``: the output grid (default: the input's rate); the input part is
    interpolated onto it and the prediction continues on it. ``only_new``: write only the
    predicted frames (timestamps from 0, no audio). ``weights``: CelCast extrapolator weights
    (only with ``motion="celcast"``), ``interpolator_weights``: interpolator weights for the finer
    grid and for ``motion="interpolator"`` (None: the shipped ones). ``motion``: ``interpolator``
    (default) or ``celcast``. ``flow_scale``: as for the main job (``--flow-scale``), for both the
    interpolation and the motion that is continued.
    """

    steps: int
    factor: int | None = None
    fps: Fraction | None = None
    only_new: bool = False
    weights: str | None = None
    interpolator_weights: str | None = None
    device: str = "auto"
    motion: str = DEFAULT_MOTION
    flow_scale: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, (int, np.integer)) or self.steps < 1:
            raise OptionError(f"--steps must be a whole number of at least 1, got {self.steps!r}")
        if self.factor is not None and self.fps is not None:
            raise OptionError("give either --factor or --fps, not both")
        if self.factor is not None and (isinstance(self.factor, bool) or not isinstance(self.factor, (int, np.integer)) or self.factor < 1):
            raise OptionError(f"--factor must be a whole number of at least 1, got {self.factor!r}")
        if self.fps is not None and not Fraction(self.fps) > 0:
            raise OptionError(f"--fps must be positive, got {self.fps}")
        if self.motion not in MOTION_SOURCES:
            raise OptionError(f"--motion must be {' or '.join(MOTION_SOURCES)}, got {self.motion!r}")
        if self.weights is not None and self.motion != "celcast":
            raise OptionError("--model names CelCast extrapolator weights: add --motion celcast (the default motion "
                              "comes from the interpolator, see --interpolator)")

    def output_rate(self, input_rate: Fraction) -> Fraction:
        return Fraction(self.fps) if self.fps is not None else Fraction(input_rate) * (self.factor or 1)


@dataclass(frozen=True)
class ExtrapolateSummary:
    """What a finished extrapolation wrote. Times in seconds, rates in frames per second."""

    input_path: str
    output_path: str
    frames_in: int
    frames_out: int
    frames_predicted: int
    output_rate: Fraction
    end_time: Fraction  # of the output, from its first frame
    wall_time_s: float


def extrapolate_file(
    input_path: str | Path,
    output_path: str | Path,
    settings: ExtrapolateSettings,
    encode: Any = None,
    progress: ProgressCallback | None = None,
    on_warning: WarningCallback | None = None,
    extrapolator: Extrapolator | None = None,
) -> ExtrapolateSummary:
    """Write ``output_path``: the input, then ``settings.steps`` input intervals of predicted frames.

    ``encode``: :class:`~fpsboost.video.writer.EncodeSettings`. The input's audio and subtitles are
    copied unchanged; each audio stream then continues with silence under the predicted frames,
    so audio and video end together.
    ``progress`` gets a :class:`~fpsboost.pipeline.Progress` now and then. Raises
    :class:`~fpsboost.errors.FpsboostError` subclasses for bad input, output or options; nothing is
    left at ``output_path`` unless the job finishes.
    """
    from .pipeline import Progress
    from .timing import FramePlanner, Keyframe, output_frame_count
    from .video.colour import chw_to_rgb16, rgb16_to_chw
    from .video.reader import VideoReader
    from .video.writer import EncodeSettings, VideoWriter

    started = wallclock.monotonic()
    warn = on_warning or (lambda message: None)
    encode = encode or EncodeSettings()
    with VideoReader(input_path, on_warning=warn) as reader:
        info = reader.info
        if info.frame_count is not None and info.frame_count < MIN_CONTEXT_FRAMES:
            raise InputError(f"{input_path}: extrapolation needs at least {MIN_CONTEXT_FRAMES} frames, it has {info.frame_count}")
        out_rate = settings.output_rate(info.average_rate)
        extrapolator = extrapolator or Extrapolator(
            settings.weights if settings.motion == "celcast" else settings.interpolator_weights, settings.device,
            motion=settings.motion, flow_scale=settings.flow_scale)
        interpolate = _interpolation_function(settings) if out_rate != info.average_rate else None
        total_out = None
        if info.duration:
            total_out = round(settings.steps * out_rate / info.average_rate)
            if not settings.only_new:
                total_out += output_frame_count(info.duration, out_rate)
        # Only the predicted frames: there is no sound for the future, so no audio or subtitles.
        target_info = replace(info, audio_streams=0, subtitle_streams=0) if settings.only_new else info
        state = _JobState()

        def report() -> None:
            if progress is not None:
                progress(Progress(state.frames_in, state.frames_out, total_out, wallclock.monotonic() - started))

        with VideoWriter(output_path, target_info, out_rate, encode, on_warning=warn, pad_audio=True) as writer:
            def emit(picture: Any, time: Fraction) -> None:
                writer.write(chw_to_rgb16(picture) if isinstance(picture, np.ndarray) else picture, time)
                state.frames_out += 1
                state.first_time = time if state.first_time is None else state.first_time
                state.last_time = time

            planner: FramePlanner | None = None
            history: list[tuple[Fraction, Any, np.ndarray]] = []  # (time, decoded frame, chw)
            for decoded in reader:
                state.frames_in += 1
                chw = rgb16_to_chw(decoded.rgb)
                if planner is None:
                    planner = FramePlanner(out_rate, decoded.time)
                outputs = planner.add_key(Keyframe(decoded.index, decoded.time))
                if not settings.only_new and outputs:
                    _write_input_part(outputs, history[-1], chw, interpolate, emit)
                history = (history + [(decoded.time, decoded.source, chw)])[-HISTORY_FRAMES:]
                if state.frames_in % QUERIES_PER_CALL == 0:
                    report()
            if state.frames_in < MIN_CONTEXT_FRAMES or planner is None:
                raise InputError(f"{input_path}: extrapolation needs at least {MIN_CONTEXT_FRAMES} frames, it has {state.frames_in}")
            last_time, last_source, _ = history[-1]
            if not settings.only_new and (last_time - planner.start) * out_rate % 1 == 0:
                emit(last_source, last_time)  # the last input frame lies on the output grid
            context = motion_context([(time, chw) for time, _, chw in history])
            end = last_time + settings.steps * (last_time - history[-2][0])
            future = future_times(last_time, end, planner.start, out_rate)
            shift = future[0] if settings.only_new and future else Fraction(0)
            if len(context) < MIN_CONTEXT_FRAMES:  # the recent frames all show one picture: nothing moves
                for time in future:
                    emit(last_source, time - shift)
            else:
                spacing = context[-1][0] - context[-2][0]
                horizons = [float((time - context[-1][0]) / spacing) for time in future]
                for start in range(0, len(future), QUERIES_PER_CALL):
                    chunk = extrapolator.predict([frame for _, frame in context], horizons[start:start + QUERIES_PER_CALL])
                    for time, frame in zip(future[start:start + QUERIES_PER_CALL], chunk):
                        emit(frame, time - shift)
                    report()
    report()
    duration = (state.last_time - state.first_time + 1 / out_rate) if state.first_time is not None else Fraction(0)
    return ExtrapolateSummary(str(input_path), str(output_path), state.frames_in, state.frames_out, len(future),
                              out_rate, duration, wallclock.monotonic() - started)


@dataclass
class _JobState:
    frames_in: int = 0
    frames_out: int = 0
    first_time: Fraction | None = None
    last_time: Fraction | None = None


def _interpolation_function(settings: ExtrapolateSettings) -> Callable[[np.ndarray, np.ndarray, list[float]], np.ndarray]:
    """``(frame0, frame1, timesteps) -> [K,3,H,W]`` with the interpolation network."""
    from .backends import ModelSettings, create_backend

    backend = create_backend(ModelSettings(device=settings.device, weights=settings.interpolator_weights,
                                           flow_scale=settings.flow_scale))

    def interpolate(frame0: np.ndarray, frame1: np.ndarray, timesteps: list[float]) -> np.ndarray:
        return backend.interpolate(frame0[None], frame1[None], np.zeros(len(timesteps), np.int64),
                                   np.asarray(timesteps, np.float32))

    return interpolate


def _write_input_part(outputs: list, previous: tuple[Fraction, Any, np.ndarray], chw: np.ndarray,
                      interpolate: Callable | None, emit: Callable[[Any, Fraction], None]) -> None:
    """Write the planner's output frames between the ``previous`` input frame and the newest one.

    Originals are the previous frame's decoded picture; in-betweens come from the interpolation
    network, or (same rate, irregular input timing) hold the previous frame.
    """
    _, previous_source, previous_chw = previous
    between = [frame for frame in outputs if not frame.is_original]
    results = iter(interpolate(previous_chw, chw, [float(frame.t) for frame in between])
                   if between and interpolate is not None else [])
    for frame in outputs:
        if frame.is_original or interpolate is None:
            emit(previous_source, frame.time)
        else:
            emit(next(results), frame.time)
