"""Generated frame sequences for the cadence tests: cel animation with known drawings and holds."""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable

import cv2
import numpy as np

from fpsboost.data.celgen import CelScene, MotionStyle

UINT16_MAX = 65535
EIGHT_BIT_STEP = 257  # uint16 value of one 8-bit step
FRAME_RATE = Fraction(24000, 1001)


def to_uint16(image: np.ndarray) -> np.ndarray:
    """``[3, H, W]`` or ``[H, W, 3]`` float in [0, 1] -> ``[H, W, 3]`` uint16 full range."""
    array = np.asarray(image, dtype=np.float32)
    if array.shape[0] == 3 and array.shape[-1] != 3:
        array = array.transpose(1, 2, 0)
    return np.clip(np.round(array * UINT16_MAX), 0, UINT16_MAX).astype(np.uint16)


def add_noise(frame: np.ndarray, sigma_8bit: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of ``sigma_8bit`` 8-bit steps, like the grain a lossy codec leaves."""
    noisy = frame.astype(np.float32) + rng.normal(0.0, sigma_8bit * EIGHT_BIT_STEP, frame.shape)
    return np.clip(np.round(noisy), 0, UINT16_MAX).astype(np.uint16)


def cel_frames(scene: CelScene, drawing_times: Iterable[float], noise_8bit: float = 1.0, seed: int = 0,
               brightness: float = 1.0) -> list[np.ndarray]:
    """Frame k shows the scene at ``drawing_times[k]`` (repeat a time to hold a drawing), with fresh noise."""
    rng = np.random.default_rng(seed)
    cache: dict[float, np.ndarray] = {}
    frames = []
    for time in drawing_times:
        if time not in cache:
            cache[time] = to_uint16(scene.render(float(time)).numpy() * brightness)
        frames.append(add_noise(cache[time], noise_8bit, rng) if noise_8bit > 0 else cache[time].copy())
    return frames


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
