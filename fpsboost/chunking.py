"""One video's job cut into chunks that run anywhere and join into exactly the single job's output.

The single job (:mod:`fpsboost.pipeline`) decides keyframes while it streams. To cut that work
into pieces that run on other processes or machines (``fpsboost batch``), the decisions come
first, in one cheap pass: :func:`analyse_video` decodes the video, times every frame with the
job's own :class:`~fpsboost.timing.FrameClock` and runs the job's own cadence analysis, and keeps
the keyframes, the grid's origin and the clip's end as a :class:`VideoPlan`. A chunk is then a run
of consecutive keys: it interpolates the output frames from its first key up to (not including)
the next chunk's first key, with the same planner, batcher, network and tail as the single job.

Batches of the network must not straddle a chunk edge either: the network's arithmetic is not
bit-identical across batch sizes (about 1e-4 on the CPU), so the two runs must make the same
calls. Both therefore close their batch at every *segment* start (:class:`SegmentRule`): at each
scene cut (a key with ``cut_before``) and, inside a shot longer than :data:`SEGMENT_MAX_FRAMES`
source frames, at the first key that many frames after the segment began. Chunks are whole
segments (:func:`plan_chunks`), so a chunk needs from the other side of its edges only the key before
it (the tail's motion, its first pair's neighbour), the next chunk's first key (the end of its last
interval) and the key after that (its last pair's neighbour, for motion from four frames).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

from .cadence import CadenceAnalyzer, CadenceSettings, Shot, frame_signature
from .errors import InputError
from .timing import FrameClock, Keyframe, output_frame_count
from .video.reader import VideoReader

# A batch of the network never holds pairs from both sides of a segment start. 240 frames is 10 s
# at 24 fps: the batches this closes early cost nothing measurable, and chunks can be that fine.
SEGMENT_MAX_FRAMES = 240
# Source frames per chunk that ``fpsboost batch`` aims for (a minute at 24 fps): whole segments are
# added until a chunk has at least this many.
DEFAULT_CHUNK_FRAMES = 1440
MIN_INPUT_FRAMES = 2


class SegmentRule:
    """Says which keys start a segment, fed every key in order (see the module docstring)."""

    def __init__(self, max_frames: int | None = None) -> None:
        self.max_frames = max_frames or SEGMENT_MAX_FRAMES
        self._start: int | None = None

    def starts_segment(self, key: Keyframe) -> bool:
        if self._start is None or key.cut_before or key.index - self._start >= self.max_frames:
            self._start = key.index
            return True
        return False


@dataclass(frozen=True)
class PlannedKey:
    """A keyframe of the plan: the job's :class:`~fpsboost.timing.Keyframe` and where to find it
    again in the file (its presentation timestamp in the stream's time base, None if it has none)."""

    index: int
    time: Fraction
    cut_before: bool
    pts: int | None

    @property
    def keyframe(self) -> Keyframe:
        return Keyframe(self.index, self.time, self.cut_before)


@dataclass
class VideoPlan:
    """Every decision the job makes before the network runs, for one input at one output rate."""

    input_path: str
    out_rate: Fraction
    first_time: Fraction  # the output grid's origin: the first frame's time
    end_time: Fraction  # when the last source frame stops being shown
    frames: int
    keys: list[PlannedKey]
    held_frames: int = 0
    scene_cuts: int = 0
    shots: list[Shot] = field(default_factory=list)

    def output_frames_between(self, start: Fraction, end: Fraction | None) -> int:
        """Output frames whose times lie in ``[start, end)`` (``end`` None: to the end of the clip)."""
        total = output_frame_count(self.end_time - self.first_time, self.out_rate)
        first = _grid_index_at_or_after(start, self.first_time, self.out_rate)
        last = total if end is None else min(total, _grid_index_at_or_after(end, self.first_time, self.out_rate))
        return max(0, last - first)

    def to_json(self) -> str:
        data = asdict(self)
        for name in ("out_rate", "first_time", "end_time"):
            data[name] = str(data[name])
        data["keys"] = [[key.index, str(key.time), key.cut_before, key.pts] for key in self.keys]
        data["shots"] = [list(shot) for shot in self.shots]
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> "VideoPlan":
        data = json.loads(text)
        return cls(
            input_path=data["input_path"], out_rate=Fraction(data["out_rate"]), first_time=Fraction(data["first_time"]),
            end_time=Fraction(data["end_time"]), frames=data["frames"],
            keys=[PlannedKey(index, Fraction(time), cut, pts) for index, time, cut, pts in data["keys"]],
            held_frames=data["held_frames"], scene_cuts=data["scene_cuts"], shots=[Shot(*shot) for shot in data["shots"]],
        )


def _grid_index_at_or_after(time: Fraction, origin: Fraction, rate: Fraction) -> int:
    index = (Fraction(time) - origin) * rate
    return max(0, -((-index.numerator) // index.denominator))


@dataclass(frozen=True)
class Chunk:
    """Keys ``plan.keys[first:end]`` and the output frames from the first of them to ``plan.keys[end]``
    (the next chunk's first key; to the end of the clip, tail included, for the last chunk)."""

    number: int
    first: int
    end: int
    source_frames: int
    output_frames: int

    def is_last(self, plan: VideoPlan) -> bool:
        return self.end >= len(plan.keys)


def plan_chunks(plan: VideoPlan, chunk_frames: int = DEFAULT_CHUNK_FRAMES) -> list[Chunk]:
    """The plan cut at segment starts into chunks of at least ``chunk_frames`` source frames each
    (the last may be shorter)."""
    rule = SegmentRule()
    starts = [position for position, key in enumerate(plan.keys) if rule.starts_segment(key.keyframe)]
    chunk_starts = [0]
    for position in starts[1:]:
        if plan.keys[position].index - plan.keys[chunk_starts[-1]].index >= chunk_frames:
            chunk_starts.append(position)
    chunks = []
    for number, first in enumerate(chunk_starts):
        end = chunk_starts[number + 1] if number + 1 < len(chunk_starts) else len(plan.keys)
        end_key = plan.keys[end] if end < len(plan.keys) else None
        source_frames = (end_key.index if end_key else plan.frames) - plan.keys[first].index
        output_frames = plan.output_frames_between(plan.keys[first].time, end_key.time if end_key else None)
        chunks.append(Chunk(number, first, end, source_frames, output_frames))
    return chunks


def analyse_video(path: str | Path, out_rate_of: Callable[[Fraction], Fraction], cadence: CadenceSettings = CadenceSettings(),
                  on_warning: Callable[[str], None] | None = None) -> VideoPlan:
    """Decode ``path`` once and decide its keys as the single job would (``out_rate_of``: the output
    rate for the input's average rate, as :meth:`UpscaleSettings.output_rate
    <fpsboost.pipeline.UpscaleSettings.output_rate>`)."""
    analyzer = CadenceAnalyzer(cadence, keep_report=False)
    keys: list[PlannedKey] = []
    pts_of: dict[int, int | None] = {}
    with VideoReader(path, on_warning=on_warning) as reader:
        info = reader.info
        clock = FrameClock(info.average_rate, info.time_base)
        frames = 0
        for item in reader:
            time = clock.time_of(item.time)
            pts_of[item.index] = item.source.pts
            for key in analyzer.push(item.index, time, item.rgb, frame_signature(item.rgb)):
                keys.append(PlannedKey(key.index, key.time, key.cut_before, pts_of[key.index]))
            pts_of = {index: pts for index, pts in pts_of.items() if index >= item.index - analyzer.LOOKAHEAD_FRAMES}
            frames += 1
        if frames < MIN_INPUT_FRAMES:
            raise InputError(f"{path}: needs at least {MIN_INPUT_FRAMES} frames, it has {frames}")
        end_time = clock.end_time(reader.end_time)
    for key in analyzer.finish():
        keys.append(PlannedKey(key.index, key.time, key.cut_before, pts_of.get(key.index)))
    summary = analyzer.summary()
    return VideoPlan(str(path), out_rate_of(info.average_rate), clock.first_time, end_time, frames, keys,
                     summary.held_frames, summary.scene_cuts, list(summary.shots))
