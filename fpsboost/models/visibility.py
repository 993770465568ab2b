"""CelFlow v2's synthesis: a blend that learns which warped frame each pixel can see.

v1's synthesiser predicted its blend mask inside a :class:`~fpsboost.models.blocks.RefineBlock`, at
1/8 of the frame's resolution, from the warped frames alone; it learnt to sit at ``1 - t`` (the
ceiling benchmark: +0.07 dB over a plain blend, where an oracle choice between the same two warps
gains 1.6 dB). Occlusion is a property of thin bands along motion boundaries, and whether a pixel is
visible in a frame shows in cues v1 never saw. :class:`VisibilitySynthesizer` therefore

1. measures, once per pair at the synthesis scale, each frame's *occlusion cues*: how far its
   forward flow fails to come back (forward-backward consistency) and how badly the other frame,
   warped onto it, matches it (warping error) (:func:`occlusion_cues`);
2. warps those cues to time t beside the frames, so the coarse block sees where each warp is
   unreliable, and predicts flow corrections, a mask logit and a few context channels;
3. decides the mask and a colour residual in a small :class:`VisibilityHead` at the synthesis
   scale, which sees both frames warped by the corrected flows, where they disagree, and the cues
   again at its own resolution (a head at full resolution cost 3x v1's whole synthesis on the CPU),
   and sharpens the mask's edges at full resolution with one convolution over the full-resolution
   warps (:class:`EdgeSharpener`). The flow corrections can be left out at inference
   (``correct_flows``; the shipped v2 does, see ``CelFlowConfig.flow_correction``).

The flows from time t come from the pair flows either by Super SloMo's formula
(:func:`linear_motion_flows`) or, in the shipped files, by pushing each frame's pixels forward to t
(:func:`splatted_motion_flows`), which keeps a moving edge's motion on the edge.

With ``quadratic`` (motion from four frames, :mod:`fpsboost.models.acceleration`) the head also
sees both frames warped along the quadratic motion that each frame's acceleration gives, and
decides per pixel and per frame how much of that acceleration to trust (a weight that starts near
zero, :data:`TRUST_PRIOR_LOGIT`): the neighbour flows are noisy, and blindly applied they lose.

The mask is ``sigmoid(logit(1 - t) + learnt)``: the learnt parts start at zero, so an untrained
v2 synthesiser draws the plain ``(1 - t, t)`` blend and training only has to learn departures
from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .acceleration import quadratic_correction
from .blocks import (RefineBlock, backward_warp, cat_for_convolution, conv3x3_one_output, conv_prelu, downsample,
                     downsample_flow, eager_cpu_inference, forward_splat, upsample_flow)
from .config import SPLATTED_MOTIONS

FLOW_CHANNELS = 4  # F_t->0 and F_t->1 (x, y each)
CUE_CHANNELS = 2  # per frame: forward-backward inconsistency, warping error
CONTEXT_CHANNELS = 8  # coarse features handed to the visibility head
WARP_ERROR_GAIN = 8.0  # mean absolute colour error of 1/8 reads as 1: the cue's useful range
QUADRATIC_CHANNELS = 3 + 3 + 1  # both frames warped along quadratic motion, their disagreement
COVERAGE_CHANNELS = 2  # per frame, how much of it the splat brought to each pixel of time t
COVERAGE_CLAMP = 2.0  # coverage above this (pixels piling up where motion converges) reads as this
TRUST_PRIOR_LOGIT = -2.0  # untrained, the acceleration is trusted sigmoid(-2) = 12 %: close to two-frame motion
IN_FRAME_EPSILON = 1e-4  # below this the two in-frame weights together count as none
EDGE_TIMESTEP = 0.01  # t is clamped to [EDGE_TIMESTEP, 1 - EDGE_TIMESTEP] before its logit is taken
# The in-frame rule's "camera" form trusts an out-of-frame source only where the warp's flow is the
# camera's (the pair's dominant translation): within this many pixels plus this share of the camera's
# own motion, fading to nothing at twice that.
CAMERA_AGREEMENT_PX = 1.0
CAMERA_AGREEMENT_SHARE = 0.1
# Motion to t by splatting (CelFlowConfig.motion_to_t "splat", splatted_motion_flows): a pixel whose flow
# fails to come back by d pixels pushes its motion with weight exp(-d * this), so where a moving object
# and the background it covers land on the same pixel at t, the object's consistent flow outweighs the
# background's. Where almost nothing lands (weights summing to well under SPLAT_HOLE_WEIGHT), the linear
# formula's flows fill in. Both chosen on the training's validation scenes (benchmarks/v2/splat/RESULTS.md).
SPLAT_INCONSISTENCY_DECAY = 4.0
SPLAT_HOLE_WEIGHT = 0.005
# motion_to_t "splat-relative": the weights only rank what lands together. A pixel that only one frame
# sees (the background a moving object reveals) fails its round trip by about the object's motion, so
# under exp(-k d) alone it weighs nothing, and in the hole it should fill the linear formula took over.
# Here d counts up to SPLAT_MAX_INCONSISTENCY pixels (a floor of exp(-4 * 6) = 4e-11 under every
# weight), and the linear formula keeps a share SPLAT_UNCOVERED / (landed + SPLAT_UNCOVERED) of each
# pixel, where "landed" counts the pixels that land there whatever their weights: a sixth where one
# frame's pixels land once, all of it where nothing lands. Both chosen on scenes and windows outside
# the test sets (benchmarks/v2/splat/RESULTS.md).
SPLAT_MAX_INCONSISTENCY = 6.0
SPLAT_UNCOVERED = 0.2
RELATIVE_PAYLOAD_CHANNELS = 6  # splat_payload's channels under "splat-relative" (5 under "splat")
# Below every weight that lands with a share of what landed worth counting (at least 4e-11 times that
# share), so the division only guards pixels where the linear formula fills in anyway.
RELATIVE_WEIGHT_FLOOR = 1e-12
# The splat runs at a quarter of the frame's resolution (or the synthesis's, where that is coarser): for
# the default network (synthesis at 1/2) a quarter of the cost, 0.02 dB below the splat at 1/2 on the
# held-out synthetic cels (37.70 against 37.73 dB, untrained for it, with the first weight exp(-0.5 d));
# at 1/8 the fast network (synthesis at 1/4) lost 0.3 dB on medium motion (benchmarks/v2/splat/).
SPLAT_SCALE = 4


def linear_motion_flows(flow_0to1: torch.Tensor, flow_1to0: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward flows from time t to frames 0 and 1, assuming linear motion (Super SloMo's formula).

    ``t``: ``[B,1,1,1]``. Returns ``(F_t->0, F_t->1)``.
    """
    flow_t0 = -(1 - t) * t * flow_0to1 + t * t * flow_1to0
    flow_t1 = (1 - t) * (1 - t) * flow_0to1 - t * (1 - t) * flow_1to0
    return flow_t0, flow_t1


def splat_payload(flow: torch.Tensor, inconsistency_cue: torch.Tensor, coarsening: int, relative: bool = False) -> torch.Tensor:
    """``[P,5,h,w]`` (``[P,6,h,w]`` with ``relative``), ``coarsening`` times coarser than the synthesis
    scale: what a frame pushes to time t for :func:`splatted_motion_flows`. Channels: its pair flow
    (``F_0->1`` for frame 0, ``-F_1->0`` for frame 1: either way the motion from frame 0 to frame 1),
    that flow times its weight, and the weight. ``flow``, ``inconsistency_cue`` (channel 0 of
    :func:`occlusion_cues`): at the synthesis scale. ``relative`` (motion_to_t "splat-relative"): the
    failed round trip counts up to :data:`SPLAT_MAX_INCONSISTENCY` pixels, and a sixth channel of ones
    counts what lands."""
    if relative:
        # In float32 whatever the network's precision: the floor, 4e-11, is below float16's range.
        flow, inconsistency_cue = flow.float(), inconsistency_cue.float()
    inconsistency = torch.exp(inconsistency_cue) - 1  # the cue is log1p of it (ONNX has no expm1)
    if relative:
        inconsistency = inconsistency.clamp(max=SPLAT_MAX_INCONSISTENCY)
    weight = torch.exp(-SPLAT_INCONSISTENCY_DECAY * inconsistency)
    parts = [flow, flow * weight, weight] + ([torch.ones_like(weight)] if relative else [])
    payload = downsample(torch.cat(parts, dim=1), coarsening)
    # The flows shrink with the picture; the weight (and the count) add up over the coarse pixel's area.
    return payload * payload.new_tensor([1.0] * 4 + [coarsening] * (payload.shape[1] - 4)).view(1, -1, 1, 1) / coarsening


def splatted_motion_flows(payload0: torch.Tensor, payload1: torch.Tensor, t: torch.Tensor, coarsening: int
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Backward flows from time t to frames 0 and 1 at the synthesis scale, read where each frame's
    pixels arrive at t.

    :func:`linear_motion_flows` reads a pair flow at the pixel of time t itself, which near a moving
    edge belongs to the other side of the edge (the ceiling benchmark: exact pair flows under that
    formula reach 36.82 dB where exact flows at t reach 40.17). Here every pixel of frame 0 moves
    ``t F_0->1`` and every pixel of frame 1 ``(1 - t) F_1->0`` (linear motion), each carrying its
    motion (:func:`splat_payload`) to where it lands (:func:`~fpsboost.models.blocks.forward_splat`);
    the flows at t are the weighted mean, with the linear formula's where (almost) nothing lands:
    under "splat" where the landed weights sum to little, under "splat-relative" (payloads made with
    ``relative``, six channels) where few pixels land, whatever their weights.
    This runs ``coarsening`` times coarser than the synthesis scale (as the payloads were made) and is
    enlarged to it. ``payload0``, ``payload1``: ``[Q,5,h,w]`` or ``[Q,6,h,w]``; ``t``: ``[Q,1,1,1]``.
    Returns ``(F_t->0, F_t->1, landed)``: ``landed`` (``[Q,2,h,w]``, at the splat's own scale) is the
    weight each frame brought to each pixel of time t, 0 where that frame does not see it
    (:func:`splat_coverage` makes a cue of it).
    """
    flow_0to1, flow_1to0 = payload0[:, 0:2], -payload1[:, 0:2]
    linear_t0, linear_t1 = linear_motion_flows(flow_0to1, flow_1to0, t)
    queries = flow_0to1.shape[0]
    landed = forward_splat(torch.cat([payload0[:, 2:], payload1[:, 2:]]), torch.cat([t * flow_0to1, (1 - t) * flow_1to0]))
    per_frame = torch.cat([landed[:queries, 2:3], landed[queries:, 2:3]], dim=1)
    landed = landed[:queries] + landed[queries:]
    motion, weight = landed[:, 0:2], landed[:, 2:3]
    if payload0.shape[1] == RELATIVE_PAYLOAD_CHANNELS:
        # The weighted mean of what landed, and the linear formula only where little landed at all.
        # The floor keeps the division finite where nothing landed (the share of the mean is then 0).
        splatted = motion / weight.clamp(min=RELATIVE_WEIGHT_FLOOR)
        count = landed[:, 3:4]
        share = count / (count + SPLAT_UNCOVERED)
        flow_t0 = linear_t0 + share * (-t * splatted - linear_t0)
        flow_t1 = linear_t1 + share * ((1 - t) * splatted - linear_t1)
    else:
        denominator = weight + SPLAT_HOLE_WEIGHT
        flow_t0 = (SPLAT_HOLE_WEIGHT * linear_t0 - t * motion) / denominator
        flow_t1 = (SPLAT_HOLE_WEIGHT * linear_t1 + (1 - t) * motion) / denominator
    flow_t0, flow_t1, per_frame = flow_t0.to(t.dtype), flow_t1.to(t.dtype), per_frame.to(t.dtype)  # a float32 payload's
    return upsample_flow(flow_t0, coarsening), upsample_flow(flow_t1, coarsening), per_frame


def splat_coverage(landed: torch.Tensor, coarsening: int) -> torch.Tensor:
    """``[Q,2,H,W]`` at the synthesis scale: the per-frame weights :func:`splatted_motion_flows` landed at
    time t (``coarsening`` times coarser), clamped to :data:`COVERAGE_CLAMP` and enlarged."""
    landed = landed.clamp(max=COVERAGE_CLAMP)
    if coarsening == 1:
        return landed
    return F.interpolate(landed, scale_factor=float(coarsening), mode="bilinear", align_corners=False)


def occlusion_cues(image0: torch.Tensor, image1: torch.Tensor, flow_0to1: torch.Tensor, flow_1to0: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per frame of each pair, ``[P,2,H,W]``: where its pixels are probably not visible in the other frame.

    Channel 0: ``log1p(|F_0->1 + F_1->0(x + F_0->1)|)``, the forward-backward inconsistency in
    pixels (0 where the flow comes back). Channel 1: the mean absolute colour difference between the
    frame and the other frame warped onto it, times :data:`WARP_ERROR_GAIN`, clamped to [0, 1].
    """
    cues = []
    for own, other, flow_out, flow_back in ((image0, image1, flow_0to1, flow_1to0), (image1, image0, flow_1to0, flow_0to1)):
        round_trip = flow_out + backward_warp(flow_back, flow_out)
        inconsistency = torch.log1p((round_trip * round_trip).sum(dim=1, keepdim=True).add(1e-6).sqrt())
        error = (own - backward_warp(other, flow_out)).abs().mean(dim=1, keepdim=True)
        cues.append(torch.cat([inconsistency, (error * WARP_ERROR_GAIN).clamp(max=1.0)], dim=1))
    return cues[0], cues[1]


def in_frame_weight(flow: torch.Tensor, height, width, top: int = 0, left: int = 0) -> torch.Tensor:
    """``[Q,1,H,W]``: 1 where ``pixel + flow`` lands inside the frame's first ``height`` rows and
    ``width`` columns (the picture, not the stride's padding), falling linearly to 0 one pixel
    outside. A pixel whose source lies outside a frame cannot be visible in it: its warp there
    only repeats the frame's edge. ``top``, ``left``: where ``flow``'s first pixel lies in the frame
    (a strip of it)."""
    # In float32 as backward_warp samples (and ONNX's Range has no float16). Measured from the
    # picture's centre, how far a source lies outside is |x - centre| - half size: one pass each way
    # (a third cheaper than testing both edges apart, at full resolution on every in-between).
    working_dtype, flow = flow.dtype, flow.float()
    half_width, half_height = (width - 1) / 2, (height - 1) / 2
    xs = torch.arange(flow.shape[-1], dtype=torch.float32, device=flow.device).view(1, 1, -1) + (left - half_width)
    ys = torch.arange(flow.shape[-2], dtype=torch.float32, device=flow.device).view(1, -1, 1) + (top - half_height)
    inside_x = (half_width + 1) - (flow[:, 0] + xs).abs()
    inside_y = (half_height + 1) - (flow[:, 1] + ys).abs()
    return torch.minimum(inside_x, inside_y).clamp(0, 1).unsqueeze(1).to(working_dtype)


def camera_agreement(flow: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
    """``[Q,1,H,W]``: 1 where ``flow`` (``[Q,2,H,W]``) is within :data:`CAMERA_AGREEMENT_PX` plus
    :data:`CAMERA_AGREEMENT_SHARE` of ``camera`` (``[Q,2,1,1]``, the camera's motion over the same
    time), falling linearly to 0 at twice that distance."""
    difference = flow - camera
    distance = (difference * difference).sum(dim=1, keepdim=True).sqrt()
    tolerance = CAMERA_AGREEMENT_PX + CAMERA_AGREEMENT_SHARE * (camera * camera).sum(dim=1, keepdim=True).sqrt()
    return (2 - distance / tolerance).clamp(0, 1)


def keep_in_frame(mask: torch.Tensor, flow_t0: torch.Tensor, flow_t1: torch.Tensor, height, width,
                  camera_t0: torch.Tensor | None = None, camera_t1: torch.Tensor | None = None) -> torch.Tensor:
    """The blend weight of frame 0 with each warp's weight scaled by :func:`in_frame_weight` and the
    two renormalised: where one frame's source leaves the picture, the other frame draws it. Where
    both leave it, the weight stays as it was. With ``camera_t0``/``camera_t1`` (``[Q,2,1,1]``, the
    camera's motion from t to each frame), the rule acts only where both warps move with the camera
    (:func:`camera_agreement`): DIS's motion is least reliable at the picture's edge, and handing a
    pixel to a warp whose motion there is wrong cost more than the edge repeat it replaced (a pan
    drawn on twos: DIS gave the entering column 27-50 px of vertical motion in a horizontal pan)."""
    if eager_cpu_inference(mask):
        return _keep_in_frame_near_edges(mask, flow_t0, flow_t1, height, width, camera_t0, camera_t1)
    return _keep_in_frame(mask, flow_t0, flow_t1, height, width, camera_t0, camera_t1)


def _keep_in_frame(mask: torch.Tensor, flow_t0: torch.Tensor, flow_t1: torch.Tensor, height, width,
                   camera_t0: torch.Tensor | None = None, camera_t1: torch.Tensor | None = None,
                   top: int = 0, left: int = 0) -> torch.Tensor:
    """:func:`keep_in_frame` on a strip of the frame whose first pixel lies at (``top``, ``left``)."""
    leaving0 = 1 - in_frame_weight(flow_t0, height, width, top, left)
    leaving1 = 1 - in_frame_weight(flow_t1, height, width, top, left)
    if camera_t0 is not None and camera_t1 is not None:
        with_camera = camera_agreement(flow_t0, camera_t0) * camera_agreement(flow_t1, camera_t1)
        leaving0, leaving1 = leaving0 * with_camera, leaving1 * with_camera
    weight0 = mask * (1 - leaving0)
    total = weight0 + (1 - mask) * (1 - leaving1)
    return torch.where(total > IN_FRAME_EPSILON, weight0 / total.clamp(min=IN_FRAME_EPSILON), mask)


def _keep_in_frame_near_edges(mask: torch.Tensor, flow_t0: torch.Tensor, flow_t1: torch.Tensor, height, width,
                              camera_t0: torch.Tensor | None, camera_t1: torch.Tensor | None) -> torch.Tensor:
    """:func:`keep_in_frame` worked out only where a source can leave the picture: within the
    largest motion of the picture's edges (and in the stride's padding). Elsewhere both weights are
    1 and the rule leaves the mask as it is. The same numbers to within float rounding; at 854x480
    it cost 42 ms of CPU per 2 in-betweens over the whole frame, about a tenth of the network."""
    reach = float(torch.maximum(flow_t0.abs().amax(), flow_t1.abs().amax()))
    # One pixel beyond the reach keeps every inside test at 2 or more, clear of float rounding.
    margin = math.ceil(reach) + 2 if math.isfinite(reach) else height + width
    if 2 * margin >= min(height, width):
        return _keep_in_frame(mask, flow_t0, flow_t1, height, width, camera_t0, camera_t1)
    result = mask.clone()
    full_height, full_width = mask.shape[-2:]
    strips = ((0, full_width, 0, margin), (0, full_width, height - margin, full_height),  # (left, right, top, bottom)
              (0, margin, margin, height - margin), (width - margin, full_width, margin, height - margin))
    for left, right, top, bottom in strips:
        part = (Ellipsis, slice(top, bottom), slice(left, right))
        result[part] = _keep_in_frame(mask[part], flow_t0[part], flow_t1[part], height, width,
                                      camera_t0, camera_t1, top, left)
    return result


def _run_block(block: nn.Module, parts: list[torch.Tensor]) -> torch.Tensor:
    """``block`` on the channels of ``parts`` (concatenated), computed in the dtype of the block's
    weights and returned in the parts'. In fp32 the input goes channels-last on the CPU
    (:func:`cat_for_convolution`); in bf16 it stays channels-first, where oneDNN's bf16 PReLU on
    channels-last memory took 21 ms for a [2,16,240,432] tensor against 0.6 (the visibility head
    in bf16: 44 ms channels-last, 27 channels-first, 70 in fp32; one thread)."""
    dtype = next(block.parameters()).dtype
    if dtype == parts[0].dtype:
        return block(cat_for_convolution(parts))
    return block(torch.cat([part.to(dtype) for part in parts], dim=1)).to(parts[0].dtype)


def prior_mask_logit(t: torch.Tensor) -> torch.Tensor:
    """``logit(1 - t)``: the plain blend's weight of frame 0, as a logit (``t``: ``[Q,1,1,1]``)."""
    t = t.clamp(EDGE_TIMESTEP, 1 - EDGE_TIMESTEP)
    return torch.log((1 - t) / t)


def _pair_gather(pair_index: torch.Tensor, like: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``tensor -> tensor[pair_index]`` (per pair to per query), or nothing to do where query q is pair
    q for every q (one in-between per pair, as in a x2 job): at 854x480 the full-resolution gathers
    alone copied 8 ms a call. The check reads the indices, so only in eager CPU inference."""
    if eager_cpu_inference(like) and pair_index.numel() == like.shape[0]:
        if bool(torch.equal(pair_index, torch.arange(like.shape[0], dtype=pair_index.dtype))):
            return lambda tensor: tensor
    return lambda tensor: tensor[pair_index]


@dataclass
class SynthesisPairs:
    """What the synthesis measures once per pair at its own scale, however many in-betweens use it
    (and however many calls they are split into): both frames and both flows shrunk, and per frame
    what is carried to time t along the motion to t, stacked so that one sampling warps it all
    (``along0``, ``along1``: the frame's 3 colours, its :data:`CUE_CHANNELS` occlusion cues from
    :func:`occlusion_cues`, then with an acceleration its 2 channels; three samplings of one flow
    cost about twice one of all the channels)."""

    small0: torch.Tensor
    small1: torch.Tensor
    flow_0to1: torch.Tensor
    flow_1to0: torch.Tensor
    along0: torch.Tensor
    along1: torch.Tensor
    accelerated: bool
    # With a splatted motion_to_t: each frame's splat_payload (None: linear motion).
    payload0: torch.Tensor | None = None
    payload1: torch.Tensor | None = None


class VisibilityHead(nn.Module):
    """Mask and colour residual at the synthesis scale.

    Input ``[Q, 3+3+1+1+CONTEXT_CHANNELS+1+2*CUE_CHANNELS, h, w]``: both frames warped by the corrected
    flows, their mean absolute difference, the coarse mask logit, the coarse context, t, and both
    frames' occlusion cues warped to t (at this resolution: the coarse block sees them only at 1/8).
    Output ``[Q,4,h,w]``: a mask logit correction and an RGB residual (before tanh), zero before training.
    With ``quadratic`` the input ends with :data:`QUADRATIC_CHANNELS` more (the quadratic-motion
    warps) and the output with two acceleration-trust logits (frame 0's, frame 1's); with ``coverage``
    the input ends with both frames' splat coverage at t (:data:`COVERAGE_CHANNELS`).
    """

    IN_CHANNELS = 3 + 3 + 1 + 1 + CONTEXT_CHANNELS + 1 + 2 * CUE_CHANNELS

    def __init__(self, width: int, quadratic: bool = False, coverage: bool = False) -> None:
        super().__init__()
        in_channels = self.IN_CHANNELS + (QUADRATIC_CHANNELS if quadratic else 0) + (COVERAGE_CHANNELS if coverage else 0)
        self.body = nn.Sequential(conv_prelu(in_channels, width), conv_prelu(width, width))
        self.out = nn.Conv2d(width, 4 + (2 if quadratic else 0), 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


class EdgeSharpener(nn.Module):
    """One 3x3 convolution at full resolution: a mask logit correction along the edges that the
    upsampled mask blurs. Input: the 8 channels of both warps, their difference and the upsampled
    logit, as the four ``[Q,C,H,W]`` tensors; output ``[Q,1,H,W]``, zero before training."""

    IN_CHANNELS = 3 + 3 + 1 + 1

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(self.IN_CHANNELS, 1, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, parts: list[torch.Tensor]) -> torch.Tensor:
        """``parts``: the input's channels in order, as separate tensors (concatenated here)."""
        if eager_cpu_inference(parts[0]):
            return conv3x3_one_output(torch.cat(parts, dim=1), self.conv.weight, self.conv.bias)
        return self.conv(torch.cat(parts, dim=1))


class FullResolutionChoice(nn.Module):
    """A learnt mask logit correction at full resolution, where a perfect choice per pixel between the two
    warps gains over one made at the synthesis scale (the ceiling benchmark: 39.27 against 38.37 dB at
    half resolution). Two 3x3 convolutions of ``width`` channels and one out, over the edge sharpener's
    8 input channels; output ``[Q,1,H,W]``, zero before training. At 854x480 in fp32 on the CPU, 8
    channels cost about 15 ms per in-between (2 threads): 16 channels cost 4x that. Trained alone on the
    shipped network it learnt nothing in 1,000 steps: what a choice per pixel adds over one per block is
    mostly each pixel's noise and resampling blur (benchmarks/ceiling/RESULTS.md). No shipped file has it."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_prelu(EdgeSharpener.IN_CHANNELS, width), conv_prelu(width, width))
        self.out = nn.Conv2d(width, 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, parts: list[torch.Tensor]) -> torch.Tensor:
        """``parts``: the edge sharpener's input, as separate tensors."""
        features = _run_block(self.body, parts)
        if eager_cpu_inference(features):
            return conv3x3_one_output(features.contiguous(), self.out.weight, self.out.bias)
        return self.out(features)


class VisibilitySynthesizer(nn.Module):
    """Draws the frame at time t from both frames, the pair's flows and where each frame is visible.

    Same interface as v1's :class:`~fpsboost.models.interpolator.TimestepSynthesizer`: called with
    ``(image0, image1, flows, pair_index, t, plain)``, returns ``(frames, F_t->0, F_t->1)``.
    """

    COARSE_OUT = FLOW_CHANNELS + 1 + CONTEXT_CHANNELS  # flow residuals, mask logit, context

    def __init__(self, scale: int, width: int, depth: int, head_width: int, correct_flows: bool = True,
                 quadratic: bool = False, in_frame_rule: str = "off", motion_to_t: str = "linear",
                 full_choice_width: int = 0, coverage_cues: bool = False) -> None:
        super().__init__()
        self.scale = scale
        in_channels = 4 * 3 + FLOW_CHANNELS + 1 + 2 * CUE_CHANNELS + (COVERAGE_CHANNELS if coverage_cues else 0)
        self.coarse = RefineBlock(in_channels, self.COARSE_OUT, width, depth)
        # Start as the plain blend: no flow correction, no mask change, no context.
        decoder = self.coarse.decode[0]
        nn.init.zeros_(decoder.weight)
        nn.init.zeros_(decoder.bias)
        self.head = VisibilityHead(head_width, quadratic, coverage_cues)
        # Whether both learnt blocks also see each frame's splat coverage at t (CelFlowConfig.coverage_cues).
        self.coverage_cues = coverage_cues
        # Whether the pairs' accelerations (PairFlows.acceleration) offer quadratic motion (four frames).
        self.quadratic = quadratic
        self.sharpen = EdgeSharpener()
        # The learnt choice at full resolution (CelFlowConfig.full_choice_width; None: the sharpener only).
        self.full_choice = FullResolutionChoice(full_choice_width) if full_choice_width else None
        # Whether the coarse block's flow corrections are applied (CelFlowConfig.flow_correction).
        self.correct_flows = correct_flows
        # Where a warp whose source leaves the picture gives way to the other (keep_in_frame;
        # CelFlowConfig.in_frame_rule): "off", "everywhere", or "camera" (where it moves with the camera).
        self.in_frame_rule = in_frame_rule
        # How the pair flows become flows from time t (CelFlowConfig.motion_to_t): "linear"
        # (linear_motion_flows), or "splat" or "splat-relative" (splatted_motion_flows).
        self.motion_to_t = motion_to_t
        self.splat_coarsening = max(SPLAT_SCALE // scale, 1)

    def forward(
        self, image0: torch.Tensor, image1: torch.Tensor, flows, pair_index: torch.Tensor, t: torch.Tensor,
        plain: torch.Tensor | None = None, return_mask: bool = False, frame_size: tuple | None = None,
        camera: torch.Tensor | None = None, pairs: SynthesisPairs | None = None,
    ):
        """Frames for queries ``(pair_index[q], t[q])``; see the class docstring.

        ``image0``, ``image1``: ``[P,3,H,W]`` padded to the stride; ``flows``: a ``PairFlows``;
        ``plain`` (``[P,1,H,W]``, optional): where to draw the plain blend of linear-motion warps.
        With ``return_mask`` the fourth element is the blend weight of frame 0 (``[Q,1,H,W]``).
        ``frame_size`` (``(height, width)``): the picture inside the padding (None: all of it).
        ``camera`` (``[P,2]``, optional): each pair's dominant translation F_0->1, for the in-frame
        rule's "camera" form (without it that form applies nowhere). ``pairs``: :meth:`measure_pairs`
        of these pairs, where a caller splits their queries over several calls (None: measured here).
        """
        t = t.view(-1, 1, 1, 1).to(image0.dtype)
        pairs = pairs if pairs is not None else self.measure_pairs(image0, image1, flows)
        gather = _pair_gather(pair_index, image0)
        small0, small1 = gather(pairs.small0), gather(pairs.small1)
        small_01, small_10 = gather(pairs.flow_0to1), gather(pairs.flow_1to0)
        coverage: list[torch.Tensor] = []  # with coverage_cues: both frames' splat coverage, an input of both blocks
        if pairs.payload0 is not None:
            flow_t0, flow_t1, landed = splatted_motion_flows(gather(pairs.payload0), gather(pairs.payload1), t,
                                                             self.splat_coarsening)
            if self.coverage_cues:
                coverage.append(splat_coverage(landed, self.splat_coarsening))
        else:
            flow_t0, flow_t1 = linear_motion_flows(small_01, small_10, t)
        along0, along1 = backward_warp(gather(pairs.along0), flow_t0), backward_warp(gather(pairs.along1), flow_t1)
        cue_end = 3 + CUE_CHANNELS
        warped0, warped1 = along0[:, :3], along1[:, :3]
        cues_t0, cues_t1 = along0[:, 3:cue_end], along1[:, 3:cue_end]
        quadratic = None
        if self.quadratic:
            # The acceleration read where each pixel of time t comes from (zero without one).
            sampled = (torch.cat([along0[:, cue_end:], along1[:, cue_end:]], dim=1) if pairs.accelerated
                       else torch.zeros_like(torch.cat([flow_t0, flow_t1], dim=1)))
            quadratic = quadratic_correction(sampled, t)
        t_plane = t.expand(-1, 1, small0.shape[2], small0.shape[3])
        out = _run_block(self.coarse, [small0, small1, warped0, warped1, flow_t0, flow_t1, t_plane, cues_t0, cues_t1, *coverage])
        out = out.contiguous()  # the rest is sampling and arithmetic, in the default layout
        # Where the learnt parts give way to the plain blend, per query, at the synthesis scale (used twice).
        learnt_share = None if plain is None else 1 - gather(downsample(plain, self.scale))
        small_t = torch.cat([flow_t0, flow_t1], dim=1)
        if self.correct_flows:
            correction = out[:, :FLOW_CHANNELS]
            small_t = small_t + (correction if learnt_share is None else correction * learnt_share)
            near0, near1 = backward_warp(small0, small_t[:, 0:2]), backward_warp(small1, small_t[:, 2:4])
        else:  # the frames along the uncorrected flows were warped above, with the cues
            near0, near1 = warped0, warped1
        logit, context = out[:, FLOW_CHANNELS:FLOW_CHANNELS + 1], out[:, FLOW_CHANNELS + 1:]
        head_inputs = [near0, near1, (near0 - near1).abs().mean(dim=1, keepdim=True), logit, context, t_plane, cues_t0, cues_t1]
        if quadratic is not None:
            far0, far1 = backward_warp(small0, small_t[:, 0:2] + quadratic[:, 0:2]), backward_warp(small1, small_t[:, 2:4] + quadratic[:, 2:4])
            head_inputs += [far0, far1, (far0 - far1).abs().mean(dim=1, keepdim=True)]
        head_inputs += coverage
        head = _run_block(self.head, head_inputs).contiguous()
        if quadratic is not None:
            trust = torch.sigmoid(head[:, 4:6] + TRUST_PRIOR_LOGIT)
            if learnt_share is not None:
                trust = trust * learnt_share
            small_t = small_t + quadratic * trust.repeat_interleave(2, dim=1)
        logit = prior_mask_logit(t) + logit + head[:, 0:1]
        residual = torch.tanh(head[:, 1:4]) * 0.5
        flows_t = upsample_flow(small_t, self.scale)
        if self.scale != 1:
            upsampled = F.interpolate(torch.cat([logit, residual], dim=1), scale_factor=float(self.scale), mode="bilinear", align_corners=False)
            logit, residual = upsampled[:, 0:1], upsampled[:, 1:4]
        flow_t0, flow_t1 = flows_t[:, 0:2], flows_t[:, 2:4]
        full0, full1 = backward_warp(gather(image0), flow_t0), backward_warp(gather(image1), flow_t1)
        difference = full0 - full1
        disagreement = difference.abs().mean(dim=1, keepdim=True)
        choice_inputs = [full0, full1, disagreement, logit]
        logit = logit + self.sharpen(choice_inputs)
        if self.full_choice is not None:
            logit = logit + self.full_choice(choice_inputs)
        mask = torch.sigmoid(logit)
        if plain is not None:
            keep = gather(plain)
            mask = keep * (1 - t) + (1 - keep) * mask
            residual = (1 - keep) * residual
        if self.in_frame_rule == "everywhere" or (self.in_frame_rule == "camera" and camera is not None):
            height, width = frame_size if frame_size is not None else image0.shape[-2:]
            cameras = (None, None)
            if self.in_frame_rule == "camera":
                shift = gather(camera).to(t.dtype).view(-1, 2, 1, 1)
                cameras = (-t * shift, (1 - t) * shift)  # linear motion from t back to frame 0, on to frame 1
            mask = keep_in_frame(mask, flow_t0, flow_t1, height, width, *cameras)
        # full0 * mask + full1 * (1 - mask) in one pass over the frames (the same to within float rounding).
        frames = torch.addcmul(full1, mask, difference).add_(residual).clamp_(0, 1)
        if return_mask:
            return frames, flow_t0, flow_t1, mask
        return frames, flow_t0, flow_t1

    def run_blocks_in(self, dtype: torch.dtype) -> None:
        """Keep the coarse block and the visibility head (nearly all of the synthesis's arithmetic) in
        ``dtype``; their inputs are cast to it and their outputs back. The edge sharpener stays: one
        channel out at full resolution, it gains nothing."""
        self.coarse.to(dtype)
        self.head.to(dtype)
        if self.full_choice is not None:
            self.full_choice.body.to(dtype)

    def measure_pairs(self, image0: torch.Tensor, image1: torch.Tensor, flows) -> SynthesisPairs:
        """The per-pair part of :meth:`forward` (``image0``, ``image1``: ``[P,3,H,W]`` padded; ``flows``: a ``PairFlows``)."""
        small0, small1 = downsample(image0, self.scale), downsample(image1, self.scale)
        small_01 = downsample_flow(flows.flow_0to1, self.scale)
        small_10 = downsample_flow(flows.flow_1to0, self.scale)
        cues0, cues1 = occlusion_cues(small0, small1, small_01, small_10)
        along0, along1 = [small0, cues0], [small1, cues1]
        accelerated = self.quadratic and flows.acceleration is not None
        if accelerated:
            acceleration = downsample_flow(flows.acceleration, self.scale)
            along0.append(acceleration[:, 0:2])
            along1.append(acceleration[:, 2:4])
        payloads = (None, None)
        if self.motion_to_t in SPLATTED_MOTIONS:
            relative = self.motion_to_t == "splat-relative"
            payloads = (splat_payload(small_01, cues0[:, 0:1], self.splat_coarsening, relative),
                        splat_payload(-small_10, cues1[:, 0:1], self.splat_coarsening, relative))
        return SynthesisPairs(small0, small1, small_01, small_10, torch.cat(along0, dim=1), torch.cat(along1, dim=1), accelerated,
                              *payloads)
