"""Generated frame sequences for the cadence tests: cel animation with known drawings and holds."""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path
from types import ModuleType
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


LIMITED_RANGE_CODE_VALUE_8BIT = 255 / 219  # one step of 8-bit limited-range luma, in full-range 8-bit units
CODEC_TRANSFORM_BLOCK_PX = 8


def requantise_blocks(frame: np.ndarray, share: float, seed: int) -> np.ndarray:
    """What a lossy codec does to a held picture: a ``share`` of its 8x8 transform blocks come back
    one code value brighter or darker (the DC coefficient quantised the other way), the rest as is."""
    rng = np.random.default_rng(seed)
    height, width = frame.shape[:2]
    block = CODEC_TRANSFORM_BLOCK_PX
    rows, columns = -(-height // block), -(-width // block)
    shifted = rng.random((rows, columns)) < share
    signs = rng.choice([-1.0, 1.0], (rows, columns))
    offsets = np.where(shifted, signs * LIMITED_RANGE_CODE_VALUE_8BIT * EIGHT_BIT_STEP, 0.0)
    field = np.repeat(np.repeat(offsets, block, axis=0), block, axis=1)[:height, :width]
    return np.clip(np.round(frame + field[..., None]), 0, UINT16_MAX).astype(np.uint16)


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
    """``tests/data/make_sample.py`` as a module, for the constants the shipped ``sample.mp4`` was made with."""
    spec = importlib.util.spec_from_file_location("make_sample", SAMPLE_DIRECTORY / "make_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample_drawing_starts(generator: ModuleType) -> list[int]:
    """Frames of the sample clip that show a new drawing, by the generator's own rule: each shot
    starts at 0 and shows drawing ``local_index // FRAMES_PER_DRAWING``."""
    starts = []
    previous = None
    for index in range(generator.FRAMES):
        shot = 0 if index < generator.CUT_FRAME else 1
        local = index - (0 if shot == 0 else generator.CUT_FRAME)
        drawing = (shot, local // generator.FRAMES_PER_DRAWING)
        if drawing != previous:
            starts.append(index)
        previous = drawing
    return starts
