"""Photometric candidate refinement of a dense flow (no learnt weights).

The network's flow is smooth across motion boundaries (its finest level works at a quarter of
the resolution) and can be a fraction of a pixel off. Where that flow is pushed forward for
extrapolation, both errors grow with every step. This pass fixes them the way PatchMatch-style
stereo and DIS's refinement do: each pixel tries its neighbours' flows (a boundary pixel finds
the flow of its own side) and small sub-pixel nudges, and keeps whichever best matches the two
frames over a small window.

Chosen on the training validation seeds (``VALIDATION_SEED_BASE`` .. +15, 160x160 sequences),
not on the extrapolation benchmark's: see weights/EXTRAPOLATOR.md. With v2's DIS flows one pass
is enough (:data:`REFINEMENT_PASSES`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .blocks import backward_warp, opencv_sums_apply, opencv_window_sums

DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))
AXES = DIRECTIONS[:4]
# Ties (flat regions, where every candidate matches equally) keep the network's own flow.
KEEP_BIAS = 1e-3
# Two passes were chosen for v1's learnt flow. On v2's DIS flow, on the same validation seeds, the
# second pass changed the extrapolated tail at t+0.25/0.5/0.75 by 0.00/+0.03/-0.01 dB and whole steps
# t+1..8 by -0.41..0.00 dB (one pass was the better), at 1.8x the cost: the job's one tail frame took
# about 0.8 s of refinement at 854x480 (benchmarks/speed/RESULTS.md).
REFINEMENT_PASSES = 1


@dataclass(frozen=True)
class CandidateRefinement:
    """Which candidates each pixel tries, and how they are judged."""

    # Pixels away, in each of 8 directions. Radii 1 and 4 only, not 1, 2 and 4: on the validation seeds
    # (160 px) the tail at t+0.25/0.5/0.75 scored 33.275 against 33.271 dB and whole steps t+1..8 24.266
    # against 24.264, with 8 of 29 candidates fewer (the job's tail at 854x480: 335 against 402 ms).
    # Radius 2 alone (13 candidates) lost 0.025 / 0.009 there.
    neighbour_radii: tuple[int, ...] = (1, 4)
    subpixel_step: float = 0.5  # pixels added to / taken from the flow along x and y
    cost_window: int = 7  # odd: the matching error is averaged over this square
    iterations: int = REFINEMENT_PASSES
    # Also try no motion: where a still part of the picture matches itself exactly, the network's
    # small spurious flow (up to ~0.4 px between identical frames) would otherwise be kept, and
    # extrapolation multiplies it by the horizon.
    try_zero: bool = True

    def candidate_count(self) -> int:
        return 1 + int(self.try_zero) + len(DIRECTIONS) * len(self.neighbour_radii) + (len(AXES) if self.subpixel_step else 0)


def _neighbour_flows(flow: torch.Tensor, radius: int) -> Iterator[torch.Tensor]:
    """For each of :data:`DIRECTIONS`, the flow of the pixel ``radius`` steps that way, for every
    pixel (edges replicated): one padded copy per radius, sliced eight ways."""
    height, width = flow.shape[-2:]
    padded = F.pad(flow, (radius, radius, radius, radius), mode="replicate")
    for dx, dy in DIRECTIONS:
        top, left = radius + dy * radius, radius + dx * radius
        yield padded[..., top:top + height, left:left + width]


def _matching_cost(flow: torch.Tensor, target: torch.Tensor, source: torch.Tensor, window: int) -> torch.Tensor:
    """Mean absolute RGB difference of ``target`` and ``source`` warped by ``flow``, over the window
    (the part of it inside the picture)."""
    error = (target - backward_warp(source, flow)).abs().sum(dim=1, keepdim=True)
    return _window_mean(error, window)


def _window_mean(error: torch.Tensor, window: int) -> torch.Tensor:
    """The mean of ``error`` (``[B,1,H,W]``) over each ``window`` x ``window`` square, counting only
    the pixels inside the picture."""
    if opencv_sums_apply(error):
        # Box sums divided by how many pixels each square holds: the same numbers to within float
        # rounding as the pools below (the tail's refinement takes this mean for each of its ~30 candidates).
        return opencv_window_sums(error, window) / opencv_window_sums(torch.ones_like(error[:1]), window)
    # The square's mean as a column mean of row means: at 854x480 with a 7 px window 3.7 ms against
    # 6.1 for the square pool.
    rows = F.avg_pool2d(error, (window, 1), stride=1, padding=(window // 2, 0), count_include_pad=False)
    return F.avg_pool2d(rows, (1, window), stride=1, padding=(0, window // 2), count_include_pad=False)


def _candidates(flow: torch.Tensor, settings: CandidateRefinement) -> Iterator[torch.Tensor]:
    """No motion, neighbours' flows, then sub-pixel nudges of the pixel's own; made one at a time."""
    if settings.try_zero:
        yield torch.zeros_like(flow)
    for radius in settings.neighbour_radii:
        yield from _neighbour_flows(flow, radius)
    if settings.subpixel_step:
        for dx, dy in AXES:
            yield flow + flow.new_tensor([dx, dy]).view(1, 2, 1, 1) * settings.subpixel_step


def refine_flow(flow: torch.Tensor, target: torch.Tensor, source: torch.Tensor,
                settings: CandidateRefinement = CandidateRefinement()) -> torch.Tensor:
    """Refine ``flow`` ``[B,2,H,W]`` (pixel x of ``target`` is at x + flow in ``source``, both
    ``[B,3,H,W]``) by per-pixel choice among candidate flows. Memory stays at a few flows: the
    candidates are tried one at a time against the best so far."""
    for _ in range(settings.iterations):
        best_flow = flow
        best_cost = _matching_cost(flow, target, source, settings.cost_window) - KEEP_BIAS
        for candidate in _candidates(flow, settings):
            cost = _matching_cost(candidate, target, source, settings.cost_window)
            better = cost < best_cost
            best_cost = torch.where(better, cost, best_cost)
            best_flow = torch.where(better, candidate, best_flow)
        flow = best_flow
    return flow
