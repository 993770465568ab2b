"""CelCast: our frame extrapolation network (predicts frames after the last one).

Three stages, split like the interpolator by what depends on the horizon ``tau``:

1. :class:`MotionEstimator` (once per context): coarse-to-fine backward flow from each context
   frame to the one before it (``F_t->t-1`` and, with three frames, ``F_t-1->t-2``), built from
   :class:`~fpsboost.models.blocks.RefineBlock`s.
2. :func:`extrapolated_flow` (no weights): continues every pixel's trajectory ``tau`` frames into
   the future at its current speed and acceleration, and turns that forward motion into the
   backward flow ``F_t+tau->t`` the future frame needs (flow projection: the fastest wins).
3. :class:`FutureSynthesizer` (once per horizon): refines that flow, predicts where to trust the
   warped frame (a mask that blends towards the unchanged last frame where it is unsure) and a
   colour residual for what was hidden, then composes
   ``warp(I_t, F)*m + I_t*(1-m) + residual``, clamped to [0,1].

Because the horizon ``tau`` is an input (any real number > 0), one pass gives the frame at any
future time: no prediction is fed back, so nothing drifts or blows up with the horizon. The
driver that turns a clip into N more frames lives in :mod:`fpsboost.extrapolate` (the motion continued: :mod:`fpsboost.extrapolation`).

:class:`FlowContinuation` is the second motion source, with the same call signature: it takes
stage 1's flows from the trained *interpolation* network's frozen
:class:`~fpsboost.models.interpolator.PairFlowEstimator` and runs stage 2 (continuation and
projection) with no learnt stage 3. It is not a separately trained extrapolator.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError
from .blocks import RefineBlock, backward_warp, downsample, downsample_flow, pixel_grid, upsample_flow
from .classical_flow import PRESET_REFINEMENT, ClassicalFlowEstimator
from .flow_refine import CandidateRefinement, refine_flow
from .interpolator import PairFlowEstimator

FLOW_CHANNELS = 2
RESIDUAL_RANGE = 0.5  # the colour residual is tanh(.) * this
HORIZON_NORMALISER = 8.0  # tau is fed to the network as tau / this
DEFAULT_EXTRAPOLATOR_WEIGHTS = "extrapolator-v1.safetensors"
MIN_CONTEXT_FRAMES = 2
INITIAL_ACCELERATION_GAIN = 0.5  # exact-flow check: full quadratic continuation was no better than half
# FlowContinuation continues speed only: on the validation seeds, gains 0.25 / 0.5 on the measured
# acceleration changed t+1 by +0.04 / +0.02 dB and lost 0.25 / 0.54 dB by t+8.
CONTINUATION_ACCELERATION_GAIN = 0.0
# FlowContinuation hedges the projected frame, whose edges are sharp but misplaced when the flow is
# a little off, towards two blurrier guesses that cost less when it is: this share of the last frame
# backward-warped by the smoothed continued motion (BOX px box filter; it smears where projection
# cuts), and a Gaussian blur of sigma = tau * this many pixels (the future position grows less
# certain with the horizon; in pixels, not relative to the frame: scaled with the width it lost
# 1-3 dB on bikes.mp4 at 640 px). Chosen on the training validation seeds (10,000,000..15):
# shares 0.3 / 0.5 / 0.7 and sigmas 0 / 0.125 / 0.25 px per interval, see
# benchmarks/extrapolation/RESULTS.md.
CONTINUATION_LINEAR_SHARE = 0.3
CONTINUATION_LINEAR_SMOOTHING_PX = 9
CONTINUATION_BLUR_PX_PER_INTERVAL = 0.125
CONTINUATION_BLUR_FULL_SPEED_PX = 1.0  # pixels moving slower than this many px per interval are blurred in proportion
# v2's motion for the tail is DIS with the medium preset's own variational refinement, which the flow
# refinement and the hedges above were chosen on: with the interpolator's 2 iterations
# (classical_flow.DIS_REFINEMENT_ITERATIONS) the flow refinement lost 0.55 dB on one of the four
# test scenes of tests/test_flow_refine.py and gained 0.6 dB on average instead of over 1.
CONTINUATION_DIS_REFINEMENT = PRESET_REFINEMENT


@dataclass(frozen=True)
class CelCastConfig:
    """Sizes of a CelCast network (saved in the weights' metadata)."""

    motion_scales: tuple[int, ...] = (8, 4, 2)
    motion_widths: tuple[int, ...] = (48, 40, 32)
    motion_depths: tuple[int, ...] = (3, 3, 2)
    synth_scale: int = 2
    synth_width: int = 48
    synth_depth: int = 3
    context_frames: int = 3  # 2: constant speed; 3: speed and acceleration

    @property
    def stride(self) -> int:
        """Inputs are padded to a multiple of this (coarsest scale times the blocks' own 4x)."""
        return max(max(self.motion_scales), self.synth_scale) * 4

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in self.__dict__.items()}

    @classmethod
    def from_dict(cls, values: dict) -> "CelCastConfig":
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})


class MotionEstimator(nn.Module):
    """Backward flow ``F_a->b`` ([B,2,H,W], pixels) from image ``a`` to the earlier image ``b``.

    Each level sees both images, ``b`` warped onto ``a`` by the current flow, and the flow, at its
    own scale, and adds a residual to the flow.
    """

    def __init__(self, config: CelCastConfig) -> None:
        super().__init__()
        self.scales = config.motion_scales
        in_channels = 3 * 3 + FLOW_CHANNELS
        self.levels = nn.ModuleList(
            RefineBlock(in_channels, FLOW_CHANNELS, width, depth)
            for width, depth in zip(config.motion_widths, config.motion_depths)
        )

    def forward(self, image_a: torch.Tensor, image_b: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Returns the full-resolution flow and the flow after each level (full resolution, for training)."""
        flow = None
        previous_scale = self.scales[0]
        intermediate = []
        for scale, level in zip(self.scales, self.levels):
            small_a, small_b = downsample(image_a, scale), downsample(image_b, scale)
            if flow is None:
                flow = small_a.new_zeros(small_a.shape[0], FLOW_CHANNELS, small_a.shape[2], small_a.shape[3])
            else:
                flow = upsample_flow(flow, previous_scale // scale)
            warped_b = backward_warp(small_b, flow)
            flow = flow + level(torch.cat([small_a, small_b, warped_b, flow], dim=1))
            previous_scale = scale
            intermediate.append(upsample_flow(flow, scale))
        return upsample_flow(flow, previous_scale), intermediate


def trajectory_displacement(flow_back1: torch.Tensor, flow_back2: torch.Tensor | None, tau: torch.Tensor,
                            acceleration_gain: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Where each pixel of the last frame moves in ``tau`` frames: ``[B,2,H,W]`` pixels.

    ``flow_back1`` = ``F_t->t-1``; ``flow_back2`` = ``F_t-1->t-2`` already resampled onto frame t's
    pixels (None: constant speed). A quadratic through the pixel's positions at t-2, t-1, t gives
    ``p(t+tau) - p(t) = -tau*u1 + (u2 - u1) * tau*(tau+1)/2``. ``tau``: ``[B,1,1,1]``.
    """
    displacement = -tau * flow_back1
    if flow_back2 is not None:
        displacement = displacement + acceleration_gain * (flow_back2 - flow_back1) * (tau * (tau + 1) / 2)
    return displacement


def extrapolated_flow(displacement: torch.Tensor) -> torch.Tensor:
    """Backward flow ``F_t+tau->t`` ([B,2,H,W]) from the forward ``displacement`` of the last frame.

    Flow projection: each pixel x of the last frame lands on the nearest pixel of ``x + d(x)``
    and leaves ``-d(x)`` there; where several land on one pixel the fastest wins (in animation
    the faster layer is nearly always the one in front); ties are averaged. Pixels nothing lands
    on (just revealed) keep ``-d`` at their own place, which drags the edge of whatever was there
    along; on held-out synthetic scenes with exact motion this scored above warping with the
    true future flow (29.7 vs 27.8 dB at t+1), where a fixed-point inversion scored 26.1 dB.
    Gradients flow through the values.
    """
    batch, _, height, width = displacement.shape
    target = (pixel_grid(height, width, displacement) + displacement).round()
    inside = ((target[:, 0] >= 0) & (target[:, 0] <= width - 1) & (target[:, 1] >= 0) & (target[:, 1] <= height - 1)).view(batch, -1)
    index = (target[:, 1].clamp(0, height - 1) * width + target[:, 0].clamp(0, width - 1)).long().view(batch, -1)
    speed = displacement.detach().norm(dim=1).view(batch, -1) + 1.0  # +1: a still pixel still beats "nothing"
    speed = torch.where(inside, speed, torch.zeros_like(speed))
    fastest = speed.new_zeros(batch, height * width).scatter_reduce(1, index, speed, "amax", include_self=True)
    winner = ((speed >= fastest.gather(1, index)) & inside).to(displacement.dtype)
    values = (-displacement).reshape(batch, 2, -1) * winner[:, None]
    summed = values.new_zeros(batch, 2, height * width).scatter_add(2, index[:, None].expand(-1, 2, -1), values)
    count = winner.new_zeros(batch, height * width).scatter_add(1, index, winner)
    projected = summed / count.clamp(min=1)[:, None]
    flow = torch.where((count > 0)[:, None], projected, (-displacement).reshape(batch, 2, -1))
    return flow.view(batch, 2, height, width)


def pad_to_stride(frames: torch.Tensor, stride: int) -> torch.Tensor:
    """``[..., 3, H, W]`` -> the same with H and W padded (replicated edges) to multiples of ``stride``."""
    height, width = frames.shape[-2], frames.shape[-1]
    pad_bottom = (stride - height % stride) % stride
    pad_right = (stride - width % stride) % stride
    shape = frames.shape
    flat = frames.reshape(-1, *shape[-3:])
    padded = F.pad(flat, (0, pad_right, 0, pad_bottom), mode="replicate")
    return padded.reshape(*shape[:-2], *padded.shape[-2:])


def outside_mask(flow: torch.Tensor) -> torch.Tensor:
    """``[B,1,H,W]``: 1 where ``pixel + flow`` falls outside the frame (content entering the view)."""
    height, width = flow.shape[-2], flow.shape[-1]
    coords = pixel_grid(height, width, flow) + flow
    outside = (coords[:, 0] < 0) | (coords[:, 0] > width - 1) | (coords[:, 1] < 0) | (coords[:, 1] > height - 1)
    return outside.unsqueeze(1).to(flow.dtype)


class FutureSynthesizer(nn.Module):
    """Draws the frame ``tau`` frames after the last from the context and the extrapolated flow.

    Works at ``1/synth_scale`` resolution to predict a flow correction, a trust mask and a colour
    residual; warping and blending happen at full resolution.
    """

    OUT_CHANNELS = FLOW_CHANNELS + 1 + 3  # flow residual, mask logit, RGB residual

    def __init__(self, config: CelCastConfig) -> None:
        super().__init__()
        self.scale = config.synth_scale
        in_channels = 3 * 3 + FLOW_CHANNELS + 1 + 1  # last, previous, warped last, flow, outside, tau
        self.refine = RefineBlock(in_channels, self.OUT_CHANNELS, config.synth_width, config.synth_depth)

    def forward(self, last: torch.Tensor, previous: torch.Tensor, flow: torch.Tensor,
                tau: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``last``, ``previous``: ``[B,3,H,W]`` in [0,1]; ``flow``: ``F_t+tau->t``; ``tau``: ``[B,1,1,1]``.

        Returns ``(frame [B,3,H,W] in [0,1], refined flow)``.
        """
        small_last, small_previous = downsample(last, self.scale), downsample(previous, self.scale)
        small_flow = downsample_flow(flow, self.scale)
        warped = backward_warp(small_last, small_flow)
        tau_plane = (tau / HORIZON_NORMALISER).expand(-1, 1, small_last.shape[2], small_last.shape[3])
        features = torch.cat([small_last, small_previous, warped, small_flow, outside_mask(small_flow), tau_plane], dim=1)
        out = self.refine(features)
        flow = flow + upsample_flow(out[:, :FLOW_CHANNELS], self.scale)
        rest = out[:, FLOW_CHANNELS:]
        if self.scale != 1:
            rest = F.interpolate(rest, scale_factor=float(self.scale), mode="bilinear", align_corners=False)
        trust = torch.sigmoid(rest[:, 0:1])
        residual = torch.tanh(rest[:, 1:4]) * RESIDUAL_RANGE
        frame = backward_warp(last, flow) * trust + last * (1 - trust) + residual
        return frame.clamp(0, 1), flow


@dataclass
class CelCastOutput:
    """Everything a forward pass computes (the training loss supervises the flows too)."""

    frames: torch.Tensor  # [Q,3,H,W] in [0,1]
    future_flow: torch.Tensor  # [Q,2,H,W] refined F_t+tau->t
    motion_levels: list[torch.Tensor]  # per level [B*(C-1),2,H,W]: F_t->t-1 (and F_t-1->t-2 after them)


class CelCast(nn.Module):
    """The extrapolation network: ``(context frames, horizons) -> future frames``.

    ``forward(context [B,C,3,H,W] oldest first, C = 2 or 3, in [0,1], context_index [Q] int64,
    tau [Q] float frames after the last context frame)`` returns ``[Q,3,H,W]`` in [0,1]: query q
    is context ``context_index[q]`` at ``tau[q]``. Motion is estimated once per context however
    many horizons ask for it. Any H and W work (padded to the stride, cropped back).
    """

    def __init__(self, config: CelCastConfig | None = None) -> None:
        super().__init__()
        self.config = config or CelCastConfig()
        self.motion = MotionEstimator(self.config)
        self.synthesizer = FutureSynthesizer(self.config)
        # How much of the measured acceleration to continue: learnt, because two-frame flows are
        # noisy and the quadratic term multiplies their noise by tau^2.
        self.acceleration_gain = nn.Parameter(torch.tensor(INITIAL_ACCELERATION_GAIN))

    def pad(self, frames: torch.Tensor) -> torch.Tensor:
        return pad_to_stride(frames, self.config.stride)

    def run(self, context: torch.Tensor, context_index: torch.Tensor, tau: torch.Tensor) -> CelCastOutput:
        """Forward pass on padded inputs (H, W multiples of the stride), keeping the flows."""
        batch, count = context.shape[:2]
        if count < MIN_CONTEXT_FRAMES:
            raise ValueError(f"CelCast needs at least {MIN_CONTEXT_FRAMES} context frames, got {count}")
        count = min(count, self.config.context_frames)
        context = context[:, -count:]
        # Pairs (t, t-1) and, with three frames, (t-1, t-2), estimated in one batch.
        later = context[:, 1:].flip(1).transpose(0, 1).reshape(-1, *context.shape[2:])
        earlier = context[:, :-1].flip(1).transpose(0, 1).reshape(-1, *context.shape[2:])
        flows, levels = self.motion(later, earlier)
        flow_back1 = flows[:batch]
        flow_back2 = backward_warp(flows[batch:2 * batch], flow_back1) if count >= 3 else None
        tau = tau.view(-1, 1, 1, 1).to(context.dtype)
        displacement = trajectory_displacement(
            flow_back1[context_index], None if flow_back2 is None else flow_back2[context_index], tau, self.acceleration_gain)
        last, previous = context[:, -1][context_index], context[:, -2][context_index]
        frames, future_flow = self.synthesizer(last, previous, extrapolated_flow(displacement), tau)
        return CelCastOutput(frames, future_flow, levels)

    def forward(self, context: torch.Tensor, context_index: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        height, width = context.shape[-2], context.shape[-1]
        return self.run(self.pad(context), context_index, tau).frames[:, :, :height, :width]


class FlowContinuation(nn.Module):
    """Future frames from the trained interpolation network's motion, continued by a fixed projection.

    Not a separately trained extrapolator: the flows ``F_t->t-1`` (and ``F_t-1->t-2``) come from
    CelFlow's frozen :class:`~fpsboost.models.interpolator.PairFlowEstimator` (its backward flow
    averaged with its negated forward flow resampled onto the later frame, then sharpened at
    motion boundaries by :func:`~fpsboost.models.flow_refine.refine_flow` unless ``refinement``
    is None), every pixel of the last frame continues on :func:`trajectory_displacement` (constant speed, plus
    ``acceleration_gain`` times the measured acceleration when three frames are given), and
    :func:`extrapolated_flow` projects that forward (fastest pixel wins). The future frame is the
    last frame backward-warped by the projected flow; pixels nothing lands on take the last frame
    from where their own continued motion came from. That is hedged for the flow's errors: mixed
    with ``linear_share`` of the last frame warped by the smoothed continued motion, and blurred
    by ``blur_per_interval * tau`` pixels. No weights of its own.

    ``forward(context [B,C,3,H,W] oldest first, C >= 2, in [0,1], context_index [Q] int64,
    tau [Q] float)`` -> ``[Q,3,H,W]`` in [0,1], like :class:`CelCast`.
    """

    def __init__(self, flow_estimator: PairFlowEstimator, stride: int,
                 acceleration_gain: float = CONTINUATION_ACCELERATION_GAIN) -> None:
        super().__init__()
        if isinstance(flow_estimator, ClassicalFlowEstimator):  # no weights: nothing is lost by making another
            flow_estimator = ClassicalFlowEstimator(CONTINUATION_DIS_REFINEMENT)
        self.flow_estimator = flow_estimator.requires_grad_(False)
        self.stride = stride
        self.acceleration_gain = acceleration_gain
        self.flow_downscale = 1  # as CelFlow.flow_downscale: motion estimated on frames shrunk this many times
        self.refinement: CandidateRefinement | None = CandidateRefinement()
        self.linear_share = CONTINUATION_LINEAR_SHARE
        self.blur_per_interval = CONTINUATION_BLUR_PX_PER_INTERVAL

    def motion(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(F_t->t-1, F_t-1->t-2 resampled onto frame t's pixels or None)``, ``[B,2,H,W]`` pixels.

        ``context``: padded ``[B,C,3,H,W]``. The second flow is only estimated when it is used
        (three frames and a non-zero acceleration gain).
        """
        batch = context.shape[0]
        pairs = 2 if context.shape[1] >= 3 and self.acceleration_gain != 0 else 1
        later = torch.cat([context[:, -1 - i] for i in range(pairs)])
        earlier = torch.cat([context[:, -2 - i] for i in range(pairs)])
        # Estimated, combined and refined at the flow's own resolution (1 / flow_downscale), then enlarged.
        factor = self.flow_downscale
        earlier, later = downsample(earlier, factor), downsample(later, factor)
        flows = self.flow_estimator(earlier, later)
        # Two estimates of F_later->earlier: the backward flow itself, and the forward flow read where
        # each pixel came from, negated. Their mean scored 0.2-0.36 dB above the backward flow alone
        # at t+1..t+8 on the validation seeds (10,000,000..10,000,015).
        back = 0.5 * (flows.flow_1to0 - backward_warp(flows.flow_0to1, flows.flow_1to0))
        flow_back1 = back[:batch]
        if self.refinement is not None:
            flow_back1 = refine_flow(flow_back1, later[:batch], earlier[:batch], self.refinement)
        flow_back1 = upsample_flow(flow_back1, factor)
        flow_back2 = backward_warp(upsample_flow(back[batch:], factor), flow_back1) if pairs == 2 else None
        return flow_back1, flow_back2

    def forward(self, context: torch.Tensor, context_index: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        if context.shape[1] < MIN_CONTEXT_FRAMES:
            raise ValueError(f"FlowContinuation needs at least {MIN_CONTEXT_FRAMES} context frames, got {context.shape[1]}")
        height, width = context.shape[-2], context.shape[-1]
        padded = pad_to_stride(context, self.stride * self.flow_downscale)
        flow_back1, flow_back2 = self.motion(padded)
        tau = tau.view(-1, 1, 1, 1).to(padded.dtype)
        displacement = trajectory_displacement(
            flow_back1[context_index], None if flow_back2 is None else flow_back2[context_index], tau, self.acceleration_gain)
        last = padded[:, -1][context_index]
        frames = backward_warp(last, extrapolated_flow(displacement))
        if self.linear_share > 0:
            linear = backward_warp(last, -box_filter(displacement, CONTINUATION_LINEAR_SMOOTHING_PX))
            frames = torch.lerp(frames, linear, self.linear_share)
        if self.blur_per_interval > 0:
            blurred = torch.cat([gaussian_blur(frame[None], float(step) * self.blur_per_interval)
                                 for frame, step in zip(frames, tau.flatten())])
            # Only what moves is uncertain: still pixels stay sharp, however far ahead.
            # Smoothed once per context, then picked per horizon.
            speed = box_filter(flow_back1, CONTINUATION_LINEAR_SMOOTHING_PX)[context_index].norm(dim=1, keepdim=True)
            frames = torch.lerp(frames, blurred, (speed / CONTINUATION_BLUR_FULL_SPEED_PX).clamp(max=1))
        return frames[:, :, :height, :width].clamp(0, 1)


def box_filter(field: torch.Tensor, size: int) -> torch.Tensor:
    """Mean of each ``size`` x ``size`` neighbourhood (odd ``size``; edges replicated), same shape."""
    half = size // 2
    padded = F.pad(field, (half, half, half, half), mode="replicate")
    # Separable, as flow_refine's matching cost: a column mean of row means (faster than a square pool).
    return F.avg_pool2d(F.avg_pool2d(padded, (size, 1), stride=1), (1, size), stride=1)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """``[B,C,H,W]`` blurred by a separable Gaussian of ``sigma`` pixels (edges replicated), cut at
    3 sigma; unchanged below sigma = 1/6 px, whose neighbours would weigh less than 1e-7."""
    radius = math.floor(3 * sigma + 0.5)
    if sigma <= 0 or radius == 0:
        return images
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def load_flow_continuation(interpolator_weights: str | os.PathLike | None = None,
                           acceleration_gain: float = CONTINUATION_ACCELERATION_GAIN) -> FlowContinuation:
    """:class:`FlowContinuation` over the interpolation network's flow estimator, read now from
    ``interpolator_weights`` (default: the shipped ``weights/celflow-v2.safetensors``)."""
    from .presets import load_interpolator

    interpolator = load_interpolator(interpolator_weights)
    return FlowContinuation(interpolator.flow_estimator, interpolator.config.stride, acceleration_gain).eval()


def load_extrapolator(path: str | os.PathLike | None = None) -> CelCast:
    """Build a :class:`CelCast` from a weights file (default: the shipped model), in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .presets import read_metadata, weights_dir

    path = Path(path) if path else weights_dir() / DEFAULT_EXTRAPOLATOR_WEIGHTS
    if not path.is_file():
        raise ModelError(f"extrapolator weights not found: {path}")
    metadata = read_metadata(path)
    try:
        if metadata.get("model") != "celcast":
            raise KeyError("model")
        config = CelCastConfig.from_dict(json.loads(metadata["config"]))
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"{path} is not a fpsboost extrapolator (no valid 'model'/'config' metadata)") from None
    model = CelCast(config)
    try:
        model.load_state_dict(load_file(str(path)))
    except (RuntimeError, SafetensorError) as error:
        raise ModelError(f"weights {path} do not fit the network: {str(error).splitlines()[0]}") from None
    return model.eval()


def save_extrapolator(model: CelCast, path: str | os.PathLike, version: str, extra: dict | None = None) -> None:
    """Write ``model`` as safetensors with its config and ``model=celcast`` in the metadata."""
    from .presets import save_weights

    save_weights(model, path, model.config.to_dict(), version, {"model": "celcast", **(extra or {})})
