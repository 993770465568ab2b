"""Shared fixtures: tiny generated clips (PyAV), a small untrained network, a reference backend."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pytest
import torch

from fpsboost.backends import ModelSettings
from fpsboost.models.interpolator import CelFlow
from fpsboost.models.presets import save_weights

from helpers_pipeline import TINY_CONFIG, LinearBlendBackend, write_frames
from helpers_video import make_clip


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test writes its caches (ONNX exports, decoded training triplets) under a temporary folder."""
    import os

    folder = tmp_path_factory.mktemp("cache")
    os.environ.setdefault("FPSBOOST_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A safetensors file with an untrained, tiny CelFlow (loadable like the shipped weights)."""
    torch.manual_seed(0)
    model = CelFlow(TINY_CONFIG)
    path = tmp_path_factory.mktemp("weights") / "celflow-tiny-untrained.safetensors"
    save_weights(model, path, model.config.to_dict(), "test-untrained")
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_weights: Path) -> ModelSettings:
    return ModelSettings(backend="torch", device="cpu", weights=str(tiny_weights))


@pytest.fixture
def blend_backend() -> LinearBlendBackend:
    return LinearBlendBackend()


@pytest.fixture
def clip(tmp_path: Path) -> Callable[..., Path]:
    """``clip(name, **make_clip options)`` -> a tiny generated video in this test's folder."""

    def make(name: str = "in.mp4", **options: object) -> Path:
        return make_clip(tmp_path / name, **options)

    return make


@pytest.fixture
def frames_clip(tmp_path: Path) -> Callable[..., Path]:
    """``frames_clip(name, pictures, times, rate, ...)``: see :func:`write_frames`."""

    def make(name: str, pictures: Sequence[np.ndarray], times: Sequence[Fraction], rate: Fraction, **options: object) -> Path:
        return write_frames(tmp_path / name, pictures, times, rate, **options)

    return make
