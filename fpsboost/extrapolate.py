"""Predict frames after the last one: ``fpsboost extrapolate IN OUT --steps N``.

Two layers, as elsewhere in fpsboost:

* :class:`Extrapolator` draws, from the last two or three numpy frames (oldest first), the
  frames ``tau`` source intervals after the last, for any real ``tau`` > 0. Its motion source
  (``motion``) is either ``interpolator`` (the default: the trained interpolation network's flow
  between the last two frames, continued linearly and projected forward, with no learnt
  extrapolation part: :class:`~fpsboost.models.extrapolator.FlowContinuation`) or ``celcast``
  (the separately trained :class:`~fpsboost.models.extrapolator.CelCast` network, still
  undertrained; see weights/EXTRAPOLATOR.md). :func:`predict_tail` is the one call the
  main pipeline needs to fill the interval after the last input frame instead of holding it.
* :func:`extrapolate_file` is the file job behind the command: decode, write the input (at its
  own rate, or ``--factor`` / ``--fps`` times finer with the interpolation network), then the
  predicted frames on the same grid, and keep the audio.

With ``celcast``, horizons up to the training's ``MAX_HORIZON`` (8 intervals) are predicted in one
pass each from the real context ("step-conditioned"); further ones restart from the predictions
at horizons 6, 7, 8 (recursive in blocks of 8), so any length works. ``interpolator`` continues
the measured motion to any horizon in one pass.
"""

from __future__ import annotations

import math
import time as wallclock
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import click
import numpy as np

from .backends.base import FLOW_SCALE_CHOICES, flow_downscale
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

ProgressCallback = Callable[[Any], None]
WarningCallback = Callable[[str], None]


class Extrapolator:
    """Future frames from numpy frames ``[3,H,W]`` float32 in [0,1].

    ``motion``: ``interpolator`` (the interpolation network's flow continued by a fixed
    projection; ``weights`` is then a CelFlow interpolator file, None: the shipped
    ``weights/celflow-s-v1``, read at construction) or ``celcast`` (``weights``: a CelCast file,
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


# -- the file job --------------------------------------------------------------------------------


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


# -- command line --------------------------------------------------------------------------------


def _parse_whole(text: str | None, name: str, minimum: int) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise OptionError(f"{name} must be a whole number of at least {minimum}, got {text!r}") from None
    if value < minimum or str(value) != text.strip():
        raise OptionError(f"{name} must be a whole number of at least {minimum}, got {text!r}")
    return value


@click.command("extrapolate")
@click.argument("input_path", metavar="IN")
@click.argument("output_path", metavar="OUT")
@click.option("--steps", "steps_text", required=True, metavar="N", help="Input frame intervals to predict after the last frame.")
@click.option("--factor", "factor_text", metavar="N", help="Output rate = N x input rate: the input is interpolated and the prediction continues on the finer grid.")
@click.option("--fps", "fps_text", metavar="RATE", help="Output rate in frames per second (60, 59.94, 60000/1001).")
@click.option("--only-new", is_flag=True, help="Write only the predicted frames (timestamps from 0, no audio).")
@click.option("--motion", type=click.Choice(MOTION_SOURCES), default=DEFAULT_MOTION, show_default=True,
              help="interpolator: the interpolation network's flow continued linearly and projected forward; "
                   "celcast: the separately trained (undertrained) extrapolation network.")
@click.option("--model", "model_path", metavar="PATH", help="CelCast weights (.safetensors) for --motion celcast. Default: the shipped model.")
@click.option("--interpolator", "interpolator_path", metavar="PATH", help="Interpolator weights for the motion and for --factor/--fps. Default: the shipped model.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where the networks run.")
@click.option("--flow-scale", type=click.Choice(FLOW_SCALE_CHOICES), default="auto", show_default=True,
              help="Resolution motion is estimated at, as for the main command.")
@click.option("--codec", metavar="NAME", help="Video encoder (default libx264 for .mp4/.mkv/.mov).")
@click.option("--crf", type=int, metavar="N", help="Constant rate factor for the encoder (quality; lower is better).")
@click.option("--preset", metavar="NAME", help="Encoder preset, e.g. medium, slow.")
@click.option("--pix-fmt", metavar="FMT", help="Output pixel format (default: the input's).")
@click.option("--encoder-option", "encoder_options", multiple=True, metavar="KEY=VALUE", help="Passed to the encoder unchanged (repeatable).")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary (warnings and errors still show).")
def extrapolate_command(
    input_path: str, output_path: str, steps_text: str, factor_text: str | None, fps_text: str | None,
    only_new: bool, motion: str, model_path: str | None, interpolator_path: str | None, device: str, flow_scale: str,
    codec: str | None, crf: int | None, preset: str | None,
    pix_fmt: str | None, encoder_options: tuple[str, ...], overwrite: bool, quiet: bool,
) -> None:
    """Predict N frames after the last frame of IN; write OUT.

    By default the motion is the interpolation network's flow between the last frames, continued
    linearly and projected forward (no separately trained extrapolator).
    """
    from rich.console import Console

    from .cli import ProgressDisplay, format_rate, parse_encoder_options
    from .timing import parse_rate
    from .video.writer import EncodeSettings

    settings = ExtrapolateSettings(
        steps=_parse_whole(steps_text, "--steps", 1), factor=_parse_whole(factor_text, "--factor", 1),
        fps=parse_rate(fps_text) if fps_text is not None else None, only_new=only_new,
        weights=model_path, interpolator_weights=interpolator_path, device=device, motion=motion,
        flow_scale=flow_scale,
    )
    encode = EncodeSettings(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt,
                            options=parse_encoder_options(encoder_options), overwrite=overwrite)
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    with ProgressDisplay(console, quiet) as display:
        summary = extrapolate_file(input_path, output_path, settings, encode, progress=display.update, on_warning=display.warn)
    if not quiet:
        console.print(f"[bold green]done[/]: {summary.input_path} -> {summary.output_path}")
        console.print(f"  frames   {summary.frames_in} in -> {summary.frames_out} out "
                      f"({summary.frames_predicted} predicted) at {format_rate(summary.output_rate)} fps, "
                      f"{float(summary.end_time):.3f} s, {summary.wall_time_s:.1f} s wall")
