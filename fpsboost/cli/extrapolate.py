"""``fpsboost extrapolate IN OUT --steps N``: frames predicted after the last one."""

from __future__ import annotations

import click

from ..backends.base import FLOW_SCALE_CHOICES
from ..extrapolation import DEFAULT_MOTION, MOTION_SOURCES
from .display import ProgressDisplay, format_rate, stderr_console
from .options import DEVICE_CHOICES, encode_options, encode_settings, parse_whole


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
@click.option("--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True, help="Where the networks run.")
@click.option("--flow-scale", type=click.Choice(FLOW_SCALE_CHOICES), default="auto", show_default=True,
              help="Resolution motion is estimated at, as for the main command.")
@encode_options("Output pixel format (default: the input's).")
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
    from ..extrapolate import ExtrapolateSettings, extrapolate_file
    from ..timing import parse_rate

    settings = ExtrapolateSettings(
        steps=parse_whole(steps_text, "--steps", 1), factor=parse_whole(factor_text, "--factor", 1),
        fps=parse_rate(fps_text) if fps_text is not None else None, only_new=only_new,
        weights=model_path, interpolator_weights=interpolator_path, device=device, motion=motion,
        flow_scale=flow_scale,
    )
    encode = encode_settings(codec, crf, preset, pix_fmt, encoder_options, overwrite)
    console = stderr_console()
    with ProgressDisplay(console, quiet) as display:
        summary = extrapolate_file(input_path, output_path, settings, encode, progress=display.update, on_warning=display.warn)
    if not quiet:
        console.print(f"[bold green]done[/]: {summary.input_path} -> {summary.output_path}")
        console.print(f"  frames   {summary.frames_in} in -> {summary.frames_out} out "
                      f"({summary.frames_predicted} predicted) at {format_rate(summary.output_rate)} fps, "
                      f"{float(summary.end_time):.3f} s, {summary.wall_time_s:.1f} s wall")
