"""The shipped sample clip's pictures: what ``tests/data/sample.mp4`` shows, frame by frame.

48 frames at 24000/1001 fps, 320x180, drawn "on twos" (every drawing shown for two frames) with a
scene cut halfway. ``tests/data/make_sample.py`` encodes these pictures (with a tone) into the
shipped clip; the cadence tests and experiments know its drawings and holds from here.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .celgen import CelScene

WIDTH, HEIGHT = 320, 180
RATE = Fraction(24000, 1001)
FRAMES = 48
CUT_FRAME = 24  # the second shot starts here
FRAMES_PER_DRAWING = 2  # animated on twos
SCENE_SEEDS = (7, 23)
SAMPLE_VIDEO = "tests/data/sample.mp4"  # the encoded clip, relative to a source checkout's root


def drawing_at(index: int) -> tuple[int, int]:
    """``(shot, drawing)`` that frame ``index`` shows: each shot starts at drawing 0 and holds each
    drawing for FRAMES_PER_DRAWING frames."""
    shot = 0 if index < CUT_FRAME else 1
    local = index - (0 if shot == 0 else CUT_FRAME)
    return shot, local // FRAMES_PER_DRAWING


def render_frames() -> list[np.ndarray]:
    """[H, W, 3] uint8 pictures; each drawing is held for FRAMES_PER_DRAWING frames."""
    scenes = [CelScene(seed, HEIGHT, WIDTH) for seed in SCENE_SEEDS]
    pictures = []
    for index in range(FRAMES):
        shot, drawing = drawing_at(index)
        drawing_time = float(drawing * FRAMES_PER_DRAWING / RATE)
        image = scenes[shot].render(drawing_time)  # [3, H, W] in [0, 1]
        pictures.append((image.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
    return pictures


def drawing_starts() -> list[int]:
    """Frames of the clip that show a new drawing (see :func:`drawing_at`)."""
    starts = []
    previous = None
    for index in range(FRAMES):
        drawing = drawing_at(index)
        if drawing != previous:
            starts.append(index)
        previous = drawing
    return starts
