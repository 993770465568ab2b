"""Partial holds: the camera pans every frame while the characters are drawn on twos.

The clips are the ones ``fpsboost bench cadence`` measures (its ``--sets partial``): a character
keeps the pose of its held drawing while the camera, which carries it, moves every frame. The
analyser must keep every such frame a key, so that re-timing cannot make the output worse than
interpolating every source pair.

A slow pan with no character in view (background only, 0.1 px per frame) moves too little for the
block rule, which forgives it as noise; the pan rule (a coherent shift of the whole picture) keeps
its frames keys (measured in benchmarks/cadence/RESULTS.md).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from fpsboost.cadence import CadenceAnalyzer, CadenceSettings
from fpsboost.data.celgen import CelScene
from fpsboost.evaluation.experiments import cadence as benchmark

HEIGHT, WIDTH = 108, 192
FRAMES = 12
ON_TWOS = 2
NOISE_8BIT = 1.0
SLOW_BACKGROUND_PX = 0.1  # farthest background, pixels per source frame


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Rendering a scene is many small tensor ops: on a busy 2-core machine one thread is ~30x faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def key_indices(frames: list[np.ndarray], settings: CadenceSettings = CadenceSettings()) -> list[int]:
    analyzer = CadenceAnalyzer(settings)
    keys = []
    for index, frame in enumerate(frames):
        keys.extend(analyzer.push(index, Fraction(index, 24), frame))
    return [key.index for key in keys + analyzer.finish()]


def partial_hold_frames(seed: int, background_px: float | None = None) -> tuple[CelScene, list[np.ndarray]]:
    scene = CelScene(seed, HEIGHT, WIDTH)
    if background_px is not None:
        benchmark.set_background_speed(scene, background_px)
    return scene, benchmark.make_partial_clip(scene, seed, FRAMES, ON_TWOS, NOISE_8BIT).frames_uint16


def test_partial_hold_clip_moves_the_camera_every_frame_and_the_characters_every_second() -> None:
    scene = CelScene(2, HEIGHT, WIDTH)
    held = benchmark.render_partial(scene, 1.0, 0.0)  # frame 1 as drawn: camera at 1, characters at drawing 0
    assert np.abs(held - benchmark.render_partial(scene, 0.0, 0.0)).max() > benchmark.DRAWING_CHANGE
    assert np.abs(held - scene.render(1.0).numpy()).max() > benchmark.DRAWING_CHANGE  # the pose is not the smooth one
    np.testing.assert_allclose(benchmark.render_partial(scene, 3.0, 3.0), scene.render(3.0).numpy(), atol=1e-6)
    assert benchmark.character_share(scene, FRAMES, ON_TWOS) > 0.05


@pytest.mark.parametrize("seed, background_px", [(2, None), (2, SLOW_BACKGROUND_PX), (3, SLOW_BACKGROUND_PX)])
def test_pan_under_characters_on_twos_keeps_every_frame_a_key(seed: int, background_px: float | None) -> None:
    scene, frames = partial_hold_frames(seed, background_px)
    assert benchmark.character_share(scene, FRAMES, ON_TWOS) > 0
    assert key_indices(frames) == key_indices(frames, CadenceSettings(mode="off")) == list(range(FRAMES))


def test_slow_pan_without_characters_keeps_every_frame_a_key() -> None:
    scene, frames = partial_hold_frames(6, SLOW_BACKGROUND_PX)
    assert benchmark.character_share(scene, FRAMES, ON_TWOS) == 0
    assert key_indices(frames) == list(range(FRAMES))
    # What the pan rule is for: by block differences alone, 0.1 px per frame passes for held frames.
    assert key_indices(frames, CadenceSettings(pan_shift_px=0)) != list(range(FRAMES))
