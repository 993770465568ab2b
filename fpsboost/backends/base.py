"""The interface every inference backend (PyTorch, onnxruntime) offers the pipeline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ModelSettings:
    """Which network runs where, and how.

    ``backend``: ``auto`` (the faster one for the device: torch on the CPU as measured, torch on CUDA; see
    :func:`fpsboost.backends.resolve_backend_name`), ``torch`` or ``onnx``.
    ``device``: ``auto`` (CUDA when present), ``cpu`` or ``cuda``. ``precision``: ``auto`` (fp16 on
    CUDA, fp32 on the CPU), ``fp32``, ``fp16``. ``weights``/``onnx_path``: None means the shipped
    default. ``batch_size``: frame pairs per network call; None picks one for the device.
    """

    backend: str = "auto"
    device: str = "auto"
    precision: str = "auto"
    weights: str | None = None
    onnx_path: str | None = None
    batch_size: int | None = None


class InterpolationBackend(ABC):
    """Runs the interpolation network on batches of frame pairs.

    All arrays are numpy, channels first, float32 in [0, 1]:
    ``frames0``, ``frames1``: ``[P, 3, H, W]`` (P pairs); ``pair_index``: ``[Q]`` int64 in [0, P);
    ``timesteps``: ``[Q]`` float32 in (0, 1). Returns ``[Q, 3, H, W]``: in-between ``q`` is pair
    ``pair_index[q]`` at time ``timesteps[q]``. Flow for a pair is computed once however many
    timesteps ask for it.
    """

    name: str = "base"
    device: str = "cpu"
    default_batch_size: int = 1

    @abstractmethod
    def interpolate(
        self, frames0: np.ndarray, frames1: np.ndarray, pair_index: np.ndarray, timesteps: np.ndarray
    ) -> np.ndarray: ...

    def describe(self) -> str:
        return f"{self.name} on {self.device}"
