"""Command line: ``fpsboost IN OUT --factor N | --fps RATE`` and the subcommands beside it.

Commands here only parse options and report; the work is in library functions. Any
:class:`~fpsboost.errors.FpsboostError` from any command becomes one line on stderr
(``fpsboost: error: ...``) and a non-zero exit code; Ctrl-C and SIGTERM stop the job, remove
unfinished output and exit with 130 / 143.
"""

from __future__ import annotations

import re
import signal
import sys
import threading
import time as wallclock
from collections import Counter
from contextlib import contextmanager
from fractions import Fraction
from types import FrameType
from typing import Any, Iterator, Sequence

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn

from . import __version__
from . import backends as _backends
from .errors import FpsboostError, OptionError

EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_USAGE = 2
PLAIN_PROGRESS_INTERVAL_S = 5.0  # how often a non-terminal stderr gets a progress line
DEFAULT_COMMAND = "upscale"
BACKEND_CHOICES = tuple(getattr(_backends, "BACKENDS", ("torch", "onnx")))
FLOW_SCALE_CHOICES = _backends.base.FLOW_SCALE_CHOICES
DEFAULT_BACKEND = _backends.ModelSettings().backend
ONNX_SUFFIX = ".onnx"
TAIL_CHOICES = ("hold", "extrapolate")  # fpsboost.pipeline.TAIL_MODES (not imported: --help stays fast)
DEFAULT_TAIL = "extrapolate"
_WHOLE_NUMBER = re.compile(r"^\s*\d+\s*$")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that cleanup runs exactly as for Ctrl-C."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def one_line(message: object) -> str:
    """A message squeezed onto one line (errors are printed as exactly one line)."""
    return " ".join(str(message).split()) or "unknown error"


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while a command runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class DefaultCommandGroup(click.Group):
    """A click group that sends ``fpsboost IN OUT ...`` to a default command.

    When the first argument is neither a subcommand name nor one of the group's own options, the
    default command's name is put in front of the arguments. The group also turns user errors
    from any subcommand into one line on stderr.
    """

    def __init__(self, *args: Any, default_command: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_command = default_command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        group_options = {name for param in self.get_params(ctx) for name in param.opts + param.secondary_opts}
        if args and args[0] not in self.commands and args[0] not in group_options:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["IN OUT [OPTIONS] | COMMAND [ARGS]..."]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            summary = command.get_short_help_str(limit=formatter.width - 24)
            rows.append((name, f"(default) {summary}" if name == self.default_command else summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _sigterm_raises():
                return super().invoke(ctx)
        except FpsboostError as error:
            click.echo(f"fpsboost: error: {one_line(error)}", err=True)
            ctx.exit(error.exit_code)
        except click.UsageError as error:
            hint = f" (see 'fpsboost {error.ctx.info_name} --help')" if error.ctx and error.ctx.parent else ""
            click.echo(f"fpsboost: error: {one_line(error.format_message())}{hint}", err=True)
            ctx.exit(EXIT_USAGE)
        except Terminated:
            click.echo("fpsboost: terminated; unfinished output removed", err=True)
            ctx.exit(EXIT_TERMINATED)
        except KeyboardInterrupt:
            click.echo("fpsboost: interrupted; unfinished output removed", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(
    cls=DefaultCommandGroup,
    default_command=DEFAULT_COMMAND,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="fpsboost")
def main() -> None:
    """Frame-rate upscaling for animation with fpsboost's own flow network.

    \b
    fpsboost IN OUT --factor 2        twice the frames, same duration, audio and subtitles kept
    fpsboost IN OUT --fps 60          any target rate (59.94 means 60000/1001)
    fpsboost COMMAND --help           help for a command
    """


# -- progress and summary -----------------------------------------------------------------------


def _stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


class ProgressDisplay:
    """Shows a job's progress on stderr: a rich bar on a terminal, else a plain line every few seconds."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet
        self._bar: RichProgress | None = None
        self._task: Any = None
        self._last_line = wallclock.monotonic()

    def __enter__(self) -> ProgressDisplay:
        if not self.quiet and self.console.is_terminal:
            self._bar = RichProgress(
                TextColumn("[bold]fpsboost"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("frames  {task.fields[fps]:6.1f} fps out"),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("upscale", total=None, fps=0.0)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)
            self._bar = None

    def update(self, progress: Any) -> None:
        """``progress``: a :class:`fpsboost.pipeline.Progress`."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=progress.frames_out, total=progress.total_out, fps=progress.output_fps)
            return
        now = wallclock.monotonic()
        if now - self._last_line >= PLAIN_PROGRESS_INTERVAL_S:
            self._last_line = now
            total = f"/{progress.total_out}" if progress.total_out else ""
            self.console.print(
                f"fpsboost: {progress.frames_out}{total} frames written, {progress.output_fps:.1f} fps",
                markup=False,
            )

    def warn(self, message: str) -> None:
        self.console.print(f"fpsboost: warning: {one_line(message)}", markup=False, style="yellow")


def format_rate(rate: Fraction) -> str:
    """``48`` or ``47.952 (48000/1001)``: readable and exact."""
    rate = Fraction(rate)
    return str(rate.numerator) if rate.denominator == 1 else f"{float(rate):.3f} ({rate})"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


SHOTS_LISTED = 4  # more shots than this are summed up by cadence (each one is in --report)


def describe_shots(shots: Sequence[Any]) -> str:
    """``2: twos (frames 0-23), threes (frames 24-47)``, or with many shots ``312: 180 twos, 70 ones, ...``."""
    if len(shots) <= SHOTS_LISTED:
        parts = [f"{shot.cadence} (frames {shot.first_index}-{shot.last_index})" for shot in shots]
    else:
        counts = Counter(shot.cadence for shot in shots)
        parts = [f"{count} {cadence}" for cadence, count in counts.most_common()]
    return f"{len(shots)}: " + ", ".join(parts)


def print_summary(console: Console, summary: Any) -> None:
    """Print a finished job's :class:`~fpsboost.pipeline.UpscaleSummary`."""
    lines = [
        f"[bold green]done[/]: {summary.input_path} -> {summary.output_path}",
        f"  frames   {summary.frames_in} in -> {summary.frames_out} out, "
        f"{format_rate(summary.input_rate)} -> {format_rate(summary.output_rate)} fps, {float(summary.duration):.3f} s",
        f"  cadence  {_count(summary.keyframes, 'drawing')}, {_count(summary.holds, 'held frame')}, "
        f"{_count(summary.scene_cuts, 'scene cut')}"
        + (f", {_count(summary.tail_predicted, 'tail frame')} extrapolated" if summary.tail_predicted else ""),
        f"  speed    {summary.wall_time_s:.1f} s wall, {summary.throughput_fps:.1f} frames/s out, {summary.backend}",
    ]
    if summary.shots:
        lines.insert(3, f"  shots    {describe_shots(summary.shots)}")
    if set(summary.pairs_by_flow_scale) - {summary.flow_scale}:  # auto gave pairs across holds a smaller scale
        lines.append("  flow     " + ", ".join(f"{_count(count, 'pair')} at {scale}x"
                                             for scale, count in sorted(summary.pairs_by_flow_scale.items(), reverse=True))
                     + " (pairs across held drawings move further: auto shrinks their flow more)")
    for line in lines:
        console.print(line)


# -- the default command ------------------------------------------------------------------------


def parse_factor(text: str | None) -> int | None:
    """``--factor``: a whole number >= 2 (checked by UpscaleSettings), or None."""
    if text is None:
        return None
    if not _WHOLE_NUMBER.match(text):
        raise OptionError(f"--factor must be a whole number of at least 2, got {text!r} (use --fps for other rates)")
    return int(text)


def parse_encoder_options(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings -> dict (later keys win)."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise OptionError(f"--encoder-option wants KEY=VALUE, got {pair!r}")
        options[key.strip()] = value
    return options


@main.command(DEFAULT_COMMAND)
@click.argument("input_path", metavar="IN")
@click.argument("output_path", metavar="OUT")
@click.option("--factor", "factor_text", metavar="N", help="Output rate = N x input rate (whole number >= 2). Default 2.")
@click.option("--fps", "fps_text", metavar="RATE", help="Output rate in frames per second: 60, 59.94 (= 60000/1001) or 60000/1001.")
@click.option("--backend", type=click.Choice(BACKEND_CHOICES), default=DEFAULT_BACKEND, show_default=True,
              help="Inference engine" + (" (auto: torch, the faster one on the CPU as measured; an .onnx --model means onnx)." if "auto" in BACKEND_CHOICES else "."))
@click.option("--model", "model_path", metavar="PATH", help="Weights (.safetensors) or an ONNX model (.onnx). Default: the shipped model.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where the network runs (auto: CUDA when present).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "fp16", "bf16"]), default="auto", show_default=True, help="auto: fp16 on CUDA, fp32 on the CPU.")
@click.option("--batch-size", type=int, metavar="N", help="Frame pairs per network call (default: the backend's choice).")
@click.option("--flow-scale", type=click.Choice(FLOW_SCALE_CHOICES), default="auto", show_default=True,
              help="Resolution motion is estimated at, as a fraction of the frame's (like RIFE's --scale); "
                   "auto: 1 up to 1024 px wide, 0.5 above, 0.25 above 2048.")
@click.option("--codec", metavar="NAME", help="Video encoder (default libx264 for .mp4/.mkv/.mov).")
@click.option("--crf", type=int, metavar="N", help="Constant rate factor for the encoder (quality; lower is better).")
@click.option("--preset", metavar="NAME", help="Encoder preset, e.g. medium, slow.")
@click.option("--pix-fmt", metavar="FMT", help="Output pixel format (default: the input's, e.g. yuv420p10le stays 10-bit).")
@click.option("--encoder-option", "encoder_options", multiple=True, metavar="KEY=VALUE", help="Passed to the encoder unchanged (repeatable).")
@click.option("--scene-threshold", type=float, metavar="X", help="Scene-cut score 0..1 above which a frame starts a new shot; 0 disables cut detection.")
@click.option("--cadence", "cadence_mode", type=click.Choice(["auto", "off"]), default="auto", show_default=True, help="auto: find held drawings (twos, threes) and interpolate across them.")
@click.option("--hold-threshold", type=float, metavar="X", help="Largest luma change (8-bit units, most-changed block) still counted as the same drawing.")
@click.option("--max-hold", "max_hold_frames", type=int, metavar="N", help="A drawing held longer than N frames is a still: held, not interpolated across.")
@click.option("--report", "report_path", metavar="PATH.json", help="Write the per-frame cadence report (keys, holds, cuts, scores) as JSON.")
@click.option("--tail", type=click.Choice(TAIL_CHOICES), default=DEFAULT_TAIL, show_default=True,
              help="The frames after the last drawing: hold it, or extrapolate its motion (see fpsboost extrapolate).")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary (warnings and errors still show).")
def upscale_command(
    input_path: str, output_path: str, factor_text: str | None, fps_text: str | None, backend: str,
    model_path: str | None, device: str, precision: str, batch_size: int | None, flow_scale: str, codec: str | None,
    crf: int | None, preset: str | None, pix_fmt: str | None, encoder_options: tuple[str, ...],
    scene_threshold: float | None, cadence_mode: str, hold_threshold: float | None, max_hold_frames: int | None,
    report_path: str | None, tail: str, overwrite: bool, quiet: bool,
) -> None:
    """Raise the frame rate of IN and write OUT (same duration, audio and subtitles kept)."""
    from .api import upscale_file
    from .backends import ModelSettings
    from .cadence import CadenceSettings
    from .timing import parse_rate
    from .video.writer import EncodeSettings

    factor = parse_factor(factor_text)
    is_onnx_model = model_path is not None and model_path.lower().endswith(ONNX_SUFFIX)
    fps = parse_rate(fps_text) if fps_text is not None else None
    if batch_size is not None and batch_size < 1:
        raise OptionError(f"--batch-size must be at least 1, got {batch_size}")
    model = ModelSettings(
        backend=backend, device=device, precision=precision, batch_size=batch_size, flow_scale=flow_scale,
        weights=None if is_onnx_model else model_path,
        onnx_path=model_path if is_onnx_model else None,
    )
    encode = EncodeSettings(
        codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt,
        options=parse_encoder_options(encoder_options), overwrite=overwrite,
    )
    cadence_options: dict[str, Any] = {"mode": cadence_mode}
    given = {"scene_threshold": scene_threshold, "hold_threshold": hold_threshold, "max_hold_frames": max_hold_frames}
    cadence_options.update({name: value for name, value in given.items() if value is not None})
    cadence = CadenceSettings(**cadence_options)

    console = _stderr_console()
    with ProgressDisplay(console, quiet) as display:
        summary = upscale_file(
            input_path, output_path, factor=factor, fps=fps, model=model, encode=encode, cadence=cadence,
            progress=display.update, on_warning=display.warn, report=report_path, tail=tail,
        )
    if not quiet:
        print_summary(console, summary)


# -- subcommands of other modules ---------------------------------------------------------------
# Each helper module registers its click command with ONE line between the markers, e.g.
#     from .bench import bench_command; main.add_command(bench_command)  # noqa: E402,E702
# ---- begin registrations ----
from .extrapolate import extrapolate_command; main.add_command(extrapolate_command)  # noqa: E402,E702
from .backends.export import export_command; main.add_command(export_command)  # noqa: E402,E702
from .train import train_command; main.add_command(train_command)  # noqa: E402,E702
from .bench import bench_command; main.add_command(bench_command)  # noqa: E402,E702
# ---- end registrations ----


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
