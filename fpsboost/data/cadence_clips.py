"""Frames with known drawings and holds, for measuring the cadence analyser: cel scenes held for
chosen frames under fresh noise, and what a lossy codec does to a held picture.

Frames are ``[H, W, 3]`` uint16 full range, as the pipeline's reader decodes them.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .celgen import CelScene

UINT16_MAX = 65535
EIGHT_BIT_STEP = 257  # uint16 value of one 8-bit step
LIMITED_RANGE_CODE_VALUE_8BIT = 255 / 219  # one step of 8-bit limited-range luma, in full-range 8-bit units
CODEC_TRANSFORM_BLOCK_PX = 8


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
