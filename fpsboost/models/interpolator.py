"""CelFlow: our frame interpolation network.

Two stages, split by what depends on the timestep t:

1. :class:`PairFlowEstimator` (once per frame pair): coarse-to-fine bidirectional optical flow
   ``F_0->1`` and ``F_1->0`` from a pyramid of :class:`~fpsboost.models.blocks.RefineBlock`s.
2. :class:`TimestepSynthesizer` (once per in-between): approximates the flows from time t back to
   both frames from the bidirectional flows, refines them, predicts a blend mask and a colour
   residual, and composes ``warp(I0, F_t->0)*m + warp(I1, F_t->1)*(1-m) + residual``.

Stage 2 is a few times cheaper than stage 1, so ``--factor 8`` costs far less than 7 pair passes.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from .config import CelFlowConfig
from .classical_flow import ClassicalFlowEstimator, classical_pair_flows
from .pairs import BrightnessChange, PairFlows, brightness_change, mean_and_spread, stretch_dark_contrast
from .blocks import (RefineBlock, backward_warp, downsample, downsample_flow, eager_cpu_inference, pad_bottom_right,
                     upsample_flow)
from .global_motion import prefer_translation, shrink_luma
from .visibility import VisibilitySynthesizer, linear_motion_flows

FLOW_CHANNELS = 4  # F_0->1 (x, y) and F_1->0 (x, y)

__all__ = ["BrightnessChange", "CelFlow", "CelFlowConfig", "PairFlowEstimator", "PairFlows", "TimestepSynthesizer",
           "brightness_change", "linear_motion_flows", "mean_and_spread", "stretch_dark_contrast"]
class PairFlowEstimator(nn.Module):
    """Bidirectional flow between I0 and I1, coarse to fine.

    Each level sees both images, each warped towards the other by the current flow, and the current
    flow, all at its own scale, and adds a residual to the flow. Dark pairs are first brightened
    (:func:`stretch_dark_contrast`).
    """

    def __init__(self, config: CelFlowConfig) -> None:
        super().__init__()
        self.scales = config.flow_scales
        in_channels = 4 * 3 + FLOW_CHANNELS
        self.levels = nn.ModuleList(
            RefineBlock(in_channels, FLOW_CHANNELS, width, depth)
            for width, depth in zip(config.flow_widths, config.flow_depths)
        )

    def forward(self, image0: torch.Tensor, image1: torch.Tensor, keep_intermediate: bool = False) -> PairFlows:
        """``image0``, ``image1``: ``[B,3,H,W]`` in [0,1], H and W divisible by the config's stride."""
        image0, image1 = stretch_dark_contrast(image0, image1)
        flow = None
        previous_scale = self.scales[0]
        intermediate = []
        for scale, level in zip(self.scales, self.levels):
            small0, small1 = downsample(image0, scale), downsample(image1, scale)
            if flow is None:
                batch, _, height, width = small0.shape
                flow = small0.new_zeros(batch, FLOW_CHANNELS, height, width)
            else:
                flow = upsample_flow(flow, previous_scale // scale)
            warped1 = backward_warp(small1, flow[:, :2])
            warped0 = backward_warp(small0, flow[:, 2:])
            flow = flow + level(torch.cat([small0, small1, warped1, warped0, flow], dim=1))
            previous_scale = scale
            if keep_intermediate:
                intermediate.append(upsample_flow(flow, scale))
        flow = upsample_flow(flow, previous_scale)
        return PairFlows(flow[:, :2], flow[:, 2:], intermediate)


class TimestepSynthesizer(nn.Module):
    """Draws the frame at time t from both frames and the pair's flows.

    Everything that predicts runs at ``1/synth_scale`` resolution (flow corrections, a blend mask,
    a colour residual); only the final warp and blend touch full resolution, so each extra
    timestep is cheap.
    """

    OUT_CHANNELS = FLOW_CHANNELS + 1 + 3  # flow residuals, mask logit, RGB residual

    def __init__(self, config: CelFlowConfig) -> None:
        super().__init__()
        self.scale = config.synth_scale
        in_channels = 4 * 3 + FLOW_CHANNELS + 1
        self.refine = RefineBlock(in_channels, self.OUT_CHANNELS, config.synth_width, config.synth_depth)

    def forward(
        self, image0: torch.Tensor, image1: torch.Tensor, flows: PairFlows, pair_index: torch.Tensor, t: torch.Tensor,
        plain: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Frames for queries ``(pair_index[q], t[q])``.

        ``image0``, ``image1``: ``[P,3,H,W]``; ``pair_index``: ``[Q]``; ``t``: ``[Q]``. ``plain``
        (``[P,1,H,W]`` in [0,1], optional): where to leave out the learnt corrections, drawing the
        in-between as the plain ``(1 - t, t)`` blend of the two frames warped by linear motion.
        Returns ``(frames [Q,3,H,W] in [0,1], F_t->0, F_t->1)`` with flows at full resolution.
        """
        t = t.view(-1, 1, 1, 1).to(image0.dtype)
        # Per pair: shrink once, however many timesteps use it.
        small0, small1 = downsample(image0, self.scale)[pair_index], downsample(image1, self.scale)[pair_index]
        small_01 = downsample_flow(flows.flow_0to1, self.scale)[pair_index]
        small_10 = downsample_flow(flows.flow_1to0, self.scale)[pair_index]
        flow_t0, flow_t1 = linear_motion_flows(small_01, small_10, t)
        warped0 = backward_warp(small0, flow_t0)
        warped1 = backward_warp(small1, flow_t1)
        t_plane = t.expand(-1, 1, small0.shape[2], small0.shape[3])
        out = self.refine(torch.cat([small0, small1, warped0, warped1, flow_t0, flow_t1, t_plane], dim=1))
        correction = out[:, :FLOW_CHANNELS]
        if plain is not None:
            correction = correction * (1 - downsample(plain, self.scale)[pair_index])
        flows_t = upsample_flow(torch.cat([flow_t0, flow_t1], dim=1) + correction, self.scale)
        rest = out[:, FLOW_CHANNELS:]
        if self.scale != 1:
            rest = F.interpolate(rest, scale_factor=float(self.scale), mode="bilinear", align_corners=False)
        mask = torch.sigmoid(rest[:, 0:1])
        residual = torch.tanh(rest[:, 1:4]) * 0.5
        if plain is not None:
            keep = plain[pair_index]
            mask = keep * (1 - t) + (1 - keep) * mask
            residual = (1 - keep) * residual
        flow_t0, flow_t1 = flows_t[:, 0:2], flows_t[:, 2:4]
        warped = backward_warp(image0[pair_index], flow_t0) * mask + backward_warp(image1[pair_index], flow_t1) * (1 - mask)
        return (warped + residual).clamp(0, 1), flow_t0, flow_t1


class CelFlow(nn.Module):
    """The interpolation network: ``(I0, I1, which pair, t) -> I_t``.

    ``forward(image0 [P,3,H,W], image1 [P,3,H,W], pair_index [Q] int64, timesteps [Q] float,
    global_shift [P,2] float or None)`` returns ``[Q,3,H,W]`` in [0,1]: query ``q`` is pair
    ``pair_index[q]`` at time ``timesteps[q]``. ``global_shift``, each pair's dominant translation
    (:func:`~fpsboost.models.global_motion.dominant_translation`), is a second flow candidate that
    replaces the network's where it explains the pair clearly better (pans, rolling credits); where
    it carries the pair both ways, the in-between is the plain blend of the two warps.
    ``pair_flows`` (``[P,4,H,W]``, F_0->1 then F_1->0), for a network whose ``flow_source`` is
    ``classical`` (v2): the pairs' DIS flows from
    :func:`~fpsboost.models.classical_flow.classical_pair_flows`; None computes them here (the
    ONNX graph takes them as an input, since DIS is no torch operation).
    ``pair_accelerations`` (``[P,4,H,W]``, optional), for a network with ``four_frame_motion``: each
    frame's acceleration from its neighbours (:func:`~fpsboost.models.acceleration.pair_accelerations`,
    zero where none belongs); None is two-frame motion.
    Flows are estimated once per pair however many timesteps ask for it. Any H and W work: the
    inputs are padded to the network's stride and the output cropped back.
    """

    def __init__(self, config: CelFlowConfig | None = None) -> None:
        super().__init__()
        self.config = config or CelFlowConfig()
        self.flow_estimator = ClassicalFlowEstimator() if self.classical_flow else PairFlowEstimator(self.config)
        if self.config.synthesis == "visibility":
            self.synthesizer = VisibilitySynthesizer(self.config.synth_scale, self.config.synth_width,
                                                     self.config.synth_depth, self.config.head_width, self.config.flow_correction,
                                                     self.config.four_frame_motion, self.config.in_frame_rule,
                                                     self.config.motion_to_t, self.config.full_choice_width,
                                                     self.config.coverage_cues)
        else:
            self.synthesizer = TimestepSynthesizer(self.config)
        # Flow is estimated on the pair shrunk by this power of two (RIFE's "scale" is its inverse):
        # motion larger than training showed becomes small enough, and the costly stage runs on
        # a quarter of the pixels per halving. A setting of the run, not of the weights.
        self.flow_downscale = 1
        # In-betweens drawn per synthesizer call (None: all at once). On a CPU, smaller calls stay
        # in cache: 14 queries in chunks of 4 took 0.94-1.06 s at 854x480 against 1.45-1.87 s at
        # once (1 thread); on a GPU one large call is best.
        self.query_chunk: int | None = None

    def run_blocks_in(self, dtype: torch.dtype) -> bool:
        """Run the synthesis's learnt convolution blocks in ``dtype`` (bf16 on a CPU that has it:
        "mixed" precision), the rest of the network in its own; whether this network has such blocks
        (v1's synthesis stays as it is)."""
        if not isinstance(self.synthesizer, VisibilitySynthesizer):
            return False
        self.synthesizer.run_blocks_in(dtype)
        return True

    @property
    def classical_flow(self) -> bool:
        """Whether the pair flows come from DIS (v2) rather than the learnt estimator (v1)."""
        return self.config.flow_source == "classical"

    def pad(self, image: torch.Tensor) -> torch.Tensor:
        """Replicate-pad the bottom and right edges to a multiple of the stride (times the flow downscale)."""
        stride = self.config.stride * self.flow_downscale
        height, width = image.shape[-2], image.shape[-1]
        pad_bottom = (stride - height % stride) % stride
        pad_right = (stride - width % stride) % stride
        return pad_bottom_right(image, pad_bottom, pad_right)

    def estimate_flows(self, padded0: torch.Tensor, padded1: torch.Tensor) -> PairFlows:
        """The pair's flows at full resolution, estimated at ``1 / flow_downscale`` of it."""
        factor = self.flow_downscale
        if factor == 1:
            return self.flow_estimator(padded0, padded1)
        flows = self.flow_estimator(downsample(padded0, factor), downsample(padded1, factor))
        return PairFlows(upsample_flow(flows.flow_0to1, factor), upsample_flow(flows.flow_1to0, factor))

    def forward(
        self, image0: torch.Tensor, image1: torch.Tensor, pair_index: torch.Tensor, timesteps: torch.Tensor,
        global_shift: torch.Tensor | None = None, pair_flows: torch.Tensor | None = None,
        pair_accelerations: torch.Tensor | None = None,
    ) -> torch.Tensor:
        height, width = image0.shape[-2], image0.shape[-1]
        change = brightness_change(image0, image1)
        # Where no pair's brightness changes (nearly all footage), undoing the map and applying it at t
        # are identities on frames in [0, 1]: on the CPU they are skipped (two full-resolution passes
        # each, about 10 ms a call of 2 pairs at 854x480). A traced graph keeps them.
        mapped = not eager_cpu_inference(image0) or change.changes_anything()
        padded0, padded1 = self.pad(image0), self.pad(change.undo(image1) if mapped else image1)
        if self.classical_flow:
            if pair_flows is None:
                pair_flows = classical_pair_flows(image0, image1, self.flow_downscale)
            pair_flows = self.pad(pair_flows.to(padded0.dtype))
            flows = PairFlows(pair_flows[:, :2], pair_flows[:, 2:])
        else:
            flows = self.estimate_flows(padded0, padded1)
        if pair_accelerations is not None and self.config.four_frame_motion:
            flows.acceleration = self.pad(pair_accelerations.to(padded0.dtype))
        translated = None
        if global_shift is not None:
            small0, small1 = shrink_luma(padded0), shrink_luma(padded1)
            # v2's DIS flows are checked against each other (see prefer_translation); v1's are not.
            back0, back1 = (flows.flow_1to0, flows.flow_0to1) if self.classical_flow else (None, None)
            flow_0to1, translated0 = prefer_translation(small0, small1, flows.flow_0to1, global_shift, back0, (height, width))
            flow_1to0, translated1 = prefer_translation(small1, small0, flows.flow_1to0, -global_shift, back1, (height, width))
            flows = PairFlows(flow_0to1, flow_1to0, acceleration=flows.acceleration)
            # Where the translation carries the pair both ways, its in-betweens are drawn plainly (see
            # TimestepSynthesizer): the learnt corrections were made for the network's own flows.
            translated = translated0 * translated1
            if eager_cpu_inference(translated) and not bool(translated.any()):
                translated = None  # nowhere: the synthesis skips its full-resolution blending with the plain blend
        # v1's synthesiser has no notion of the picture inside the padding.
        inside = {"frame_size": (height, width), "camera": global_shift} if self.config.synthesis == "visibility" else {}
        chunk = self.query_chunk
        if chunk is None or len(timesteps) <= chunk:
            frames = self.synthesizer(padded0, padded1, flows, pair_index, timesteps, translated, **inside)[0]
        else:
            if isinstance(self.synthesizer, VisibilitySynthesizer):  # measured once, not once per chunk
                inside["pairs"] = self.synthesizer.measure_pairs(padded0, padded1, flows)
            frames = torch.cat([
                self.synthesizer(padded0, padded1, flows, pair_index[start:start + chunk], timesteps[start:start + chunk],
                                 translated, **inside)[0]
                for start in range(0, len(timesteps), chunk)
            ])
        frames = frames[:, :, :height, :width]
        return change.at(frames, pair_index, timesteps) if mapped else frames
