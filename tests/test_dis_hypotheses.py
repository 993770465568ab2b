"""DIS's second hypothesis on the pair's chroma (models/classical_flow.dis_flows, CHROMA_HYPOTHESIS):
where two colours of one brightness meet, luma shows DIS nothing to follow."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fpsboost.models.classical_flow import _luma_u8, better_match, dis_flow, dis_flows, chroma_component_u8
from fpsboost.models.pairs import stretch_dark_pairs

BACKGROUND = torch.tensor([0.7, 0.3, 0.4])
# A green of the background's brightness (BT.601 weights): both read 110 in 8-bit luma.
SQUARE = torch.tensor([0.2, (0.431 - 0.299 * 0.2 - 0.114 * 0.5) / 0.587, 0.5])
SQUARE_ROWS = slice(36, 60)


def _frame(left: int) -> torch.Tensor:
    """``[1,3,96,128]``: the background with a 24-px square of the other colour at column ``left``."""
    image = BACKGROUND.view(3, 1, 1).repeat(1, 96, 128)
    image[:, SQUARE_ROWS, left:left + 24] = SQUARE.view(3, 1, 1)
    return image[None]


def test_a_square_of_the_backgrounds_brightness_moves_only_for_the_chroma_hypothesis() -> None:
    frame0, frame1 = _frame(40), _frame(44)  # 4 px right
    assert np.unique(_luma_u8(torch.cat([frame0, frame1]))).tolist() == [110]  # luma is one flat grey
    with torch.inference_mode():
        luma_0to1, luma_1to0 = dis_flows(frame0, frame1, chroma_hypothesis=False)
        both_0to1, both_1to0 = dis_flows(frame0, frame1, chroma_hypothesis=True)
    assert luma_0to1.abs().max() == 0 and luma_1to0.abs().max() == 0
    assert both_0to1[0, 0, SQUARE_ROWS, 40:64].mean() > 1.0  # the square moves right in F_0->1
    assert both_1to0[0, 0, SQUARE_ROWS, 44:68].mean() < -1.0  # and back in F_1->0
    assert both_0to1[0, :, :24].abs().max() < 0.1  # the background far from it stays


def test_the_better_match_is_kept_per_pixel() -> None:
    """Of an exact flow and a wrong one, each pixel keeps the one that warps the other frame onto this one;
    where both warp equally well (a flat region), the first."""
    torch.manual_seed(0)
    image_to = torch.rand(1, 3, 40, 60)
    image_from = torch.roll(image_to, shifts=-3, dims=3)  # F_from->to is +3 px in x
    exact = torch.zeros(1, 2, 40, 60)
    exact[:, 0] = 3.0
    wrong = torch.zeros(1, 2, 40, 60)
    wrong[:, 0, :, 30:] = 3.0  # right on the right half only
    chosen = better_match(wrong, exact, image_from, image_to)
    inside = chosen[0, 0, 4:-4, 6:24]  # clear of the borders and of the choice window around column 30
    assert torch.equal(inside, torch.full_like(inside, 3.0))
    flat = torch.full((1, 3, 40, 60), 0.5)
    assert torch.equal(better_match(wrong, exact, flat, flat), wrong)


def test_one_direction_is_measured_as_the_pair_measures_it() -> None:
    """A frame's flow to a neighbour no pair measured (dis_flow) is the pair's own first direction, so the
    flows the job keeps between batches do not depend on which call measured them."""
    frame0, frame1 = _frame(40), _frame(44)
    with torch.inference_mode():
        pair_0to1, _ = dis_flows(*stretch_dark_pairs(frame0, frame1))
        alone = dis_flow(frame0, frame1)
        only_first = dis_flows(frame0, frame1, np.array([[True, False]]))
    assert torch.equal(alone, pair_0to1)
    assert torch.equal(only_first[0], pair_0to1) and only_first[1].abs().max() == 0


@pytest.mark.parametrize("colours", ["grey", "one colour"])
def test_pictures_without_chroma_give_a_flat_component(colours: str) -> None:
    """Grey pictures (or one flat colour) have no chroma to spread: the component is flat and DIS finds
    no motion in it, so the luma flow stands."""
    torch.manual_seed(1)
    picture = torch.rand(1, 1, 32, 48).repeat(1, 3, 1, 1) if colours == "grey" else BACKGROUND.view(1, 3, 1, 1).repeat(1, 1, 32, 48)
    first, second = chroma_component_u8(picture, picture)
    assert first.shape == (1, 32, 48) and first.dtype == np.uint8
    assert first.max() - first.min() <= 1 and np.array_equal(first, second)


def test_pictures_too_short_for_a_coarser_dis_are_measured_at_its_usual_scale() -> None:
    """OpenCV's DIS fails at finest scale 2 on a picture under 32 rows; the chroma hypothesis falls back
    to the preset's scale there (a 640x16 strip, as in the ONNX pipeline test)."""
    torch.manual_seed(2)
    strip = torch.rand(1, 3, 16, 640)
    with torch.inference_mode():
        forward, backward = dis_flows(strip, torch.roll(strip, 2, dims=3))
    assert forward.shape == backward.shape == (1, 2, 16, 640) and torch.isfinite(forward).all()
