"""Generated frame sequences for the cadence tests: cel animation with known drawings and holds."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Iterable

import cv2
import numpy as np

from fpsboost.data import sample_clip
from fpsboost.data.cadence_clips import add_noise, cel_frames, requantise_blocks, to_uint16  # noqa: F401 (for the tests)
from fpsboost.data.celgen import MotionStyle

FRAME_RATE = Fraction(24000, 1001)


def on_cadence(pattern: Iterable[int]) -> list[int]:
    """Drawing time shown at each frame for hold lengths ``pattern``: (2, 2, 3) -> [0, 0, 2, 2, 4, 4, 4]."""
    times: list[int] = []
    for length in pattern:
        start = len(times)
        times.extend([start] * length)
    return times


def small_dot_frames(count: int, height: int, width: int, speed_px: float, background_8bit: float,
                     dot_8bit: float, radius_px: float, noise_8bit: float, seed: int = 0) -> list[np.ndarray]:
    """A small anti-aliased disc moving right at ``speed_px`` per frame over a flat dark background."""
    rng = np.random.default_rng(seed)
    supersample = 8
    frames = []
    for k in range(count):
        canvas = np.full((height * supersample, width * supersample), background_8bit, np.float32)
        centre = (int((width * 0.2 + k * speed_px) * supersample), int(height * 0.5 * supersample))
        cv2.circle(canvas, centre, int(radius_px * supersample), float(dot_8bit), -1)
        luma = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA) / 255.0
        frame = to_uint16(np.repeat(luma[..., None], 3, axis=2))
        frames.append(add_noise(frame, noise_8bit, rng) if noise_8bit > 0 else frame)
    return frames


def slow_style() -> MotionStyle:
    return MotionStyle(max_speed=0.01, max_rotation=0.0, max_zoom=0.0, flash_probability=0.0, text_probability=0.0)


def glow_frames(count: int, height: int, width: int, step_8bit: float, sigma_px: float, background_8bit: float,
                noise_8bit: float, seed: int = 0) -> list[np.ndarray]:
    """A dark flat background under a soft round glow (Gaussian, ``sigma_px``) whose peak brightens
    by ``step_8bit`` every frame: a change without edges, every block of it moving together."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    glow = np.exp(-((columns - 0.6 * width) ** 2 + (rows - 0.45 * height) ** 2) / (2 * sigma_px ** 2))
    frames = []
    for k in range(count):
        luma = (background_8bit + step_8bit * k * glow) / 255.0
        frames.append(add_noise(to_uint16(np.repeat(luma[..., None], 3, axis=2)), noise_8bit, rng))
    return frames


SAMPLE_DIRECTORY = Path(__file__).resolve().parent / "data"


def sample_generator() -> ModuleType:
    """The shipped ``sample.mp4``'s pictures and the constants it was made with (:mod:`fpsboost.data.sample_clip`)."""
    return sample_clip


def sample_drawing_starts(generator: ModuleType = sample_clip) -> list[int]:
    """Frames of the sample clip that show a new drawing (:func:`fpsboost.data.sample_clip.drawing_starts`)."""
    return generator.drawing_starts()
