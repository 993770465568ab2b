"""What the commands show: progress on stderr, the finished job's summary, exact rates."""

from __future__ import annotations

import time as wallclock
from collections import Counter
from fractions import Fraction
from typing import Any, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn

PLAIN_PROGRESS_INTERVAL_S = 5.0  # how often a non-terminal stderr gets a progress line


def one_line(message: object) -> str:
    """A message squeezed onto one line (errors are printed as exactly one line)."""
    return " ".join(str(message).split()) or "unknown error"


def stderr_console() -> Console:
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
