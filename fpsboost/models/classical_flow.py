"""Classical optical flow (OpenCV DIS) as CelFlow v2's motion.

Measured on held-out footage (``benchmarks/v2/RESULTS.md``): DIS (medium preset) between the two
frames of a pair, blended plainly, beat v1's learnt flow estimator by 1 dB on synthetic cel
animation, 2 dB on bikes and 5 dB on Big Buck Bunny, at about the same cost on a CPU. So v2 takes
its pair flows from DIS and spends its learning on what DIS cannot do: deciding, per pixel, which
warped frame is visible (:mod:`fpsboost.models.visibility`).

DIS reads 8-bit luma, which shows no edge where two colours of one brightness meet; so every direction
is also measured on the pair's chroma, and per pixel the better match of the two is kept
(:data:`CHROMA_HYPOTHESIS`, :func:`better_match`).

DIS runs outside the network graph (it is not a torch operation): both backends measure it with
:func:`classical_pair_flows` (``InterpolationBackend.pair_measurements``) and pass it in, to
:meth:`CelFlow.forward <fpsboost.models.interpolator.CelFlow.forward>` or as the ONNX graph's
``pair_flows`` input, so the two see the same numbers; called without it, ``forward`` measures it
the same way itself.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .acceleration import pair_accelerations
from .blocks import downsample, opencv_window_sums, upsample_flow
from .global_motion import LUMA_WEIGHTS
from .pairs import PairFlows, brightness_change, stretch_dark_pairs

DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
# Variational refinement iterations after DIS's patch search: 2 instead of the medium preset's 5.
# Measured with the shipped network (fpsboost bench quality, benchmarks/quality.md): synthetic 37.32
# against 37.17 dB (medium motion +0.25, large +0.18), real sets within 0.05 dB either way, and DIS
# 15 % cheaper (benchmarks/dis_settings/RESULTS.md). With none at all, 27 % cheaper but the held-out
# film lost 0.06 dB and small synthetic motion 0.2.
DIS_REFINEMENT_ITERATIONS: int | None = 2
PRESET_REFINEMENT = None  # as a refinement_iterations argument: the medium preset's own (5)
# A second hypothesis for every direction: DIS on the pair's chroma along its main axis of spread, where
# two colours of about one brightness meet and luma shows DIS no edge. Per pixel, whichever of the two
# flows warps the other frame closer to this one, summed over a CHOICE_WINDOW square, is kept. Chosen on
# scenes and windows outside the test sets (fpsboost bench dis-hypotheses, benchmarks/dis_settings/):
# synthetic +0.56 dB, bikes +0.06, the film +0.03, the training's validation scenes +0.12, with the
# chroma measured at DIS's finest scale 2 (at scale 1, as luma: +0.79 / +0.08 / +0.04 / +0.20, but
# DIS's time went from 77 to 170 ms a pair at 854x480, against 118).
CHROMA_HYPOTHESIS = True
CHOICE_WINDOW = 11
# DIS's finest pyramid scale (None: the medium preset's 1, half the frame's resolution) for the luma flow
# and for the chroma hypothesis. Luma at scale 2 too lost 0.3 dB on bikes and 1.2 on the validation scenes.
LUMA_FINEST_SCALE: int | None = None
CHROMA_FINEST_SCALE: int | None = 2
# Below this many pixels on its shorter side a picture is measured at the preset's scale: OpenCV's DIS
# fails at finest scale 2 on pictures under 32 rows (at scale 1, under 16), and small ones cost little.
FINEST_SCALE_MIN_SIDE = 64
COVARIANCE_STEP = 4  # the pair's chroma spread is measured on every 4th row and column
CHROMA_WEIGHTS = ((-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))  # BT.601 Cb and Cr from RGB
# A component spread over less than this (in [0,1] colour units) carries no picture: it is not stretched
# (a grey picture's chroma is float rounding noise, which stretched would make texture for DIS).
MIN_COMPONENT_SPREAD = 2 / 255


def create_dis(refinement_iterations: int | None = DIS_REFINEMENT_ITERATIONS) -> cv2.DISOpticalFlow:
    """A DIS estimator: the medium preset, refined ``refinement_iterations`` times (None: the
    preset's own). Cheap to make; one per call keeps threads apart."""
    dis = cv2.DISOpticalFlow_create(DIS_PRESET)
    if refinement_iterations is not None:
        dis.setVariationalRefinementIterations(refinement_iterations)
    return dis


def _luma_u8(images: torch.Tensor) -> np.ndarray:
    """``[P,H,W]`` uint8 luma (BT.601, as OpenCV's RGB2GRAY) of ``[P,3,H,W]`` images in [0,1]."""
    # Accumulated in place, channel by channel: 2.6x faster than a weighted sum over a [P,3,H,W] product.
    images = images.float()
    red, green, blue = (float(weight) * 255.0 for weight in LUMA_WEIGHTS)
    luma = images[:, 0] * red
    luma.add_(images[:, 1], alpha=green).add_(images[:, 2], alpha=blue)
    return luma.round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()


def dis_flows(image0: torch.Tensor, image1: torch.Tensor, needed: np.ndarray | None = None,
              refinement_iterations: int | None = DIS_REFINEMENT_ITERATIONS,
              chroma_hypothesis: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(F_0->1, F_1->0)``, each ``[P,2,H,W]`` in pixels (x, y), by DIS on the frames' 8-bit luma and,
    with ``chroma_hypothesis``, on their chroma (:func:`chroma_component_u8`), the better match kept per pixel.

    ``image0``, ``image1``: ``[P,3,H,W]`` in [0,1], already brought to one brightness and
    contrast-stretched if dark (see :func:`classical_pair_flows`). ``needed`` (``[P,2]`` bool,
    optional): which directions of each pair to measure; the others are left zero.
    ``refinement_iterations``: as :func:`create_dis`. ``chroma_hypothesis``: None reads
    :data:`CHROMA_HYPOTHESIS` (at the call, so an experiment can switch it).
    """
    luma0, luma1 = _luma_u8(image0), _luma_u8(image1)
    wanted = (None, None) if needed is None else (needed[:, 0], needed[:, 1])
    large_enough = min(image0.shape[-2:]) >= FINEST_SCALE_MIN_SIDE  # for DIS at the finest scales set here
    luma_scale = LUMA_FINEST_SCALE if large_enough else None
    flow_0to1 = _dis(luma0, luma1, image0, wanted[0], refinement_iterations, luma_scale)
    flow_1to0 = _dis(luma1, luma0, image0, wanted[1], refinement_iterations, luma_scale)
    if not (CHROMA_HYPOTHESIS if chroma_hypothesis is None else chroma_hypothesis):
        return flow_0to1, flow_1to0
    second0, second1 = chroma_component_u8(image0, image1)
    chroma_scale = CHROMA_FINEST_SCALE if large_enough else None
    if wanted[0] is None or wanted[0].any():
        flow_0to1 = better_match(flow_0to1, _dis(second0, second1, image0, wanted[0], refinement_iterations, chroma_scale),
                                 image0, image1)
    if wanted[1] is None or wanted[1].any():
        flow_1to0 = better_match(flow_1to0, _dis(second1, second0, image0, wanted[1], refinement_iterations, chroma_scale),
                                 image1, image0)
    return flow_0to1, flow_1to0


def chroma_component_u8(image0: torch.Tensor, image1: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's colours (``[P,3,H,W]`` in [0,1]) without their brightness: the BT.601 chroma (Cb, Cr)
    projected on the axis along which the pair's chroma spreads most (its principal component over both
    frames together), stretched to 0-255 unless it spreads over less than :data:`MIN_COMPONENT_SPREAD`.
    ``[P,H,W]`` uint8 each; both frames of a pair share the projection, so a colour reads the same in both."""
    width = image0.shape[-1]
    pair = torch.cat([image0, image1], dim=3).float()
    chroma = torch.einsum("kc,pchw->pkhw", pair.new_tensor(CHROMA_WEIGHTS), pair)
    samples = chroma[:, :, ::COVARIANCE_STEP, ::COVARIANCE_STEP].flatten(2)
    centred = samples - samples.mean(dim=2, keepdim=True)
    covariance = centred @ centred.transpose(1, 2) / max(samples.shape[2], 1)
    axis = torch.linalg.eigh(covariance).eigenvectors[:, :, -1]  # eigenvalues ascend: the largest
    projected = torch.einsum("pk,pkhw->phw", axis, chroma)
    low = projected.amin(dim=(1, 2), keepdim=True)
    spread = (projected.amax(dim=(1, 2), keepdim=True) - low).clamp(min=MIN_COMPONENT_SPREAD)
    stretched = ((projected - low) * (255.0 / spread)).round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()
    return np.ascontiguousarray(stretched[:, :, :width]), np.ascontiguousarray(stretched[:, :, width:])


def better_match(flow: torch.Tensor, hypothesis: torch.Tensor, image_from: torch.Tensor, image_to: torch.Tensor) -> torch.Tensor:
    """Per pixel whichever of two flows ``F_from->to`` (``[P,2,H,W]``) warps ``image_to`` closer to
    ``image_from``: the absolute colour difference summed over a :data:`CHOICE_WINDOW` square (within the
    picture); ``flow`` where they tie. Warps as :func:`~fpsboost.models.blocks.backward_warp` does
    (bilinear, edges clamped), with OpenCV: 5x faster than sampling and pooling in torch here."""
    height, width = flow.shape[-2:]
    columns, rows = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    target = np.ascontiguousarray(image_from.float().permute(0, 2, 3, 1).cpu().numpy())
    source = np.ascontiguousarray(image_to.float().permute(0, 2, 3, 1).cpu().numpy())
    channel_sum = np.ones((1, 3), np.float32)

    def warping_error(candidate: np.ndarray, pair: int) -> np.ndarray:
        """``[H,W]``: the absolute difference of this pair's target and source warped along ``candidate``, summed over colours."""
        warped = cv2.remap(source[pair], cv2.add(columns, candidate[pair, 0]), cv2.add(rows, candidate[pair, 1]),
                           cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return cv2.transform(cv2.absdiff(warped, target[pair]), channel_sum)

    errors = []
    for candidate in (flow.float().cpu().numpy(), hypothesis.float().cpu().numpy()):
        differences = torch.from_numpy(np.stack([warping_error(candidate, pair) for pair in range(len(target))])).unsqueeze(1)
        # Sums rather than means: both candidates' windows hold the same pixels.
        errors.append(opencv_window_sums(differences, CHOICE_WINDOW).to(flow.device))
    return torch.where(errors[1] < errors[0], hypothesis, flow)

def _dis(luma_from: np.ndarray, luma_to: np.ndarray, like: torch.Tensor, needed: np.ndarray | None = None,
         refinement_iterations: int | None = DIS_REFINEMENT_ITERATIONS, finest_scale: int | None = None) -> torch.Tensor:
    """DIS from each of ``luma_from`` to its ``luma_to`` (``[P,H,W]`` uint8): ``[P,2,H,W]`` like ``like``
    (zero where ``needed``, ``[P]`` bool, says no). ``finest_scale``: DIS's finest pyramid level (None:
    the preset's)."""
    dis = create_dis(refinement_iterations)
    if finest_scale is not None:
        dis.setFinestScale(finest_scale)
    height, width = luma_from.shape[1:]
    wanted = np.ones(len(luma_from), bool) if needed is None else needed
    flows = np.stack([dis.calc(a, b, None) if want else np.zeros((height, width, 2), np.float32)
                      for a, b, want in zip(luma_from, luma_to, wanted)])
    return torch.from_numpy(flows).permute(0, 3, 1, 2).to(like.device, like.dtype)


def dis_flow(image_from: torch.Tensor, image_to: torch.Tensor) -> torch.Tensor:
    """One direction of :func:`dis_flows`, measured the same way: ``F_from->to`` ``[P,2,H,W]``, each pair
    dark-stretched together."""
    image_from, image_to = stretch_dark_pairs(image_from, image_to)
    return dis_flows(image_from, image_to, np.tile([True, False], (len(image_from), 1)))[0]


def classical_accelerations(pair_flows: torch.Tensor, image0: torch.Tensor, image1: torch.Tensor,
                            before: torch.Tensor | None, after: torch.Tensor | None,
                            distance_before: torch.Tensor | float = 1.0, distance_after: torch.Tensor | float = 1.0,
                            has_before: torch.Tensor | None = None, has_after: torch.Tensor | None = None) -> torch.Tensor:
    """``[P,4,H,W]``: each frame's acceleration (:func:`~fpsboost.models.acceleration.pair_accelerations`)
    with DIS measuring the flows from ``image0`` to ``before`` and from ``image1`` to ``after``
    (``[P,3,H,W]`` or None; ``has_before``/``has_after``, ``[P]`` bool: which pairs have one)."""
    to_before = None if before is None else dis_flow(image0, before)
    to_after = None if after is None else dis_flow(image1, after)
    return pair_accelerations(pair_flows[:, :2], pair_flows[:, 2:], to_before, to_after, distance_before, distance_after,
                              has_before, has_after)


class ClassicalFlowEstimator(nn.Module):
    """A drop-in for :class:`~fpsboost.models.interpolator.PairFlowEstimator` without weights: DIS
    on the (dark-stretched) pair, refined ``refinement_iterations`` times (as :func:`create_dis`).
    ``forward(image0, image1)`` -> ``PairFlows``; not differentiable."""

    def __init__(self, refinement_iterations: int | None = DIS_REFINEMENT_ITERATIONS) -> None:
        super().__init__()
        self.refinement_iterations = refinement_iterations

    def forward(self, image0: torch.Tensor, image1: torch.Tensor, keep_intermediate: bool = False):
        flow_0to1, flow_1to0 = dis_flows(*stretch_dark_pairs(image0, image1), refinement_iterations=self.refinement_iterations)
        return PairFlows(flow_0to1, flow_1to0)


def _shrunk_pair(image0: torch.Tensor, image1: torch.Tensor, downscale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The pair as v2 measures it: the second frame at the first one's brightness (fades, flashes),
    shrunk ``downscale`` times (large frames move many pixels).

    Only what shrinking needs is padded (under ``downscale`` pixels), never the network's stride:
    DIS on a stride-padded pair read the replicated edge rows as a still strip and carried their
    zero motion into the picture's last rows (at 1280x720, the last 16 rows of scrolling credits
    scored 15.5 dB in the network's in-between against 20.0 for plain DIS on the picture).
    """
    height, width = image0.shape[-2], image0.shape[-1]
    change = brightness_change(image0, image1)
    if change.changes_anything():  # most pairs have no fade: their pixels need no arithmetic
        image1 = change.undo(image1)
    if downscale == 1:
        return image0, image1
    pad = (0, (downscale - width % downscale) % downscale, 0, (downscale - height % downscale) % downscale)
    return downsample(F.pad(image0, pad, mode="replicate"), downscale), downsample(F.pad(image1, pad, mode="replicate"), downscale)


def _full_size(flows: torch.Tensor, downscale: int, like: torch.Tensor) -> torch.Tensor:
    """Flows measured on a :func:`_shrunk_pair` enlarged back and cropped to ``like``'s size."""
    return upsample_flow(flows, downscale)[..., :like.shape[-2], :like.shape[-1]]


def classical_flow_to(image_from: torch.Tensor, image_to: torch.Tensor, downscale: int = 1) -> torch.Tensor:
    """``[P,2,H,W]``: one direction of :func:`classical_pair_flows` (``F_from->to``), made the same way
    (a frame's flow to a neighbour that no pair of the batch measured)."""
    return _full_size(dis_flow(*_shrunk_pair(image_from, image_to, downscale)), downscale, image_from)


def classical_pair_flows(image0: torch.Tensor, image1: torch.Tensor, downscale: int = 1,
                         needed: np.ndarray | None = None) -> torch.Tensor:
    """``[P,4,H,W]``: F_0->1 and F_1->0 of each pair as v2 uses them (the ONNX graph's ``pair_flows``).

    The second frame is first brought to the first one's brightness (fades, flashes), the pair is
    shrunk ``downscale`` times (large frames move many pixels), dark pairs are contrast-stretched,
    DIS runs on the picture as it is (the network pads the flows to its stride afterwards), and the
    flows are enlarged and cropped back. ``needed`` (``[P,2]`` bool, optional): which of each pair's
    two directions to measure (a caller that kept the others); the rest come back zero.
    """
    flow_0to1, flow_1to0 = dis_flows(*stretch_dark_pairs(*_shrunk_pair(image0, image1, downscale)), needed)
    return _full_size(torch.cat([flow_0to1, flow_1to0], dim=1), downscale, image0)
