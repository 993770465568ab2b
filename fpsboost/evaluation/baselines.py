"""The methods the quality table compares: fpsboost's network and the classical anchors.

Each :class:`Method` makes in-betweens of one pair from 8-bit RGB frames and returns 8-bit frames.
Baselines: nearest frame (duplicate), linear blend, OpenCV DIS optical flow (:class:`DisFlowMethod`)
and ffmpeg's ``minterpolate`` (:class:`MinterpolateMethod`, t = 0.5 only, when ffmpeg exists).
"""

from __future__ import annotations

import itertools
import subprocess
from fractions import Fraction
from typing import Any, Protocol

import numpy as np

from ..models.interpolator import linear_motion_flows
from .metrics import to_u8

FFMPEG = "/usr/bin/ffmpeg"
MINTERPOLATE_SOURCE_RATE = 25
FPSBOOST = "fpsboost"


class Method(Protocol):
    """Makes in-betweens of one pair: ``frame0``, ``frame1`` ``[H,W,3]`` uint8 RGB -> one frame per t."""

    name: str
    only_timesteps: tuple[float, ...] | None  # None: any t

    def __call__(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: tuple[float, ...]) -> list[np.ndarray]: ...


class DuplicateMethod:
    """Frame duplication: the nearer source frame (the earlier one at t = 0.5)."""

    name = "duplicate"
    only_timesteps = None

    def __call__(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: tuple[float, ...]) -> list[np.ndarray]:
        return [frame0 if t <= 0.5 else frame1 for t in timesteps]


class BlendMethod:
    """Linear cross-fade ``(1 - t) * I0 + t * I1``."""

    name = "blend"
    only_timesteps = None

    def __call__(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: tuple[float, ...]) -> list[np.ndarray]:
        a, b = frame0.astype(np.float32), frame1.astype(np.float32)
        return [to_u8((1 - t) * a + t * b) for t in timesteps]


class DisFlowMethod:
    """Classical optical flow: OpenCV DIS (``PRESET_MEDIUM``) on grey frames, both ways.

    ``F_0->1`` and ``F_1->0`` are backward flows (frame 0's pixel x is at ``x + F_0->1(x)`` in
    frame 1). The flows from time t to each frame follow the linear-motion approximation of
    :func:`~fpsboost.models.interpolator.linear_motion_flows` (the one our network starts from);
    both frames are backward-warped to t (bilinear, edges replicated) and blended
    ``(1 - t) * W0 + t * W1``. No occlusion reasoning.
    """

    name = "dis"
    only_timesteps = None

    def __init__(self, dis: Any | None = None) -> None:
        """``dis``: a ``cv2.DISOpticalFlow`` to use instead of the medium preset (experiments on its settings)."""
        import cv2

        self._cv2 = cv2
        self._dis = dis if dis is not None else cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def __call__(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: tuple[float, ...]) -> list[np.ndarray]:
        cv2 = self._cv2
        grey0, grey1 = cv2.cvtColor(frame0, cv2.COLOR_RGB2GRAY), cv2.cvtColor(frame1, cv2.COLOR_RGB2GRAY)
        flow_0to1 = self._dis.calc(grey0, grey1, None)  # [H,W,2] (x, y)
        flow_1to0 = self._dis.calc(grey1, grey0, None)
        height, width = grey0.shape
        grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        outputs = []
        for t in timesteps:
            flow_t0, flow_t1 = linear_motion_flows(flow_0to1, flow_1to0, np.float32(t))
            warped = []
            for image, flow in ((frame0, flow_t0), (frame1, flow_t1)):
                warped.append(cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REPLICATE).astype(np.float32))
            outputs.append(to_u8((1 - t) * warped[0] + t * warped[1]))
        return outputs


class MinterpolateMethod:
    """ffmpeg ``minterpolate`` (``mi_mode=mci``, other options at their defaults), t = 0.5 only.

    The pair goes in as a raw RGB clip at ``MINTERPOLATE_SOURCE_RATE`` and comes out at twice the
    rate; the in-between is output frame 1. ffmpeg 5.1's filter returns nothing for a 2-frame clip
    (its output grid stops before the last frame), so the second frame is sent twice. The filter
    works in YUV: the round trip alone costs about 52 dB PSNR on unchanged frames.
    """

    name = "minterpolate"
    only_timesteps = (0.5,)

    def __call__(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: tuple[float, ...]) -> list[np.ndarray]:
        height, width = frame0.shape[:2]
        command = [FFMPEG, "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
                   "-r", str(MINTERPOLATE_SOURCE_RATE), "-i", "-",
                   "-vf", f"minterpolate=fps={2 * MINTERPOLATE_SOURCE_RATE}:mi_mode=mci",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        clip = frame0.tobytes() + frame1.tobytes() + frame1.tobytes()
        result = subprocess.run(command, input=clip, capture_output=True, check=True)
        frames = np.frombuffer(result.stdout, np.uint8).reshape(-1, height, width, 3)
        return [frames[1].copy() for _ in timesteps]


class NetworkMethod:
    """fpsboost's interpolation network through one of its backends, torch fp32 unless told
    otherwise (all timesteps of a pair in one call)."""

    name = FPSBOOST
    only_timesteps = None

    def __init__(self, weights: str | None, device: str = "cpu", precision: str = "fp32", backend: str = "torch") -> None:
        from ..backends import create_backend
        from ..backends.base import ModelSettings

        self.backend = create_backend(ModelSettings(backend=backend, device=device, precision=precision, weights=weights))
        # A network with motion from four frames is given each pair's neighbours, as the job gives them.
        self.takes_neighbours = getattr(self.backend, "wants_neighbours", False)
        self._pairs = itertools.count()

    def __call__(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: tuple[float, ...], before: np.ndarray | None = None,
                 after: np.ndarray | None = None, distance: float = 1.0) -> list[np.ndarray]:
        from ..batching import KeyImage, gather_neighbours

        to_chw = lambda frame: frame.transpose(2, 0, 1).astype(np.float32) / 255.0  # noqa: E731
        extra = {}
        if self.takes_neighbours and before is not None and after is not None:
            gap = Fraction(distance).limit_denominator(1000)
            pair = (KeyImage(1, Fraction(0), to_chw(frame0), None), KeyImage(2, Fraction(1), to_chw(frame1), None))
            around = (KeyImage(0, -gap, to_chw(before), None), KeyImage(3, 1 + gap, to_chw(after), None))
            extra = {"neighbours": gather_neighbours([pair], [around], stream=next(self._pairs))}
        output = self.backend.interpolate(to_chw(frame0)[None], to_chw(frame1)[None], np.zeros(len(timesteps), np.int64),
                                          np.asarray(timesteps, np.float32), **extra)
        return [to_u8(frame.transpose(1, 2, 0) * 255.0) for frame in output]
