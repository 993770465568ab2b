"""The dominant translation of a frame pair: a camera pan, or credits rolling over a still picture.

CelFlow's flow estimator learnt motion on cel scenes; a whole picture sliding by a few pixels,
thin text above all, it under-measures (scrolling credits at 2 px per frame: -1.1 px). Phase
correlation finds such a translation exactly and cheaply, and :func:`prefer_translation` lets
it replace the network's flow wherever it explains the pair clearly better. The estimate runs
outside the network graph (ONNX cannot export an FFT) and enters it as the ``global_shift``
input, so the PyTorch and ONNX backends see the same numbers.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .blocks import backward_warp, eager_cpu_inference, opencv_sums_apply, opencv_window_sums

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)
# Wider frames are measured on an area-downscaled copy (at 854x480 the FFT took 9 ms, half size 3 ms).
TRANSLATION_MAX_WIDTH = 512
# The candidate is judged at half resolution: measured on the synthetic test set and scrolling
# credits, half resolution beat full resolution (+0.15 dB) at a quarter of the cost, a quarter
# resolution lost the credits (thin text blurs away).
CHOICE_SCALE = 2
# The translation replaces the network's flow where its warping error is under this share of the
# network's, averaged over CHOICE_WINDOW pixels (0.3-0.7 all gained 0.19-0.23 dB; 0.5 the most).
CHOICE_ADVANTAGE = 0.5
CHOICE_WINDOW = 7
# Where a classical flow fails its round trip by more than ROUND_TRIP_PX (full-resolution pixels), the
# translation replaces it if it warps within TIE_TOLERANCE (luma, 0..1) as well. Measured with v2
# (benchmarks/v2/credits): credits scrolling 4 px a frame 15.1 -> 31.4 dB; synthetic -0.02 dB (large
# motion +0.26), bikes +0.02, Big Buck Bunny +0.01. Letting every near-tie go to the translation
# also lifted 6-8 px credits (10 -> 24 dB) but cost 0.16 dB on synthetic: not kept.
ROUND_TRIP_PX = 1.0
TIE_TOLERANCE = 0.01
# A pair the translation explains as a whole (its warping error, over the picture, at most RIGID_SHARE
# of the frames' own difference and no more than the flow's) is a camera move or credits rolling: there
# the translation is kept wherever it is not clearly worse (the advantage turned round). Lines of credits
# look alike, and DIS matched each to the next one: at 4-8 px a frame it warped almost as well as the
# true scroll on most of the picture and the in-betweens scored 10 dB.
RIGID_SHARE = 0.2
# Phase correlation's peak height (0..1): two unrelated noise images gave 0.05, a flat picture 0 (its
# "peak" then lands at half the frame size); held-out synthetic pairs 0.04-1.0, credits 0.5-0.95.
# Below this the translation is not trusted and the candidate is no motion at all.
MIN_CORRELATION = 0.1


def dominant_translation(frames0: np.ndarray, frames1: np.ndarray) -> np.ndarray:
    """``[P, 2]`` float32: per pair, the shift (x, y) in pixels by which frame 1's content sits
    from frame 0's (a backward flow ``F_0->1`` for a pure translation); (0, 0) where no translation
    stands out (``MIN_CORRELATION``). Frames ``[P, 3, H, W]`` in [0, 1]."""
    pairs, _, height, width = frames0.shape
    factor = max(1, math.ceil(width / TRANSLATION_MAX_WIDTH))
    size = (max(1, width // factor), max(1, height // factor))
    shifts = np.zeros((pairs, 2), np.float32)
    for index in range(pairs):
        lumas = []
        for frame in (frames0[index], frames1[index]):
            luma = np.tensordot(LUMA_WEIGHTS, np.asarray(frame, np.float32), axes=1)
            lumas.append(cv2.resize(luma, size, interpolation=cv2.INTER_AREA) if factor > 1 else luma)
        (shift_x, shift_y), correlation = cv2.phaseCorrelate(lumas[0], lumas[1])
        if correlation >= MIN_CORRELATION:
            shifts[index] = (shift_x * factor, shift_y * factor)
    return shifts


def shrink_luma(image: torch.Tensor) -> torch.Tensor:
    """``[P, 1, H / CHOICE_SCALE, W / CHOICE_SCALE]``: the luma of ``image`` (``[P, 3, H, W]``), area-shrunk
    to the resolution :func:`prefer_translation` judges at. Luma only: a third of the sampling work,
    and a translation has to match structure. One strided convolution does both."""
    shrink = torch.tensor(LUMA_WEIGHTS, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    shrink = shrink.expand(1, 3, CHOICE_SCALE, CHOICE_SCALE) / CHOICE_SCALE**2
    return F.conv2d(image, shrink, stride=CHOICE_SCALE)


def prefer_translation(
    small_a: torch.Tensor, small_b: torch.Tensor, flow: torch.Tensor, shift: torch.Tensor,
    flow_back: torch.Tensor | None = None, frame_size: tuple[int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``flow`` (a -> b, ``[P, 2, H, W]``, H and W even) with ``shift`` (``[P, 2]``) put in wherever
    the translation warps frame b onto frame a clearly better (see ``CHOICE_ADVANTAGE``), and where
    that is (``[P, 1, H, W]``, 1 = the translation, smooth at the borders). ``small_a``, ``small_b``:
    both frames through :func:`shrink_luma` (a pair's two directions share them).

    ``flow_back`` (b -> a, v2's DIS flow): where ``flow`` does not come back through it (more than
    ``ROUND_TRIP_PX``), the translation needs only to warp about as well (within
    ``TIE_TOLERANCE``). Lines of credits look alike, so DIS may match each to the next one: that
    warps as well as the true scroll, but the backward flow says otherwise.

    A pair the translation explains as a whole (``RIGID_SHARE``) keeps it wherever it is not clearly
    worse, and also where its source lies outside the picture (``frame_size``, ``(height, width)`` before
    padding): content the camera brings in, which no flow can warp from frame b.
    """
    small_flow = flow[:, :, ::CHOICE_SCALE, ::CHOICE_SCALE] / CHOICE_SCALE  # flows are smooth: sampling will do
    translation = shift.to(flow.dtype).view(-1, 2, 1, 1)
    small_translation = (translation / CHOICE_SCALE).expand_as(small_flow)

    def warping_error(candidate: torch.Tensor) -> torch.Tensor:
        return (backward_warp(small_b, candidate) - small_a).abs()

    # Box means are linear, so one filter of the difference decides box(e_t) < k * box(e_flow).
    translation_error, flow_error = warping_error(small_translation), warping_error(small_flow)
    margin = translation_error - CHOICE_ADVANTAGE * flow_error
    if flow_back is not None:
        small_back = flow_back[:, :, ::CHOICE_SCALE, ::CHOICE_SCALE] / CHOICE_SCALE
        round_trip = small_flow + backward_warp(small_back, small_flow)
        astray = (round_trip * round_trip).sum(dim=1, keepdim=True) > (ROUND_TRIP_PX / CHOICE_SCALE) ** 2
        margin = torch.where(astray, translation_error - flow_error - TIE_TOLERANCE, margin)
    # Whether the translation explains the pair as a whole, judged where its source lies inside the picture.
    outside = None if frame_size is None else _source_outside(small_a, translation, frame_size)
    inside = torch.ones_like(translation_error) if outside is None else (~outside).to(translation_error.dtype)

    def whole(error: torch.Tensor) -> torch.Tensor:
        return (error * inside).mean(dim=(1, 2, 3), keepdim=True)

    whole_translation = whole(translation_error)
    rigid = (whole_translation <= RIGID_SHARE * whole((small_b - small_a).abs())) & (whole_translation <= whole(flow_error))
    rigid_margin = CHOICE_ADVANTAGE * translation_error - flow_error - TIE_TOLERANCE
    if outside is not None:
        rigid_margin = torch.where(outside, -torch.ones_like(rigid_margin), rigid_margin)
    margin = torch.where(rigid, rigid_margin, margin)
    better = (_window_mean(margin) < 0).to(flow.dtype)
    if eager_cpu_inference(flow) and not bool(better.any()):
        # Nowhere (a pair without a pan, most of them): the same numbers without the full-resolution
        # enlargement and blend, about 4 ms a direction at 854x480 on one thread. (A graph keeps them.)
        return flow, flow.new_zeros((flow.shape[0], 1, *flow.shape[2:]))
    better = F.interpolate(better, scale_factor=float(CHOICE_SCALE), mode="bilinear", align_corners=False)
    # One pass over the full-resolution flows (better * translation + (1 - better) * flow took four,
    # 11.5 of a direction's 16 ms at 854x480 on one thread).
    return torch.lerp(flow, translation.expand_as(flow), better), better


def _window_mean(margin: torch.Tensor) -> torch.Tensor:
    """``margin`` (``[P,1,h,w]``) averaged over :data:`CHOICE_WINDOW` squares, zeros outside the picture."""
    if opencv_sums_apply(margin):
        # At 427x240, 2 pairs, both directions, one thread about 1 ms against 6-7 ms for the two
        # one-channel convolutions below.
        return opencv_window_sums(margin, CHOICE_WINDOW) / CHOICE_WINDOW**2
    # Two 1-D convolutions (stride-1 pooling is slow on CPUs).
    box = torch.full((1, 1, CHOICE_WINDOW, 1), 1.0 / CHOICE_WINDOW, dtype=margin.dtype, device=margin.device)
    return F.conv2d(F.conv2d(margin, box, padding=(CHOICE_WINDOW // 2, 0)), box.transpose(2, 3), padding=(0, CHOICE_WINDOW // 2))


def _source_outside(small: torch.Tensor, translation: torch.Tensor, frame_size: tuple[int, int]) -> torch.Tensor:
    """``[P, 1, h, w]``: where, at ``small``'s resolution (1 / CHOICE_SCALE), the translation
    (``[P, 2, 1, 1]``, full-resolution pixels) samples outside a picture of ``frame_size``."""
    height, width = frame_size
    centre = (CHOICE_SCALE - 1) / 2  # a small pixel's centre, in full-resolution pixels
    # In float32 whatever the network's precision (ONNX has no float16 Range).
    rows = torch.arange(small.shape[-2], dtype=torch.float32, device=small.device).view(1, 1, -1, 1) * CHOICE_SCALE + centre
    columns = torch.arange(small.shape[-1], dtype=torch.float32, device=small.device).view(1, 1, 1, -1) * CHOICE_SCALE + centre
    translation = translation.float()
    source_y, source_x = rows + translation[:, 1:2], columns + translation[:, 0:1]
    return (source_y < 0) | (source_y > height - 1) | (source_x < 0) | (source_x > width - 1)
