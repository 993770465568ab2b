"""What the experiments on the quality table's held-out synthetic pairs share: the network, DIS and
the seeds, opened the same way (``fpsboost bench ceiling`` and ``fpsboost bench flow``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch

from ...models.interpolator import CelFlow
from ...models.presets import load_interpolator
from ..speed import limit_threads
from ..test_sets import SYNTHETIC_SIZE, synthetic_seeds

WIDTH, HEIGHT = SYNTHETIC_SIZE  # the quality table's synthetic frame size
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM  # the quality table's classical baseline


@dataclass
class SyntheticSet:
    """The network measured, OpenCV's DIS and the held-out synthetic seeds."""

    network: CelFlow
    dis: Any  # cv2.DISOpticalFlow
    seeds: list[int]
    notes: list[str]  # splits left short, from synthetic_seeds


def open_synthetic_set(weights: str | None, pairs: int, threads: int) -> SyntheticSet:
    """Pin the thread counts and load the network (``weights`` None: the shipped one), DIS and ``pairs`` seeds."""
    limit_threads(threads)
    seeds, notes = synthetic_seeds(pairs, WIDTH, HEIGHT)
    return SyntheticSet(load_interpolator(weights).eval(), cv2.DISOpticalFlow_create(DIS_PRESET), seeds, notes)


def grey_u8(image: torch.Tensor) -> np.ndarray:
    """``[3,H,W]`` float in [0,1] -> ``[H,W]`` uint8 luma, as DIS sees a frame."""
    rgb = (image.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
