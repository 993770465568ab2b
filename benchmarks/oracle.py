"""The oracle blend the ceiling benchmarks share: it peeks at the truth, so no real method can choose
better between two warped frames. Scripts run from the repository root put it on ``sys.path`` and
import this as ``benchmarks.oracle``."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def oracle_blend(warped0: torch.Tensor, warped1: torch.Tensor, truth: torch.Tensor, half: bool = False) -> torch.Tensor:
    """Per pixel the warped frame (``[B,3,H,W]``) closer to the truth; ``half``: that choice pooled to
    half resolution and back."""
    pick0 = ((warped0 - truth).abs().sum(1, keepdim=True) < (warped1 - truth).abs().sum(1, keepdim=True)).float()
    if half:
        pick0 = F.interpolate(F.avg_pool2d(pick0, 2), scale_factor=2.0, mode="bilinear", align_corners=False)
    return pick0 * warped0 + (1 - pick0) * warped1
