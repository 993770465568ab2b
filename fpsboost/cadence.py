"""Anime cadence: find held drawings and scene cuts, and turn source frames into keyframes.

Anime is drawn "on twos" or "on threes": each drawing is shown for 2-3 frames of 24 fps.
Interpolating every source pair keeps those holds, so motion stutters. Here every *unique
drawing* becomes a :class:`~fpsboost.timing.Keyframe` at its own time and held duplicates are
not keys; the planner then interpolates across the hold and motion advances at every output
frame while the output grid (length, duration, audio sync) stays exactly the same.

Decisions, per source frame:

* **hold**: the frame shows the same drawing as the current key. Compared on a blurred,
  downscaled luma thumbnail: the *largest* block-mean difference (8-bit units) must stay under
  ``hold_threshold`` (or under the noise the frames themselves show). Blocks are small and the
  maximum is used, so a small, dark, slowly moving object still breaks a hold, while noise that
  is spread over the frame averages out. Frames are compared with the run's key, not only with
  their neighbour, so slow drift cannot creep through a chain of "holds".
* **new drawing**: a key. If the previous drawing was held longer than ``max_hold_frames`` it is
  a *still*, not a slow cadence: its last frame becomes a key too (with ``cut_before=True``, which
  makes the planner hold the still exactly) so motion resumes at the right time instead of
  crawling over seconds.
* **scene cut**: a key with ``cut_before=True``; no output frame blends two shots. A cut needs a
  colour-histogram change *and* a brightness-compensated structural change, both standing out
  against the recent frame-to-frame changes, so fades, flashes of motion and pans do not count.

Lookahead is one frame: a key returned by ``push(i)`` is frame ``i`` or frame ``i - 1`` (the end
of a still), so the caller keeps the previous frame until the next push.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import cv2
import numpy as np

from .errors import OptionError
from .timing import Keyframe

CADENCE_MODES = ("auto", "off")

# Thumbnails: area-downscaled so the longer side is at most this many pixels (averages noise).
THUMBNAIL_MAX_SIDE = 256
THUMBNAIL_BLUR_SIGMA = 1.0  # thumbnail pixels; spreads codec noise before differences are taken
HOLD_BLOCK_SIZE = 4  # thumbnail pixels per side of a difference block
UINT16_TO_8BIT = 257.0  # full-range uint16 value per 8-bit step

# Defaults for CadenceSettings (8-bit-equivalent units unless said otherwise).
DEFAULT_HOLD_THRESHOLD = 1.0
DEFAULT_NOISE_MARGIN = 4.0
DEFAULT_MAX_HOLD_FRAMES = 4
DEFAULT_SCENE_THRESHOLD = 0.35
DEFAULT_CUT_JUMP_RATIO = 3.0

CUT_HISTOGRAM_BINS = 16
CUT_DIFFERENCE_SCALE = 48.0  # 8-bit units of gain-compensated mean difference that count as "everything changed"
CUT_HISTORY_FRAMES = 8  # recent frame pairs a cut must stand out against
MIN_GAIN_REFERENCE = 1.0  # 8-bit units; darker frames are not gain-compensated (fade to black)
ONE_FRAME_LOOKAHEAD = 1

CADENCE_LABELS = {1: "ones", 2: "twos", 3: "threes", 4: "fours"}
DOMINANT_CADENCE_SHARE = 0.8  # share of a shot's drawings that must share one hold length


@dataclass(frozen=True)
class CadenceSettings:
    """How held drawings and scene cuts are found.

    ``mode``: ``"auto"`` detects held drawings and re-times them; ``"off"`` makes every frame a
    key (scene cuts are still detected unless ``scene_threshold`` is 0).
    ``hold_threshold``: largest block-mean luma difference (8-bit units, on the blurred thumbnail)
    between two frames that still show the same drawing.
    ``noise_margin``: a hold is also accepted up to this many times the difference that the
    frames' own noise explains (compressed sources are noisier than the fixed threshold).
    ``max_hold_frames``: a drawing shown longer than this is a still, not a cadence: motion after it
    starts from the still's last frame instead of being interpolated from seconds back.
    ``scene_threshold``: cut score (0..1, colour-histogram and structural change combined) above
    which a frame starts a new shot; 0 disables cut detection.
    ``cut_jump_ratio``: a cut's score must also be this many times the recent typical score.
    """

    mode: str = "auto"
    scene_threshold: float = DEFAULT_SCENE_THRESHOLD
    hold_threshold: float = DEFAULT_HOLD_THRESHOLD
    noise_margin: float = DEFAULT_NOISE_MARGIN
    max_hold_frames: int = DEFAULT_MAX_HOLD_FRAMES
    cut_jump_ratio: float = DEFAULT_CUT_JUMP_RATIO

    def __post_init__(self) -> None:
        if self.mode not in CADENCE_MODES:
            raise OptionError(f"cadence mode must be one of {', '.join(CADENCE_MODES)}, got {self.mode!r}")
        if not 0 <= self.scene_threshold <= 1:
            raise OptionError(f"scene threshold must be between 0 (off) and 1, got {self.scene_threshold}")
        if self.hold_threshold < 0:
            raise OptionError(f"hold threshold must be >= 0, got {self.hold_threshold}")
        if self.noise_margin < 0:
            raise OptionError(f"noise margin must be >= 0, got {self.noise_margin}")
        if self.max_hold_frames < 1:
            raise OptionError(f"max hold frames must be >= 1, got {self.max_hold_frames}")
        if self.cut_jump_ratio < 1:
            raise OptionError(f"cut jump ratio must be >= 1, got {self.cut_jump_ratio}")


@dataclass(frozen=True)
class Shot:
    """Source frames ``first_index..last_index`` (inclusive) between two cuts, and their cadence."""

    first_index: int
    last_index: int
    cadence: str

    def __iter__(self):  # unpacks as (first_index, last_index, cadence)
        return iter((self.first_index, self.last_index, self.cadence))


@dataclass
class CadenceSummary:
    """Counts over the frames pushed so far; ``shots`` as (first_index, last_index, cadence label)."""

    frames: int
    keyframes: int
    held_frames: int
    scene_cuts: int
    stills: int
    shots: list[Shot] = field(default_factory=list)


@dataclass(frozen=True)
class FrameSignature:
    """What is kept of a frame to compare it with others.

    ``luma``: blurred thumbnail ``[h, w]`` float32 in 8-bit units. ``histogram``: ``[3, bins]``
    colour histogram, each row summing to 1. ``noise``: estimated noise standard deviation of the
    thumbnail (8-bit units). ``mean``: mean luma (8-bit units).
    """

    luma: np.ndarray
    histogram: np.ndarray
    noise: float
    mean: float


@dataclass
class FrameRecord:
    """The decision about one source frame (one entry of :meth:`CadenceAnalyzer.report`)."""

    index: int
    time: Fraction
    is_key: bool = False
    held_from: int | None = None
    cut_before: bool = False
    reason: str = ""  # first | drawing | cut | still_end | hold | every_frame
    change_from_previous: float | None = None
    change_from_key: float | None = None
    hold_limit: float | None = None
    cut_score: float | None = None
    drawing: int = 0  # index of the key that started this frame's drawing

    def as_dict(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(float(value), 4)

        return {
            "index": self.index,
            "time": str(self.time),
            "is_key": self.is_key,
            "held_from": self.held_from,
            "cut_before": self.cut_before,
            "reason": self.reason,
            "change_from_previous": rounded(self.change_from_previous),
            "change_from_key": rounded(self.change_from_key),
            "hold_limit": rounded(self.hold_limit),
            "cut_score": rounded(self.cut_score),
        }


def frame_signature(rgb: np.ndarray) -> FrameSignature:
    """Thumbnail, histogram and noise level of an ``[H, W, 3]`` uint16 full-range RGB frame."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an [H, W, 3] frame, got shape {rgb.shape}")
    height, width = rgb.shape[:2]
    scale = max(1, math.ceil(max(height, width) / THUMBNAIL_MAX_SIDE))
    size = (max(1, width // scale), max(1, height // scale))
    small = cv2.resize(rgb.astype(np.float32) / UINT16_TO_8BIT, size, interpolation=cv2.INTER_AREA)
    small = small.reshape(size[1], size[0], 3)
    luma = small @ np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec.709 weights
    noise = _noise_sigma(luma)
    blurred = cv2.GaussianBlur(luma, (0, 0), THUMBNAIL_BLUR_SIGMA)
    histogram = np.stack([
        np.histogram(small[..., channel], bins=CUT_HISTOGRAM_BINS, range=(0.0, 256.0))[0] for channel in range(3)
    ]).astype(np.float32)
    histogram /= max(1.0, float(luma.size))
    return FrameSignature(blurred, histogram, noise, float(luma.mean()))


def _noise_sigma(luma: np.ndarray) -> float:
    """Noise standard deviation from the median absolute Laplacian (flat cel areas dominate)."""
    if min(luma.shape) < 3:
        return 0.0
    laplacian = cv2.Laplacian(luma, cv2.CV_32F, ksize=1)  # 4-neighbour kernel: noise gain sqrt(20)
    return float(np.median(np.abs(laplacian))) * 1.4826 / math.sqrt(20.0)


def _blur_noise_gain() -> float:
    """How much the thumbnail blur shrinks white noise's standard deviation."""
    return 1.0 / (2.0 * math.sqrt(math.pi) * THUMBNAIL_BLUR_SIGMA)


def block_change(a: np.ndarray, b: np.ndarray) -> float:
    """Largest block-mean absolute difference between two thumbnails (8-bit units)."""
    difference = np.abs(a - b)
    h, w = difference.shape
    block = min(HOLD_BLOCK_SIZE, h, w)
    h_crop, w_crop = (h // block) * block, (w // block) * block
    blocks = difference[:h_crop, :w_crop].reshape(h_crop // block, block, w_crop // block, block).mean(axis=(1, 3))
    largest = float(blocks.max())
    if h_crop < h or w_crop < w:  # edge strips that do not fill a whole block still count
        largest = max(largest, float(difference[h_crop:].mean()) if h_crop < h else 0.0,
                      float(difference[:, w_crop:].mean()) if w_crop < w else 0.0)
    return largest


def noise_change(a: FrameSignature, b: FrameSignature) -> float:
    """Expected block change that the two frames' noise alone produces (8-bit units)."""
    sigma = math.hypot(a.noise, b.noise) * _blur_noise_gain()
    return sigma * math.sqrt(2.0 / math.pi)  # mean absolute value of a normal variable


def cut_score(a: FrameSignature, b: FrameSignature) -> float:
    """How much ``b`` looks like a different shot from ``a``: 0 (same) .. 1 (nothing in common).

    The geometric mean of the colour-histogram distance and the brightness-compensated mean
    luma difference: a pan or large motion keeps the colours, a fade keeps the structure.
    """
    histogram_distance = float(np.abs(a.histogram - b.histogram).sum(axis=1).mean()) / 2.0
    if a.mean > MIN_GAIN_REFERENCE and b.mean > MIN_GAIN_REFERENCE:
        compensated = b.luma * (a.mean / b.mean)
    else:
        compensated = b.luma
    structural = min(1.0, float(np.abs(a.luma - compensated).mean()) / CUT_DIFFERENCE_SCALE)
    return math.sqrt(histogram_distance * structural)


class CadenceAnalyzer:
    """Streams source frames in, keyframes out (see the module docstring for the rules).

    Push every decoded frame in order with :meth:`push`, then call :meth:`finish`. Keys come out
    in time order, each a frame that was pushed; the first frame is always a key. A key returned
    by ``push(i)`` is frame ``i`` or frame ``i - 1``, never older (``LOOKAHEAD_FRAMES``).
    """

    LOOKAHEAD_FRAMES = ONE_FRAME_LOOKAHEAD

    def __init__(self, settings: CadenceSettings = CadenceSettings()) -> None:
        self.settings = settings
        self._records: list[FrameRecord] = []
        self._key_signature: FrameSignature | None = None
        self._key_record: FrameRecord | None = None
        self._previous_signature: FrameSignature | None = None
        self._previous_record: FrameRecord | None = None
        self._recent_cut_scores: deque[float] = deque(maxlen=CUT_HISTORY_FRAMES)
        self._cut_indices: list[int] = []
        self._finished = False

    # -- streaming ---------------------------------------------------------------------------
    def push(self, index: int, time: Fraction, rgb: np.ndarray) -> list[Keyframe]:
        """Analyse source frame ``index`` at ``time`` seconds (``rgb``: ``[H, W, 3]`` uint16 full range).

        Returns the keys decided by this frame, in time order (possibly the previous frame, which
        ends a still, then this one).
        """
        if self._finished:
            raise RuntimeError("push() after finish()")
        time = Fraction(time)
        previous = self._previous_record
        if previous is not None and (index <= previous.index or time <= previous.time):
            raise ValueError(f"frames must come in order: frame {previous.index} at {previous.time}, then {index} at {time}")
        signature = frame_signature(rgb)
        record = FrameRecord(index, time)
        self._records.append(record)
        keys: list[Keyframe] = []
        if previous is None or self._key_signature is None or self._previous_signature is None:
            record.reason = "first"
            keys.append(self._make_key(record, signature, cut_before=False))
        else:
            record.change_from_previous = block_change(self._previous_signature.luma, signature.luma)
            record.cut_score = cut_score(self._previous_signature, signature)
            if self._is_cut(record.cut_score):
                record.reason = "cut"
                self._cut_indices.append(index)
                keys.append(self._make_key(record, signature, cut_before=True))
            elif self.settings.mode == "off":
                record.reason = "every_frame"
                keys.append(self._make_key(record, signature, cut_before=False))
            else:
                keys.extend(self._hold_or_draw(record, signature))
            if record.reason != "hold":  # holds would drag the typical change of a moving shot to zero
                self._recent_cut_scores.append(record.cut_score)
        self._previous_signature = signature
        self._previous_record = record
        return keys

    def finish(self) -> list[Keyframe]:
        """End of the clip: no further keys (a trailing hold stays a hold up to the end)."""
        self._finished = True
        return []

    def _hold_or_draw(self, record: FrameRecord, signature: FrameSignature) -> list[Keyframe]:
        key_signature, key_record = self._key_signature, self._key_record
        assert key_signature is not None and key_record is not None and self._previous_signature is not None
        record.change_from_key = block_change(key_signature.luma, signature.luma)
        limit = max(self.settings.hold_threshold, self.settings.noise_margin * noise_change(key_signature, signature))
        record.hold_limit = limit
        same_drawing = record.change_from_key <= limit and (record.change_from_previous or 0.0) <= limit
        if same_drawing:
            record.reason = "hold"
            record.held_from = key_record.index
            record.drawing = key_record.drawing
            return []
        keys: list[Keyframe] = []
        previous = self._previous_record
        assert previous is not None
        held_length = previous.index - key_record.index + 1  # frames showing the previous drawing
        if held_length > self.settings.max_hold_frames:
            previous.is_key = True
            previous.cut_before = True  # the planner holds the still exactly up to its last frame
            previous.reason = "still_end"
            previous.held_from = None
            keys.append(Keyframe(previous.index, previous.time, cut_before=True))
        record.reason = "drawing"
        keys.append(self._make_key(record, signature, cut_before=False))
        return keys

    def _make_key(self, record: FrameRecord, signature: FrameSignature, cut_before: bool) -> Keyframe:
        record.is_key = True
        record.cut_before = cut_before
        record.drawing = record.index
        self._key_signature = signature
        self._key_record = record
        return Keyframe(record.index, record.time, cut_before)

    def _is_cut(self, score: float) -> bool:
        threshold = self.settings.scene_threshold
        if threshold <= 0 or score < threshold:
            return False
        if not self._recent_cut_scores:
            return True
        typical = float(np.median(np.asarray(self._recent_cut_scores)))
        return score >= self.settings.cut_jump_ratio * typical

    # -- results -----------------------------------------------------------------------------
    def report(self) -> list[dict[str, Any]]:
        """One dict per source frame: index, time (exact, as a string), is_key, held_from,
        cut_before, reason, and the difference scores the decision used."""
        return [record.as_dict() for record in self._records]

    def summary(self) -> CadenceSummary:
        records = self._records
        keys = sum(record.is_key for record in records)
        stills = sum(record.reason == "still_end" for record in records)
        return CadenceSummary(
            frames=len(records),
            keyframes=keys,
            held_frames=sum(record.held_from is not None for record in records),
            scene_cuts=len(self._cut_indices),
            stills=stills,
            shots=self._shots(),
        )

    def _shots(self) -> list[Shot]:
        if not self._records:
            return []
        shots: list[Shot] = []
        start = 0
        for position, record in enumerate(self._records):
            if position > 0 and record.reason == "cut":
                shots.append(self._shot(self._records[start:position]))
                start = position
        shots.append(self._shot(self._records[start:]))
        return shots

    def _shot(self, records: list[FrameRecord]) -> Shot:
        return Shot(records[0].index, records[-1].index, self._cadence_label(records))

    def _cadence_label(self, records: list[FrameRecord]) -> str:
        runs: list[int] = []
        current_drawing: int | None = None
        for record in records:
            if record.drawing != current_drawing:
                runs.append(0)
                current_drawing = record.drawing
            runs[-1] += 1
        return label_cadence(runs, self.settings.max_hold_frames)


def label_cadence(runs: list[int], max_hold_frames: int) -> str:
    """Name the cadence of a shot from how many frames each drawing is shown, in order.

    The last run may be cut short by the shot's end, so it counts only when it is the only one.
    """
    if not runs:
        return "still"
    if len(runs) == 1:
        return "still" if runs[0] > 1 else "ones"
    complete = runs[:-1]
    if all(run > max_hold_frames for run in complete):
        return "still"
    moving = [run for run in complete if run <= max_hold_frames]
    counts = {length: moving.count(length) for length in set(moving)}
    length, count = max(counts.items(), key=lambda item: (item[1], -item[0]))
    if count >= DOMINANT_CADENCE_SHARE * len(moving):
        return CADENCE_LABELS.get(length, f"{length}s")
    return "mixed"
