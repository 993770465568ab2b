"""Photometric candidate refinement of a flow (used by extrapolation's motion)."""

from __future__ import annotations

import numpy as np
import torch

from fpsboost.data.celgen import CelScene
from fpsboost.extrapolate import Extrapolator
from fpsboost.models.flow_refine import CandidateRefinement, refine_flow


def _psnr(prediction: np.ndarray, truth: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(float(np.mean((prediction - truth) ** 2)), 1e-10)))


def test_refined_motion_extrapolates_closer_to_the_truth() -> None:
    """The next frame of generated scenes (not the seeds the refinement was chosen on), with and without it."""
    extrapolator = Extrapolator(device="cpu")
    assert extrapolator.model.refinement is not None  # on by default
    gains = []
    for seed in range(4):
        scene = CelScene(seed, 96, 96)
        context, truth = [scene.render(float(k)).numpy() for k in range(3)], scene.render(3.0).numpy()
        extrapolator.model.refinement = CandidateRefinement()
        refined = _psnr(extrapolator.predict(context, [1.0])[0], truth)
        extrapolator.model.refinement = None
        plain = _psnr(extrapolator.predict(context, [1.0])[0], truth)
        gains.append(refined - plain)
    assert min(gains) > 0 and float(np.mean(gains)) > 1.0, gains


def test_where_every_candidate_matches_the_flow_is_kept() -> None:
    flat = torch.full((1, 3, 40, 48), 0.5)
    flow = torch.randn(1, 2, 40, 48)
    assert torch.equal(refine_flow(flow, flat, flat), flow)
    assert CandidateRefinement().candidate_count() == 1 + 8 * 3 + 4
