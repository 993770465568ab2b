"""Frame timing: which source keyframes and which timestep t make each output frame.

Time is exact everywhere: seconds as ``Fraction`` and rates as ``Fraction`` frames per second.
Output frame ``j`` sits at ``start + j / out_rate``; nothing is accumulated, so a two-hour film
ends where it started plus its duration, to the frame.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Iterator

from .errors import OptionError

# Broadcast rates are written as decimals (23.976, 29.97, 59.94) but mean k * 1000/1001.
NTSC_DENOMINATOR = 1001
_NTSC_MATCH_TOLERANCE = Fraction(1, 200)  # 59.94 vs 59.9400599...: well inside; 59.9 is not NTSC.
_RATE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?\s*$")


def parse_rate(text: str) -> Fraction:
    """Parse a frame rate given as ``60``, ``59.94`` (read as 60000/1001) or ``60000/1001``."""
    match = _RATE_PATTERN.match(str(text))
    if not match:
        raise OptionError(f"cannot read frame rate {text!r}: use a number like 60, 59.94 or 60000/1001")
    numerator, denominator = match.groups()
    if denominator is not None and Fraction(denominator) == 0:
        raise OptionError(f"cannot read frame rate {text!r}: division by zero")
    rate = Fraction(numerator) / Fraction(denominator) if denominator else Fraction(numerator)
    if rate <= 0:
        raise OptionError(f"frame rate must be positive, got {text!r}")
    if denominator is None and rate.denominator != 1:
        rate = _snap_to_ntsc(rate)
    return rate


def _snap_to_ntsc(rate: Fraction) -> Fraction:
    """Return k*1000/1001 when a decimal rate is the usual rounding of one, else the rate itself."""
    k = round(rate * NTSC_DENOMINATOR / 1000)
    ntsc = Fraction(k * 1000, NTSC_DENOMINATOR)
    return ntsc if k > 0 and abs(ntsc - rate) < _NTSC_MATCH_TOLERANCE else rate


def output_frame_count(duration: Fraction, out_rate: Fraction) -> int:
    """Frames on the output grid for a clip of ``duration`` seconds (rounded half up)."""
    return int((duration * out_rate + Fraction(1, 2)) // 1)


def snap_to_grid(time: Fraction, rate: Fraction, origin: Fraction, tolerance: Fraction) -> Fraction:
    """``time`` moved onto the nearest ``origin + n / rate`` when it is within ``tolerance`` of it.

    Containers with coarse clocks store 23.976 fps as 0, 42, 83, 125 ms...; snapping by up to one
    clock tick recovers the exact times, so originals land exactly on the output grid.
    """
    time, rate, origin = Fraction(time), Fraction(rate), Fraction(origin)
    grid = origin + Fraction(round((time - origin) * rate)) / rate
    return grid if abs(grid - time) <= tolerance else time


class FrameClock:
    """Source frame times as the job uses them: each decoded time snapped onto the input's own grid
    (see :func:`snap_to_grid`), measured from the first frame; a time that would not move forward
    keeps the decoded one. One clock per pass over a video, fed every frame in order."""

    def __init__(self, rate: Fraction, tolerance: Fraction) -> None:
        self.rate, self.tolerance = Fraction(rate), Fraction(tolerance)
        self.first_time: Fraction | None = None
        self._previous: Fraction | None = None

    def time_of(self, decoded_time: Fraction) -> Fraction:
        """The job's time of the next frame, decoded at ``decoded_time`` seconds."""
        if self.first_time is None:
            self.first_time = self._previous = Fraction(decoded_time)
            return self.first_time
        time = snap_to_grid(decoded_time, self.rate, self.first_time, self.tolerance)
        if time <= self._previous:
            time = Fraction(decoded_time)
        self._previous = time
        return time

    def end_time(self, decoded_end: Fraction) -> Fraction:
        """The clip's end (when its last frame stops being shown) on the same grid."""
        return snap_to_grid(decoded_end, self.rate, self.first_time or Fraction(0), self.tolerance)


@dataclass(frozen=True)
class Keyframe:
    """A source frame that carries a drawing: the planner interpolates between consecutive keys.

    ``cut_before`` marks a scene cut between the previous key and this one: output frames in that
    interval hold the previous key instead of blending two shots.
    """

    index: int
    time: Fraction
    cut_before: bool = False


@dataclass(frozen=True)
class OutputFrame:
    """Output frame ``index`` at ``time`` seconds: key ``key_a`` warped ``t`` of the way to ``key_b``.

    ``key_b is None`` (or ``t == 0``) means the frame is source frame ``key_a`` unchanged.
    """

    index: int
    time: Fraction
    key_a: int
    key_b: int | None
    t: Fraction

    @property
    def is_original(self) -> bool:
        return self.key_b is None or self.t == 0


class FramePlanner:
    """Streams keyframes in, output frames out, on a constant-rate grid.

    Feed every keyframe in time order with :meth:`add_key`; each call returns the output frames
    that lie before that key (they are now fully determined). :meth:`finish` returns the frames
    from the last key to the end of the clip, which hold the last key.
    """

    def __init__(self, out_rate: Fraction, start: Fraction) -> None:
        if out_rate <= 0:
            raise OptionError("output frame rate must be positive")
        self.out_rate = Fraction(out_rate)
        self.start = Fraction(start)
        self._previous: Keyframe | None = None
        self._next_index = 0

    @classmethod
    def after(cls, out_rate: Fraction, start: Fraction, key: Keyframe) -> "FramePlanner":
        """A planner on the grid that starts at ``start`` which has just been given ``key`` (a chunk of a
        longer job, :mod:`fpsboost.chunking`): the next frame it plans is the first at or after ``key``."""
        planner = cls(out_rate, start)
        planner._previous = key
        planner._next_index = max(0, math.ceil((Fraction(key.time) - planner.start) * planner.out_rate))
        return planner

    def time_of(self, index: int) -> Fraction:
        return self.start + Fraction(index) / self.out_rate

    def add_key(self, key: Keyframe) -> list[OutputFrame]:
        previous = self._previous
        if previous is not None and key.time <= previous.time:
            raise ValueError(f"keyframes must have increasing times: {previous.time} then {key.time}")
        frames: list[OutputFrame] = []
        if previous is None:
            # The grid starts at the first source frame: an earlier grid point would have no
            # source to show (and a negative t), a later one would drop the first frame.
            self.start = key.time
        else:
            span = key.time - previous.time
            while self.time_of(self._next_index) < key.time:
                time = self.time_of(self._next_index)
                if key.cut_before:
                    frames.append(OutputFrame(self._next_index, time, previous.index, None, Fraction(0)))
                else:
                    t = (time - previous.time) / span
                    frames.append(OutputFrame(self._next_index, time, previous.index, key.index, t))
                self._next_index += 1
        self._previous = key
        return frames

    def finish(self, end_time: Fraction) -> list[OutputFrame]:
        """Emit the frames from the last key until ``end_time``; total = round(duration * rate)."""
        if self._previous is None:
            return []
        total = output_frame_count(Fraction(end_time) - self.start, self.out_rate)
        frames = [
            OutputFrame(j, self.time_of(j), self._previous.index, None, Fraction(0))
            for j in range(self._next_index, total)
        ]
        self._next_index = max(self._next_index, total)
        return frames


def plan_all(keys: Iterable[Keyframe], end_time: Fraction, out_rate: Fraction) -> Iterator[OutputFrame]:
    """Plan a whole clip at once (convenience over :class:`FramePlanner`)."""
    planner: FramePlanner | None = None
    for key in keys:
        if planner is None:
            planner = FramePlanner(out_rate, key.time)
        yield from planner.add_key(key)
    if planner is not None:
        yield from planner.finish(end_time)
