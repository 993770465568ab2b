"""The file job behind ``fpsboost extrapolate IN OUT --steps N``: decode, write the input (at its
own rate, or ``--factor`` / ``--fps`` times finer with the interpolation network), then the predicted
frames on the same grid (:class:`~fpsboost.extrapolation.Extrapolator`), and keep the audio.

It runs on the main job's engine: :func:`~fpsboost.pipeline.run_stages` (decode, plan and predict,
encode on three threads), the main job's frame clock, :class:`~fpsboost.batching.PairBatcher` and
:class:`~fpsboost.pipeline.ResilientBackend` (out-of-memory fallback) for the input part. What is its
own: every input frame is a drawing (no cadence analysis), and the frames after the last one are
predicted for ``steps`` input intervals instead of filling a tail.
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
    backend: Any = None,
) -> ExtrapolateSummary:
    """Write ``output_path``: the input, then ``settings.steps`` input intervals of predicted frames.

    ``encode``: :class:`~fpsboost.video.writer.EncodeSettings`. The input's audio and subtitles are
    copied unchanged; each audio stream then continues with silence under the predicted frames,
    so audio and video end together.
    ``progress`` gets a :class:`~fpsboost.pipeline.Progress` now and then. Raises
    :class:`~fpsboost.errors.FpsboostError` subclasses for bad input, output or options; nothing is
    left at ``output_path`` unless the job finishes. ``backend``: an
    :class:`~fpsboost.backends.InterpolationBackend` for the input part on a finer grid (None: the
    one ``settings`` describes).

    It runs on the main job's engine (:func:`~fpsboost.pipeline.run_stages`: decode, plan and
    predict, encode on their own threads), its pair batching and its out-of-memory fallback.
    """
    from .batching import KeyImage, PairBatcher
    from .pipeline import Progress, run_stages, write_picture
    from .timing import FrameClock, FramePlanner, Keyframe, output_frame_count
    from .video.colour import rgb16_to_chw
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
        # The input part on a finer grid: the main job's batches and out-of-memory fallback. On the
        # input's own grid an output frame between two irregularly timed inputs holds the earlier one.
        if out_rate == info.average_rate:
            backend = None
        else:
            backend = _interpolation_backend(settings, warn, backend, (info.width, info.height))
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
            def write(time: Fraction, picture: Any) -> None:
                write_picture(writer, time, picture)
                state.frames_out += 1
                state.first_time = time if state.first_time is None else state.first_time
                state.last_time = time

            def input_then_future(decoded: Any, put: Callable[[Any], None]) -> list[Fraction]:
                """Plan and write the input part (unless ``only_new``), then predict the future frames."""
                send = (lambda time, picture: None) if settings.only_new else (lambda time, picture: put((time, picture)))
                # With only_new nothing of the input part is written, so none of it is interpolated.
                interpolating = backend is not None and not settings.only_new
                batcher = PairBatcher(backend, send, lambda key_a, key_b: None, report) if interpolating else None
                planner: FramePlanner | None = None
                clock = FrameClock(info.average_rate, info.time_base)  # the main job's timing: coarse clocks snapped
                keys: dict[int, KeyImage] = {}
                history: list[tuple[Fraction, Any, np.ndarray]] = []  # (time, decoded frame, chw)
                for frame in decoded:
                    state.frames_in += 1
                    chw = rgb16_to_chw(frame.rgb)
                    time = clock.time_of(frame.time)
                    keys[frame.index] = KeyImage(frame.index, time, chw, frame.source)
                    if planner is None:
                        planner = FramePlanner(out_rate, time)
                    for output in planner.add_key(Keyframe(frame.index, time)):
                        if batcher is not None:
                            batcher.add(output, keys)
                        else:
                            send(output.time, keys[output.key_a].source)
                    for index in [index for index in keys if index < frame.index - 1]:
                        del keys[index]
                    history = (history + [(time, frame.source, chw)])[-HISTORY_FRAMES:]
                    if batcher is None and state.frames_in % QUERIES_PER_CALL == 0:
                        report()
                if batcher is not None:
                    batcher.finish()
                if state.frames_in < MIN_CONTEXT_FRAMES or planner is None:
                    raise InputError(f"{input_path}: extrapolation needs at least {MIN_CONTEXT_FRAMES} frames, it has {state.frames_in}")
                last_time, last_source, _ = history[-1]
                if (last_time - planner.start) * out_rate % 1 == 0:
                    send(last_time, last_source)  # the last input frame lies on the output grid
                context = motion_context([(time, chw) for time, _, chw in history])
                end = last_time + settings.steps * (last_time - history[-2][0])
                future = future_times(last_time, end, planner.start, out_rate)
                shift = future[0] if settings.only_new and future else Fraction(0)
                if len(context) < MIN_CONTEXT_FRAMES:  # the recent frames all show one picture: nothing moves
                    for time in future:
                        put((time - shift, last_source))
                    return future
                spacing = context[-1][0] - context[-2][0]
                horizons = [float((time - context[-1][0]) / spacing) for time in future]
                for start in range(0, len(future), QUERIES_PER_CALL):
                    chunk = extrapolator.predict([picture for _, picture in context], horizons[start:start + QUERIES_PER_CALL])
                    for time, picture in zip(future[start:start + QUERIES_PER_CALL], chunk):
                        put((time - shift, picture))
                    report()
                return future

            future = run_stages(reader, input_then_future, write)
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


def _interpolation_backend(settings: ExtrapolateSettings, warn: WarningCallback, backend: Any = None,
                           frame_size: tuple[int, int] | None = None) -> Any:
    """The interpolation network for the input part, as the main job runs it (a ResilientBackend)."""
    from .backends import ModelSettings, create_backend
    from .pipeline import ResilientBackend

    model = ModelSettings(device=settings.device, weights=settings.interpolator_weights, flow_scale=settings.flow_scale)
    return ResilientBackend(backend or create_backend(model), model, warn, frame_size)
