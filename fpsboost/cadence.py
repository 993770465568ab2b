"""Anime cadence: find held drawings and scene cuts, and turn source frames into keyframes.

Anime is drawn "on twos" or "on threes": each drawing is shown for 2-3 frames of 24 fps.
Interpolating every source pair keeps those holds, so motion stutters. Here every *unique
drawing* becomes a :class:`~fpsboost.timing.Keyframe` at its own time and held duplicates are
not keys; the planner then interpolates across the hold and motion advances at every output
frame while the output grid (length, duration, audio sync) stays exactly the same.

Decisions, per source frame:

* **hold**: the frame shows the same drawing as the current key. Compared on a blurred,
  downscaled luma thumbnail: the *largest* block-mean difference (8-bit units) must stay under
  ``hold_threshold``, or under ``noise_margin`` times the pair's noise floor (its 90th-percentile
  block: noise touches every block, motion only some). Blocks are small and the maximum is used,
  so a small, dark, slowly moving object still breaks a hold, while noise spread over the frame
  does not. Two kinds of codec noise are forgiven: edge differences up to a sub-pixel shift
  (ringing), and a flat area moved as a whole by a code value or two (``requantisation_shift``):
  a lossy codec codes the same picture at another quantiser in each frame type, so a held
  drawing's flat fills come back a level higher or lower per transform block. A moving edge
  changes only part of a block and a real change of shade is larger, so neither is forgiven.
  Frames are compared with the run's key, not only with their neighbour, so slow drift cannot
  creep through a chain of "holds".
* **pan**: a slow camera pan moves the whole picture by a fraction of a pixel per frame, which
  the block rule above forgives as it would codec noise. So a would-be hold is a key after all
  when the picture as a whole moved from the key: the least-squares translation of the blurred
  thumbnail (:func:`global_shift`) is at least ``pan_shift_px`` *and* explains at least
  ``PAN_EXPLAINED_SHARE`` of the difference. Noise and re-quantisation shift nothing coherently:
  on held frames the translation explains at most 13 % of the difference (x264's ringing along
  edges, with a shift under 0.03 pixels), and where noise swamps a dark picture's weak gradients
  and "shifts" it by up to 0.4 pixels, at most 2 %. A pan of 0.1 pixels per frame over a lit
  background measures 0.1 pixels and explains 25 % or more with noise of one 8-bit step; a dim,
  low-contrast pan that slow is lost in the noise and is still called held (as before).
* **cadence prior**: a low-rate codec redraws a held picture's edges a fraction of a pixel off,
  beyond what the block rule forgives (x265 at CRF 28-32 on 320x180 broke up to 20 of 24 holds).
  Once the shot's last three drawings came n frames apart (on twos or threes), the n - 1 frames
  after the latest are expected holds, and there a change of up to ``cadence_hold_share`` of the
  smaller of the last two drawings' changes is damage, not a drawing. The price: an element
  animated on ones whose step is that small (a small dot, beside characters on twos) is held and
  re-timed with the characters.
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
from typing import Any, NamedTuple

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
LIMITED_RANGE_LUMA_STEP = 255 / 219  # one 8-bit limited-range (16..235) luma code value, in full-range 8-bit units
# A block's shift counts as shared when the block's middle half (25th..75th percentile of its
# pixel differences) lies on one side of zero: then at least three quarters of it moved together.
SHARED_SHIFT_PERCENTILES = (25, 75)

# Defaults for CadenceSettings (8-bit-equivalent units unless said otherwise).
DEFAULT_HOLD_THRESHOLD = 1.0
DEFAULT_NOISE_MARGIN = 2.5
DEFAULT_MAX_HOLD_FRAMES = 4
DEFAULT_EDGE_TOLERANCE_PX = 0.15
DEFAULT_BRIGHTNESS_SHIFT = 0.5
# x264 moves a held picture's 8x8 blocks by one code value from frame to frame (the sample clip,
# CRF 26: 1.0-1.5 full-range units on B and P frames). More would hide smooth shading changes:
# a glow that brightens by less than this plus hold_threshold per frame is seen every 2nd frame.
DEFAULT_REQUANTISATION_SHIFT = LIMITED_RANGE_LUMA_STEP
# The noise floor of a pair is this percentile of its block differences: noise touches every
# block, a moving object only a few. Capped: when many blocks change more, it is motion (a pan).
NOISE_FLOOR_PERCENTILE = 90
NOISE_FLOOR_CAP = 1.5
# Coherent motion of the whole picture (a pan): a translation of at least DEFAULT_PAN_SHIFT_PX
# thumbnail pixels that explains at least PAN_EXPLAINED_SHARE of the squared difference. Measured by
# `fpsboost bench cadence-pan-shift` (see RESULTS.md): held frames of lit scenes shift by at most 0.066 px
# (JPEG quality 50; sample.mp4's x264: 0.022) and the shift explains at most 13 % (x264's ringing); dark
# held frames "shift" by up to 0.37 px but explain at most 2 %. Lit pans of 0.1-0.5 px per frame measure
# 0.10-1.1 px and explain 25-88 %. A hold stays a hold by failing either test; the explained share is
# the one that separates every measured case, the length keeps near-still pictures out (x264's ringing;
# sample.mp4 darkened x0.12 and re-encoded explains up to 17 % at 0.047 px, so the length test carries it).
DEFAULT_PAN_SHIFT_PX = 0.07
PAN_EXPLAINED_SHARE = 0.18
# A slower pan, measured on real footage: Big Buck Bunny's camera drifting 0.2-0.35 px per frame at
# 1280x720 shifts its 256-px thumbnail by only 0.04-0.07 px, and the rule above held 28 of its frames
# (`fpsboost bench cadence-false-holds`). Those shifts explain 17-74 % of the difference, where no held
# frame measured explains more than 17 %; so a shift of at least SLOW_PAN_SHIFT_PX that explains at least
# SLOW_PAN_EXPLAINED_SHARE is a pan too.
SLOW_PAN_SHIFT_PX = 0.03
SLOW_PAN_EXPLAINED_SHARE = 0.25
# Directions with less than this share of the strongest gradient energy are not measured (a frame of
# parallel stripes shows no motion along them): the aperture problem, solved by a pseudo-inverse.
SHIFT_SOLVE_RCOND = 1e-3
# The cadence prior (CadenceSettings.cadence_hold_share): once the shot's last three drawings came
# n frames apart (2 <= n <= max_hold_frames), the n - 1 frames after the latest are expected holds,
# and there a change of up to this share of the smaller of the last two drawings' own changes is
# codec damage, not a drawing. Lossy codecs at low rates redraw a held picture's edges a fraction of
# a pixel off: x264 at CRF 32 on 320x180 changed held frames by up to 2.2 where the limit was about
# 1-2, while every drawing changed by 12 or more (`fpsboost bench cadence-codec-holds`).
DEFAULT_CADENCE_HOLD_SHARE = 0.3
CADENCE_DRAWINGS = 3  # drawings (two intervals) that must agree before the prior applies
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
    ``noise_margin``: a hold is also accepted while the most-changed block stays within this many
    times the pair's noise floor (the ``NOISE_FLOOR_PERCENTILE`` block, capped at
    ``NOISE_FLOOR_CAP``): compressed sources are noisier than the fixed threshold, but their noise
    is spread over the frame, while a moving object changes a few blocks far above the rest.
    ``edge_tolerance_px``: codec noise along edges is forgiven as if the edge had moved this many
    thumbnail pixels; real motion of less than that per frame is treated as a hold (and breaks
    it once it adds up, because frames are compared with the drawing's key).
    ``requantisation_shift``: codec noise in flat areas (8-bit units): a block whose pixels
    (three quarters of them at least) moved together by up to this much is the same picture
    re-quantised; only what goes beyond it counts. A moving edge never moves a whole block
    together, so slow or dark motion is unaffected. 0 turns this off.
    ``pan_shift_px``: a frame whose whole picture moved coherently from the key by at least this
    many thumbnail pixels (:func:`global_shift`, explaining at least ``PAN_EXPLAINED_SHARE`` of
    the difference) is not a hold, however small its block differences: a slow camera pan.
    0 turns this off.
    ``brightness_shift``: two frames whose mean luma differs by more than this (8-bit units) are
    never the same drawing, however evenly spread the change is (a fade).
    ``cadence_hold_share``: where the shot's cadence says a frame should be a hold (its last three
    drawings came the same 2 or more frames apart, and this frame comes before the next drawing
    is due), it is one while its change stays under this share of the smaller of the last two
    drawings' changes (or the usual limit, if higher): a low-rate codec redraws held edges a
    fraction of a pixel off. A key whose change is that small anyway (a damaged hold before the
    cadence was known, or one the pan or brightness rule kept) is not one of the cadence's
    drawings, so one miss does not end the cadence. A change of cadence to ones is seen a frame
    late if its first step is that small. 0 turns this off.
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
    edge_tolerance_px: float = DEFAULT_EDGE_TOLERANCE_PX
    requantisation_shift: float = DEFAULT_REQUANTISATION_SHIFT
    pan_shift_px: float = DEFAULT_PAN_SHIFT_PX
    brightness_shift: float = DEFAULT_BRIGHTNESS_SHIFT
    cadence_hold_share: float = DEFAULT_CADENCE_HOLD_SHARE
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
        if self.edge_tolerance_px < 0:
            raise OptionError(f"edge tolerance must be >= 0, got {self.edge_tolerance_px}")
        if self.requantisation_shift < 0:
            raise OptionError(f"requantisation shift must be >= 0, got {self.requantisation_shift}")
        if self.pan_shift_px < 0:
            raise OptionError(f"pan shift must be >= 0 (0: off), got {self.pan_shift_px}")
        if self.brightness_shift < 0:
            raise OptionError(f"brightness shift must be >= 0, got {self.brightness_shift}")
        if not 0 <= self.cadence_hold_share < 1:
            raise OptionError(f"cadence hold share must be >= 0 (0: off) and < 1, got {self.cadence_hold_share}")
        if self.max_hold_frames < 1:
            raise OptionError(f"max hold frames must be >= 1, got {self.max_hold_frames}")
        if self.cut_jump_ratio < 1:
            raise OptionError(f"cut jump ratio must be >= 1, got {self.cut_jump_ratio}")


class Shot(NamedTuple):
    """Source frames ``first_index..last_index`` (inclusive) between two cuts, and their cadence:
    ``ones``, ``twos``, ``threes``, ``fours``, ``mixed`` or ``still``."""

    first_index: int
    last_index: int
    cadence: str


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

    ``luma``: blurred thumbnail ``[h, w]`` float32 in 8-bit units; ``sharp_luma``: the same
    thumbnail before the blur (codec shifts of flat blocks are still flat there); ``gradient``:
    the blurred thumbnail's gradient magnitude ``[h, w]`` (8-bit units per thumbnail pixel). ``histogram``: ``[3, bins]``
    colour histogram, each row summing to 1. ``mean``: mean luma (8-bit units).
    """

    luma: np.ndarray
    sharp_luma: np.ndarray
    gradient: np.ndarray
    histogram: np.ndarray
    mean: float


@dataclass
class FrameRecord:
    """The decision about one source frame (one entry of :meth:`CadenceAnalyzer.report`)."""

    index: int
    time: Fraction
    is_key: bool = False
    held_from: int | None = None
    cut_before: bool = False
    reason: str = ""  # first | drawing | pan | cut | still_end | hold | every_frame
    change_from_previous: float | None = None
    change_from_key: float | None = None
    hold_limit: float | None = None
    shift_from_key: float | None = None  # thumbnail pixels, when the block rule saw a hold
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
            "shift_from_key": rounded(self.shift_from_key),
            "cut_score": rounded(self.cut_score),
        }


def frame_signature(rgb: np.ndarray) -> FrameSignature:
    """Thumbnail, gradient, histogram and mean luma of an ``[H, W, 3]`` uint16 full-range RGB frame."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an [H, W, 3] frame, got shape {rgb.shape}")
    height, width = rgb.shape[:2]
    scale = max(1, math.ceil(max(height, width) / THUMBNAIL_MAX_SIDE))
    size = (max(1, width // scale), max(1, height // scale))
    # Shrink first, then convert: converting the whole frame to float cost more than the rest of
    # the analysis (about 0.1 s a 1080p frame). Area averages rounded to 16-bit steps are within
    # 1/500 of an 8-bit step of the float ones.
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).astype(np.float32) / UINT16_TO_8BIT
    small = small.reshape(size[1], size[0], 3)
    luma = small @ np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec.709 weights
    blurred = cv2.GaussianBlur(luma, (0, 0), THUMBNAIL_BLUR_SIGMA)
    histogram = np.stack([
        np.histogram(small[..., channel], bins=CUT_HISTOGRAM_BINS, range=(0.0, 256.0))[0] for channel in range(3)
    ]).astype(np.float32)
    histogram /= max(1.0, float(luma.size))
    gradient_y, gradient_x = np.gradient(blurred) if min(blurred.shape) > 1 else (np.zeros_like(blurred),) * 2
    gradient = np.hypot(gradient_x, gradient_y).astype(np.float32)
    return FrameSignature(blurred, luma, gradient, histogram, float(luma.mean()))


def _block_side(image: np.ndarray) -> int:
    return max(1, min(HOLD_BLOCK_SIZE, *image.shape))


def _blocks(image: np.ndarray) -> np.ndarray:
    """``[h, w]`` -> ``[h / b, w / b, b * b]``: the pixels of each ``HOLD_BLOCK_SIZE`` square block
    (``b``, fewer for tiny images), ragged edges padded by repetition."""
    h, w = image.shape
    block = _block_side(image)
    padded = np.pad(image, ((0, -h % block), (0, -w % block)), mode="edge")
    hp, wp = padded.shape
    return padded.reshape(hp // block, block, wp // block, block).transpose(0, 2, 1, 3).reshape(hp // block, wp // block, -1)


def _block_means(image: np.ndarray) -> np.ndarray:
    """Means over ``HOLD_BLOCK_SIZE``-pixel square blocks; ragged edges are padded by repetition."""
    return _blocks(image).mean(axis=2)


def shared_block_shift(difference: np.ndarray, limit: float) -> np.ndarray:
    """The shift each block's pixels share, as an ``[h, w]`` field constant per block.

    ``difference``: ``[h, w]`` signed, 8-bit units. A block's shared shift is the value nearest
    zero within its middle half (``SHARED_SHIFT_PERCENTILES``): zero unless three quarters of the
    block moved the same way, as a codec's re-quantised flat fill does; a moving edge covers
    only part of a block, so its shift is zero. Capped at ``limit`` either way.
    """
    low, high = np.percentile(_blocks(difference), SHARED_SHIFT_PERCENTILES, axis=2)
    shift = np.clip(np.clip(0.0, low, high), -limit, limit).astype(np.float32)
    block = _block_side(difference)
    h, w = difference.shape
    return np.repeat(np.repeat(shift, block, axis=0), block, axis=1)[:h, :w]


@dataclass(frozen=True)
class Change:
    """How two frames differ (8-bit units): ``largest``: the most-changed block beyond edge
    jitter and re-quantisation; ``noise_floor``: the ``NOISE_FLOOR_PERCENTILE`` block's plain
    difference; ``brightness``: mean luma shift."""

    largest: float
    noise_floor: float
    brightness: float


def block_change(a: FrameSignature, b: FrameSignature, edge_tolerance_px: float,
                 requantisation_shift: float = DEFAULT_REQUANTISATION_SHIFT) -> Change:
    """Block-wise luma difference between two frames, less what codec noise explains.

    8-bit units. Lossy codecs disturb pixels near edges in proportion to the edge's contrast, as
    a sub-pixel shift would; so each block may differ by ``edge_tolerance_px`` times its gradient
    magnitude for free. Being relative to contrast, this treats dark and bright scenes alike.
    They also re-quantise flat areas, moving whole blocks by a level or two: up to
    ``requantisation_shift`` of what a block's pixels share (:func:`shared_block_shift`, found
    before the blur, where such a block is still flat) is taken out before the blur.
    """
    plain = _block_means(np.abs(b.luma - a.luma))
    if requantisation_shift > 0:
        sharp_difference = b.sharp_luma - a.sharp_luma
        residual = sharp_difference - shared_block_shift(sharp_difference, requantisation_shift)
        difference = _block_means(np.abs(cv2.GaussianBlur(residual, (0, 0), THUMBNAIL_BLUR_SIGMA)))
    else:
        difference = plain
    jitter = _block_means(np.maximum(a.gradient, b.gradient)) * edge_tolerance_px
    largest = max(0.0, float((difference - jitter).max()))
    # The floor stays on the plain difference: re-quantisation is part of how noisy a pair is.
    return Change(largest, float(np.percentile(plain, NOISE_FLOOR_PERCENTILE)), abs(a.mean - b.mean))


class GlobalShift(NamedTuple):
    """The translation that best explains how a picture changed: ``dx``, ``dy`` in thumbnail
    pixels (right, down), and ``explained``: the share (0..1) of the squared difference it
    accounts for."""

    dx: float
    dy: float
    explained: float

    @property
    def length(self) -> float:
        return math.hypot(self.dx, self.dy)


def global_shift(a: FrameSignature, b: FrameSignature) -> GlobalShift:
    """Least-squares sub-pixel translation from ``a`` to ``b`` on the blurred thumbnails.

    Linearised brightness constancy, ``b - a = -(Ix * dx + Iy * dy)`` with the gradients of the
    two frames' mean, solved over the whole frame. Valid for shifts up to about a pixel (larger
    ones are under-estimated, and are keys by the block rule anyway; central differences flatten
    a sharp edge's gradient, so a sharp picture's shift reads up to ~15 % long). Noise and codec
    re-quantisation do not line up with the picture's gradients, so they shift it by little and
    explain little; a camera pan does both. A flat frame (no gradient) measures no shift.
    """
    if min(a.luma.shape) < 2:
        return GlobalShift(0.0, 0.0, 0.0)
    gradient_y, gradient_x = np.gradient((a.luma + b.luma) * 0.5)
    difference = (b.luma - a.luma).astype(np.float64)
    gradient_x, gradient_y = gradient_x.astype(np.float64), gradient_y.astype(np.float64)
    normal = np.array([[np.sum(gradient_x * gradient_x), np.sum(gradient_x * gradient_y)],
                       [np.sum(gradient_x * gradient_y), np.sum(gradient_y * gradient_y)]])
    if not normal.any():
        return GlobalShift(0.0, 0.0, 0.0)
    dx, dy = -np.linalg.pinv(normal, rcond=SHIFT_SOLVE_RCOND) @ np.array([np.sum(gradient_x * difference),
                                                                          np.sum(gradient_y * difference)])
    energy = float(np.sum(difference * difference))
    residual = float(np.sum((difference + gradient_x * dx + gradient_y * dy) ** 2))
    explained = max(0.0, 1.0 - residual / energy) if energy > 0 else 0.0
    return GlobalShift(float(dx), float(dy), explained)


def is_pan(shift: GlobalShift, pan_shift_px: float) -> bool:
    """The whole picture moved coherently: a camera pan too slow for the block rule. Either the shift
    reaches ``pan_shift_px`` and explains ``PAN_EXPLAINED_SHARE`` of the change, or it is slower (down
    to ``SLOW_PAN_SHIFT_PX``) and explains more (``SLOW_PAN_EXPLAINED_SHARE``). 0 turns both off."""
    if pan_shift_px <= 0:
        return False
    if shift.length >= pan_shift_px and shift.explained >= PAN_EXPLAINED_SHARE:
        return True
    return shift.length >= min(SLOW_PAN_SHIFT_PX, pan_shift_px) and shift.explained >= SLOW_PAN_EXPLAINED_SHARE


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

    def __init__(self, settings: CadenceSettings = CadenceSettings(), keep_report: bool = True) -> None:
        """``keep_report=False`` keeps memory flat over a film: per-frame records are folded into
        counts once final, and :meth:`report` is then unavailable."""
        self.settings = settings
        self._keep_report = keep_report
        self._records: deque[FrameRecord] = deque()
        self._tally = _Tally()  # records that were folded away (keep_report=False)
        self._key_signature: FrameSignature | None = None
        self._key_record: FrameRecord | None = None
        self._previous_signature: FrameSignature | None = None
        self._previous_record: FrameRecord | None = None
        self._recent_cut_scores: deque[float] = deque(maxlen=CUT_HISTORY_FRAMES)
        # The shot's latest drawings for the cadence prior: (frame index, its change from the drawing
        # before, None for the shot's first); keys the prior calls damage are left out.
        self._cadence_drawings: deque[tuple[int, float | None]] = deque(maxlen=CADENCE_DRAWINGS)
        self._cut_indices: list[int] = []
        self._finished = False

    # -- streaming ---------------------------------------------------------------------------
    def push(self, index: int, time: Fraction, rgb: np.ndarray, signature: FrameSignature | None = None) -> list[Keyframe]:
        """Analyse source frame ``index`` at ``time`` seconds (``rgb``: ``[H, W, 3]`` uint16 full range).

        ``signature``: ``frame_signature(rgb)`` when the caller computed it already (the pipeline
        does, on its decoding thread). Returns the keys decided by this frame, in time order
        (possibly the previous frame, which ends a still, then this one).
        """
        if self._finished:
            raise RuntimeError("push() after finish()")
        time = Fraction(time)
        previous = self._previous_record
        if previous is not None and (index <= previous.index or time <= previous.time):
            raise ValueError(f"frames must come in order: frame {previous.index} at {previous.time}, then {index} at {time}")
        if signature is None:
            signature = frame_signature(rgb)
        record = FrameRecord(index, time)
        self._records.append(record)
        if not self._keep_report and len(self._records) > RECORD_FINAL_AFTER:
            self._tally.add(self._records.popleft())
        keys: list[Keyframe] = []
        if previous is None or self._key_signature is None or self._previous_signature is None:
            record.reason = "first"
            keys.append(self._make_key(record, signature, cut_before=False))
        else:
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
        tolerances = (self.settings.edge_tolerance_px, self.settings.requantisation_shift)
        from_key = block_change(key_signature, signature, *tolerances)
        from_previous = block_change(self._previous_signature, signature, *tolerances)
        record.change_from_key = from_key.largest
        record.change_from_previous = from_previous.largest
        expected_hold_limit = self._expected_hold_limit(record.index)
        record.hold_limit = max(self._hold_limit(key_signature, signature, from_key), expected_hold_limit)
        same_drawing = (
            from_key.largest <= record.hold_limit
            and from_previous.largest <= max(self._hold_limit(self._previous_signature, signature, from_previous), expected_hold_limit)
            and from_key.brightness <= self.settings.brightness_shift
        )
        if same_drawing:
            shift = global_shift(key_signature, signature)
            record.shift_from_key = shift.length
            if not self._is_pan(shift):
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
        record.reason = "pan" if same_drawing else "drawing"
        keys.append(self._make_key(record, signature, cut_before=False))
        return keys

    def _is_pan(self, shift: GlobalShift) -> bool:
        return is_pan(shift, self.settings.pan_shift_px)

    def _hold_limit(self, a: FrameSignature, b: FrameSignature, change: Change) -> float:
        """Largest block change (8-bit units) that still counts as the same drawing for this pair."""
        return max(self.settings.hold_threshold, self.settings.noise_margin * min(change.noise_floor, NOISE_FLOOR_CAP))

    def _recent_drawing_changes(self) -> list[float]:
        """The changes that started the shot's last two cadence drawings (where known)."""
        return [change for _, change in list(self._cadence_drawings)[-2:] if change is not None]

    def _expected_hold_limit(self, index: int) -> float:
        """The cadence prior's hold limit for frame ``index`` (see ``CadenceSettings.cadence_hold_share``):
        the damage limit where the shot's cadence expects a hold, else 0."""
        drawings = self._cadence_drawings
        if len(drawings) < CADENCE_DRAWINGS:
            return 0.0
        intervals = {later[0] - earlier[0] for earlier, later in zip(drawings, list(drawings)[1:])}
        interval = intervals.pop() if len(intervals) == 1 else 0
        changes = self._recent_drawing_changes()
        if not 2 <= interval <= self.settings.max_hold_frames or index - drawings[-1][0] >= interval or not changes:
            return 0.0
        return self.settings.cadence_hold_share * min(changes)

    def _make_key(self, record: FrameRecord, signature: FrameSignature, cut_before: bool) -> Keyframe:
        if cut_before:  # a new shot: no cadence yet (after a still, the long interval keeps the prior off)
            self._cadence_drawings.clear()
        change = record.change_from_key if self._cadence_drawings else None
        # A key changed this little next to the shot's drawings is damage the prior could not hold yet
        # (or a pan): it is not a drawing of the cadence. Measured against the larger of the last two
        # changes, so a damaged hold taken for a drawing before the cadence was known does not set the scale.
        damage = self.settings.cadence_hold_share * max(self._recent_drawing_changes(), default=0.0)
        if change is None or change > damage:
            self._cadence_drawings.append((record.index, change))
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
        if not self._keep_report:
            raise RuntimeError("this analyser was made with keep_report=False")
        return [record.as_dict() for record in self._records]

    def summary(self) -> CadenceSummary:
        tally = self._tally.copy()
        for record in self._records:
            tally.add(record)
        return CadenceSummary(
            frames=tally.frames,
            keyframes=tally.keys,
            held_frames=tally.held,
            scene_cuts=len(self._cut_indices),
            stills=tally.stills,
            shots=[Shot(first, last, label_cadence(runs, self.settings.max_hold_frames)) for first, last, runs in tally.shots],
        )


RECORD_FINAL_AFTER = 2  # push(i) may still change frame i-1's record (a still's end), never older ones


@dataclass
class _Tally:
    """Counts and per-shot drawing lengths of frame records that can no longer change."""

    frames: int = 0
    keys: int = 0
    held: int = 0
    stills: int = 0
    shots: list[tuple[int, int, list[int]]] = field(default_factory=list)  # first, last, frames per drawing
    drawing: int | None = None

    def add(self, record: FrameRecord) -> None:
        self.frames += 1
        self.keys += record.is_key
        self.held += record.held_from is not None
        self.stills += record.reason == "still_end"
        if not self.shots or record.reason == "cut":
            self.shots.append((record.index, record.index, []))
            self.drawing = None
        first, _, runs = self.shots[-1]
        if record.drawing != self.drawing:
            runs.append(0)
            self.drawing = record.drawing
        runs[-1] += 1
        self.shots[-1] = (first, record.index, runs)

    def copy(self) -> "_Tally":
        return _Tally(self.frames, self.keys, self.held, self.stills,
                      [(first, last, list(runs)) for first, last, runs in self.shots], self.drawing)


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
