"""Motion from four frames: each frame's acceleration, from its flows to both of its neighbours.

A pixel of frame 0 moving with constant acceleration along ``x(τ) = x0 + v τ + a τ² / 2`` (τ in
units of the pair's interval, frame 1 at τ = 1, the frame before at τ = -d) has
``F_0->1 = v + a / 2`` and ``F_0->before = -v d + a d² / 2``, so

    a = 2 (d F_0->1 + F_0->before) / (d (1 + d))

and its way to time t is the linear one plus ``(t² - t) / 2 · a``. Frame 1 reads the same with time
running backwards (its "before" is the frame after the pair). The quadratic correction of the
backward flow ``F_t->k`` is ``t (1 - t) / 2 · a_k`` for both frames (see
:func:`quadratic_correction`). The formula applied blindly loses on cels (neighbour flows are
noisy, CelFlow v2 issue); v2's synthesis is given it as a candidate and learns where to trust it.

The streaming pipeline already has every frame's flows to its neighbours: they are the
neighbouring pairs' flows. Where no neighbour belongs (a scene cut, the first or last pair, a
still), the acceleration is zero and the motion is the two-frame one.
"""

from __future__ import annotations

import torch


def acceleration(flow_forward: torch.Tensor, flow_to_neighbour: torch.Tensor, distance: torch.Tensor | float) -> torch.Tensor:
    """A frame's acceleration ``[B,2,H,W]`` from its flow across the pair (``F_0->1``) and its flow to
    the neighbour on the other side (``F_0->before``), ``distance`` pair intervals away (``[B,1,1,1]``
    or a number, > 0)."""
    if not torch.is_tensor(distance):
        distance = torch.tensor(float(distance), dtype=flow_forward.dtype, device=flow_forward.device)
    return 2 * (distance * flow_forward + flow_to_neighbour) / (distance * (1 + distance))


def pair_accelerations(flow_0to1: torch.Tensor, flow_1to0: torch.Tensor,
                       flow_0to_before: torch.Tensor | None, flow_1to_after: torch.Tensor | None,
                       distance_before: torch.Tensor | float = 1.0, distance_after: torch.Tensor | float = 1.0,
                       has_before: torch.Tensor | None = None, has_after: torch.Tensor | None = None) -> torch.Tensor:
    """``[B,4,H,W]``: frame 0's acceleration, then frame 1's; zero for a side whose neighbour flow is
    None, and for the pairs whose ``has_before`` / ``has_after`` (``[B]`` bool) is False.

    ``flow_0to_before``: frame 0's flow to the frame before the pair (the previous pair's ``F_1->0``);
    ``flow_1to_after``: frame 1's flow to the frame after it (the next pair's ``F_0->1``).
    """
    sides = []
    for flow_across, flow_out, distance, present in ((flow_0to1, flow_0to_before, distance_before, has_before),
                                                     (flow_1to0, flow_1to_after, distance_after, has_after)):
        side = torch.zeros_like(flow_across) if flow_out is None else acceleration(flow_across, flow_out, distance)
        if present is not None:
            side = side * present.view(-1, 1, 1, 1).to(side.dtype)
        sides.append(side)
    return torch.cat(sides, dim=1)


def quadratic_correction(accelerations: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """What constant acceleration adds to the backward flows ``(F_t->0, F_t->1)``: ``t (1 - t) / 2 · a``
    (``accelerations`` ``[Q,4,h,w]`` already sampled where each pixel of time t comes from; ``t`` ``[Q,1,1,1]``)."""
    return accelerations * (t * (1 - t) / 2)
