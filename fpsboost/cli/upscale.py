"""``fpsboost IN OUT --factor N | --fps RATE``: the main job (the default command ``upscale``)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import click

from ..backends import BACKENDS, ModelSettings
from ..backends.base import FLOW_SCALE_CHOICES
from ..errors import OptionError
from ..pipeline import DEFAULT_TAIL, TAIL_MODES
from .app import DEFAULT_COMMAND
from .display import ProgressDisplay, print_summary, stderr_console
from .options import DEVICE_CHOICES, encode_options, encode_settings, parse_factor

DEFAULT_BACKEND = ModelSettings().backend
ONNX_SUFFIX = ".onnx"


def job_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The main job's options (rate, network, encoder, cadence, tail): ``fpsboost IN OUT`` and ``fpsboost batch``."""
    options = [
        click.option("--factor", "factor_text", metavar="N", help="Output rate = N x input rate (whole number >= 2). Default 2."),
        click.option("--fps", "fps_text", metavar="RATE", help="Output rate in frames per second: 60, 59.94 (= 60000/1001) or 60000/1001."),
        click.option("--backend", type=click.Choice(BACKENDS), default=DEFAULT_BACKEND, show_default=True,
                     help="Inference engine" + (" (auto: torch, the faster one on the CPU as measured; an .onnx --model means onnx)." if "auto" in BACKENDS else ".")),
        click.option("--model", "model_path", metavar="PATH", help="Weights (.safetensors, or a shipped network's name: celflow-v2-fast is faster, see README) "
                                                                       "or an ONNX model (.onnx). Default: the shipped model."),
        click.option("--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True, help="Where the network runs (auto: CUDA when present)."),
        click.option("--precision", type=click.Choice(["auto", "fp32", "fp16", "bf16", "mixed"]), default="auto", show_default=True,
                     help="auto: fp16 on CUDA; on the CPU mixed (fp32, the learnt convolutions in bf16) where it has native bf16, else fp32."),
        click.option("--batch-size", type=int, metavar="N", help="Frame pairs per network call (default: the backend's choice)."),
        click.option("--flow-scale", type=click.Choice(FLOW_SCALE_CHOICES), default="auto", show_default=True,
                     help="Resolution motion is estimated at, as a fraction of the frame's (like RIFE's --scale); "
                          "auto: 1 up to 2048 px wide, 0.5 above, 0.25 above 4096."),
        encode_options("Output pixel format (default: the input's, e.g. yuv420p10le stays 10-bit)."),
        click.option("--scene-threshold", type=float, metavar="X", help="Scene-cut score 0..1 above which a frame starts a new shot; 0 disables cut detection."),
        click.option("--cadence", "cadence_mode", type=click.Choice(["auto", "off"]), default="auto", show_default=True, help="auto: find held drawings (twos, threes) and interpolate across them."),
        click.option("--hold-threshold", type=float, metavar="X", help="Largest luma change (8-bit units, most-changed block) still counted as the same drawing."),
        click.option("--max-hold", "max_hold_frames", type=int, metavar="N", help="A drawing held longer than N frames is a still: held, not interpolated across."),
        click.option("--tail", type=click.Choice(TAIL_MODES), default=DEFAULT_TAIL, show_default=True,
                     help="The frames after the last drawing: hold it, or extrapolate its motion (see fpsboost extrapolate)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@dataclass(frozen=True)
class JobChoices:
    """What :func:`job_options` parsed: the rate and tail, and one settings object per concern."""

    factor: int | None
    fps: Fraction | None
    tail: str
    model: ModelSettings
    encode: Any  # EncodeSettings
    cadence: Any  # CadenceSettings


def job_choices(factor_text: str | None, fps_text: str | None, backend: str, model_path: str | None, device: str,
                precision: str, batch_size: int | None, flow_scale: str, codec: str | None, crf: int | None,
                preset: str | None, pix_fmt: str | None, encoder_options: tuple[str, ...], scene_threshold: float | None,
                cadence_mode: str, hold_threshold: float | None, max_hold_frames: int | None, tail: str,
                overwrite: bool) -> JobChoices:
    """Check and gather the values of :func:`job_options`."""
    from ..cadence import CadenceSettings
    from ..timing import parse_rate

    factor = parse_factor(factor_text)
    is_onnx_model = model_path is not None and model_path.lower().endswith(ONNX_SUFFIX)
    fps = parse_rate(fps_text) if fps_text is not None else None
    if batch_size is not None and batch_size < 1:
        raise OptionError(f"--batch-size must be at least 1, got {batch_size}")
    weights = None
    if model_path is not None and not is_onnx_model:
        from ..models.presets import find_weights  # loads torch: only when a network is named

        weights = str(find_weights(model_path))
    model = ModelSettings(
        backend=backend, device=device, precision=precision, batch_size=batch_size, flow_scale=flow_scale,
        weights=weights,
        onnx_path=model_path if is_onnx_model else None,
    )
    encode = encode_settings(codec, crf, preset, pix_fmt, encoder_options, overwrite)
    cadence_options: dict[str, Any] = {"mode": cadence_mode}
    given = {"scene_threshold": scene_threshold, "hold_threshold": hold_threshold, "max_hold_frames": max_hold_frames}
    cadence_options.update({name: value for name, value in given.items() if value is not None})
    return JobChoices(factor, fps, tail, model, encode, CadenceSettings(**cadence_options))


@click.command(DEFAULT_COMMAND)
@click.argument("input_path", metavar="IN")
@click.argument("output_path", metavar="OUT")
@job_options
@click.option("--report", "report_path", metavar="PATH.json", help="Write the per-frame cadence report (keys, holds, cuts, scores) as JSON.")
def upscale_command(input_path: str, output_path: str, report_path: str | None, quiet: bool, **values: Any) -> None:
    """Raise the frame rate of IN and write OUT (same duration, audio and subtitles kept)."""
    from ..api import upscale_file

    choices = job_choices(**values)
    console = stderr_console()
    with ProgressDisplay(console, quiet) as display:
        summary = upscale_file(
            input_path, output_path, factor=choices.factor, fps=choices.fps, model=choices.model, encode=choices.encode,
            cadence=choices.cadence, progress=display.update, on_warning=display.warn, report=report_path, tail=choices.tail,
        )
    if not quiet:
        print_summary(console, summary)
