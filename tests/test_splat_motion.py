"""Motion to t by splatting: the pair flows pushed forward to t (models/blocks.forward_splat,
models/visibility.splatted_motion_flows)."""

from __future__ import annotations

import json

import pytest
import torch

from fpsboost.models.blocks import forward_splat
from fpsboost.models.config import CelFlowConfig
from fpsboost.models.interpolator import CelFlow
from fpsboost.models.presets import load_interpolator, read_metadata, save_weights, weights_dir
from fpsboost.models.visibility import (SPLAT_UNCOVERED, linear_motion_flows, occlusion_cues, splat_coverage,
                                        splat_payload, splatted_motion_flows)


def test_a_whole_pixel_shift_moves_every_value_to_its_new_place() -> None:
    values = torch.arange(2 * 3 * 6 * 8, dtype=torch.float32).view(2, 3, 6, 8)
    flow = torch.zeros(2, 2, 6, 8)
    flow[:, 0] = 2.0  # two pixels right
    flow[:, 1] = -1.0  # one up
    with torch.inference_mode():
        landed = forward_splat(values, flow)
    assert torch.equal(landed[..., 0:5, 2:8], values[..., 1:6, 0:6])
    assert torch.equal(landed[..., 5:6, :], torch.zeros(2, 3, 1, 8))  # nothing lands on the last row
    assert torch.equal(landed[..., :, 0:2], torch.zeros(2, 3, 6, 2))  # nor on the first two columns


def test_a_fractional_shift_spreads_each_value_bilinearly_and_drops_what_leaves_the_frame() -> None:
    values = torch.zeros(1, 1, 5, 5)
    values[0, 0, 2, 2] = 1.0
    values[0, 0, 0, 4] = 1.0  # pushed right, out of the frame: dropped
    flow = torch.zeros(1, 2, 5, 5)
    flow[:, 0], flow[:, 1] = 0.25, 0.5
    with torch.inference_mode():
        landed = forward_splat(values, flow)[0, 0]
    expected = {(2, 2): 0.75 * 0.5, (2, 3): 0.25 * 0.5, (3, 2): 0.75 * 0.5, (3, 3): 0.25 * 0.5,
                (0, 4): 0.75 * 0.5, (1, 4): 0.75 * 0.5}
    for (row, column), share in expected.items():
        assert landed[row, column].item() == pytest.approx(share)
    assert landed.sum().item() == pytest.approx(1.0 + 0.75)


def test_values_pushed_far_outside_or_by_a_broken_flow_are_dropped() -> None:
    values = torch.ones(1, 1, 4, 6)
    flow = torch.zeros(1, 2, 4, 6)
    flow[0, 0, 0, :] = 1e9  # far right
    flow[0, 1, 1, :] = -1e9  # far up
    flow[0, :, 2, :] = float("nan")  # broken
    for form in (torch.inference_mode, torch.enable_grad):  # the CPU form and the form written for export
        with form():
            landed = forward_splat(values, flow)
        assert torch.equal(landed[0, 0, 3], torch.ones(6)) and landed.sum().item() == 6.0  # only the last row stays


def test_the_form_written_for_export_sums_what_the_cpu_form_sums() -> None:
    torch.manual_seed(0)
    values, flow = torch.rand(3, 3, 20, 28), torch.randn(3, 2, 20, 28) * 5
    with torch.inference_mode():
        eager = forward_splat(values, flow)
    traced_form = forward_splat(values.requires_grad_(), flow)  # autograd on: the scatter_add form
    assert torch.allclose(eager, traced_form.detach(), atol=1e-5)


def _sliding_square() -> tuple[torch.Tensor, ...]:
    """Exact pair flows of a 16-px square moving 12 px right over a still background (64x96), and
    each frame's occlusion cue (flows that do not come back: the background the square covers next
    in frame 0, the background it uncovered in frame 1)."""
    flow_0to1 = torch.zeros(1, 2, 64, 96)
    flow_0to1[:, 0, 24:40, 24:40] = 12.0
    flow_1to0 = torch.zeros(1, 2, 64, 96)
    flow_1to0[:, 0, 24:40, 36:52] = -12.0
    images = torch.rand(2, 1, 3, 64, 96)
    cues0, cues1 = occlusion_cues(images[0], images[1], flow_0to1, flow_1to0)
    return flow_0to1, flow_1to0, cues0[:, 0:1], cues1[:, 0:1]


HALF = torch.tensor([0.5]).view(1, 1, 1, 1)
SQUARE_AT_HALF = (slice(None), 0, slice(26, 38), slice(32, 44))  # inside it at t = 0.5, clear of the half-resolution blur


def test_splatted_flows_at_t_follow_the_moving_edge_where_the_linear_formula_does_not() -> None:
    """At t = 0.5 the square covers columns 30-45. The linear formula reads the pair flows at those
    pixels, where frame 0 shows background on the right and frame 1 on the left, and gets half the
    square's motion there; the splat carries the square's own flow to where it is at t."""
    flow_0to1, flow_1to0, cue0, cue1 = _sliding_square()
    with torch.inference_mode():
        splat_t0, splat_t1, _ = splatted_motion_flows(splat_payload(flow_0to1, cue0, 2), splat_payload(-flow_1to0, cue1, 2), HALF, 2)
    linear_t0, linear_t1 = linear_motion_flows(flow_0to1, flow_1to0, HALF)
    assert (splat_t0[SQUARE_AT_HALF] + 6).abs().max() < 0.2  # back 6 px to frame 0
    assert (splat_t1[SQUARE_AT_HALF] - 6).abs().max() < 0.2  # on 6 px to frame 1
    assert (linear_t0[SQUARE_AT_HALF] + 6).abs().max() > 2  # the linear formula is wrong along both edges
    background = (slice(None), slice(None), slice(0, 16), slice(None))
    assert splat_t0[background].abs().max() < 1e-3 and splat_t1[background].abs().max() < 1e-3


def test_where_a_moving_and_a_hidden_pixel_land_together_the_consistent_one_wins() -> None:
    """The background the square covers next stays where it is and lands under the square's front;
    weighted by its failed round trip, it barely moves the square's flow there. Weighted equally, it
    pulls the flow towards standing still."""
    flow_0to1, flow_1to0, cue0, cue1 = _sliding_square()
    with torch.inference_mode():
        weighted_t0, _, _ = splatted_motion_flows(splat_payload(flow_0to1, cue0, 2), splat_payload(-flow_1to0, cue1, 2), HALF, 2)
        equal_t0, _, _ = splatted_motion_flows(splat_payload(flow_0to1, torch.zeros_like(cue0), 2),
                                               splat_payload(-flow_1to0, torch.zeros_like(cue1), 2), HALF, 2)
    assert (weighted_t0[SQUARE_AT_HALF] + 6).abs().max() < 0.2
    assert (equal_t0[SQUARE_AT_HALF] + 6).abs().max() > 1.5


REVEALED_AT_HALF = (slice(None), 0, slice(26, 38), slice(25, 29))  # background only frame 1 shows, at t = 0.5


def test_under_the_relative_rule_the_background_a_square_reveals_keeps_its_own_motion() -> None:
    """Left of the square at t = 0.5 lies background that frame 0 never showed (the square covered it).
    Frame 1's pixels there fail their round trip by the square's 12 px, so under "splat" they weigh
    nothing and the linear formula fills the hole with a quarter of the square's motion (-3 px). Under
    "splat-relative" they carry their own motion, standing still, and the linear formula keeps only
    the share SPLAT_UNCOVERED / (1 + SPLAT_UNCOVERED) where one frame's pixels land once."""
    flow_0to1, flow_1to0, cue0, cue1 = _sliding_square()
    with torch.inference_mode():
        absolute_t0, _, _ = splatted_motion_flows(splat_payload(flow_0to1, cue0, 2), splat_payload(-flow_1to0, cue1, 2), HALF, 2)
        relative_t0, relative_t1, _ = splatted_motion_flows(splat_payload(flow_0to1, cue0, 2, relative=True),
                                                            splat_payload(-flow_1to0, cue1, 2, relative=True), HALF, 2)
    linear_share = SPLAT_UNCOVERED / (1 + SPLAT_UNCOVERED)
    assert torch.allclose(absolute_t0[REVEALED_AT_HALF], torch.tensor(-3.0), atol=0.01)
    assert torch.allclose(relative_t0[REVEALED_AT_HALF], torch.tensor(-3.0 * linear_share), atol=0.01)
    assert torch.allclose(relative_t1[REVEALED_AT_HALF], torch.tensor(3.0 * linear_share), atol=0.01)
    # Inside the square and on the still background far from it, the two rules agree.
    assert (relative_t0[SQUARE_AT_HALF] + 6).abs().max() < 0.2
    background = (slice(None), slice(None), slice(0, 16), slice(None))
    assert relative_t0[background].abs().max() < 1e-3 and relative_t1[background].abs().max() < 1e-3


def test_under_the_relative_rule_the_linear_formula_fills_where_nothing_lands() -> None:
    """Every pixel pushed far out of the picture: nothing lands at t, and the flows at t are the linear
    formula's, finite (the weights' floor keeps the division defined)."""
    flow_0to1 = torch.full((1, 2, 8, 12), 1e4)
    consistent = torch.zeros(1, 1, 8, 12)
    with torch.inference_mode():
        flow_t0, flow_t1, _ = splatted_motion_flows(splat_payload(flow_0to1, consistent, 1, relative=True),
                                                    splat_payload(flow_0to1, consistent, 1, relative=True), HALF, 1)
    linear_t0, linear_t1 = linear_motion_flows(flow_0to1, -flow_0to1, HALF)
    assert torch.isfinite(flow_t0).all() and torch.allclose(flow_t0, linear_t0) and torch.allclose(flow_t1, linear_t1)


def test_the_relative_payload_is_float32_for_a_half_precision_network_and_the_flows_come_back_in_half() -> None:
    """The weights' floor (4e-11) lies below float16's range: made in float16, the background a
    square reveals would weigh 0 and stand still at 0 px whatever its motion."""
    flow_0to1, flow_1to0, cue0, cue1 = _sliding_square()
    with torch.inference_mode():
        payload0 = splat_payload(flow_0to1.half(), cue0.half(), 2, relative=True)
        payload1 = splat_payload(-flow_1to0.half(), cue1.half(), 2, relative=True)
        half_t0, _, _ = splatted_motion_flows(payload0, payload1, HALF.half(), 2)
        full_t0, _, _ = splatted_motion_flows(splat_payload(flow_0to1, cue0, 2, relative=True),
                                              splat_payload(-flow_1to0, cue1, 2, relative=True), HALF, 2)
    assert payload0.dtype == torch.float32 and payload0.shape[1] == 6 and half_t0.dtype == torch.float16
    assert torch.allclose(half_t0.float(), full_t0, atol=0.01)


def test_motion_to_t_is_read_from_the_file_and_old_files_stay_linear(tmp_path) -> None:
    config = CelFlowConfig(synthesis="visibility", flow_source="classical", flow_correction=False, four_frame_motion=True,
                           synth_width=12, synth_depth=1, head_width=8, motion_to_t="splat")
    path = tmp_path / "splat.safetensors"
    save_weights(CelFlow(config), path, config.to_dict(), "test-splat")
    assert load_interpolator(path).synthesizer.motion_to_t == "splat"
    relative = CelFlowConfig(**{**config.__dict__, "motion_to_t": "splat-relative"})
    save_weights(CelFlow(relative), tmp_path / "relative.safetensors", relative.to_dict(), "test-splat-relative")
    assert load_interpolator(tmp_path / "relative.safetensors").synthesizer.motion_to_t == "splat-relative"
    old = json.loads(read_metadata(path)["config"])
    del old["motion_to_t"]
    assert CelFlowConfig.from_dict(old).motion_to_t == "linear"
    with pytest.raises(ValueError, match="motion to t"):
        CelFlowConfig(motion_to_t="cubic")


def test_the_splat_coverage_leaves_a_hole_where_a_frame_does_not_see_time_t() -> None:
    """Both frames move 4 px right between 0 and 1: at t = 0.5 frame 0's pixels have moved 2 px, so the
    first two columns at t get nothing from frame 0 (it never showed them) while frame 1 covers them;
    inside the picture each frame covers each pixel once."""
    flow_0to1 = torch.zeros(1, 2, 8, 16)
    flow_0to1[:, 0] = 4.0
    consistent = torch.zeros(1, 1, 8, 16)  # the flows come back: full weight
    payload0 = splat_payload(flow_0to1, consistent, 1)
    payload1 = splat_payload(flow_0to1, consistent, 1)  # -F_1->0: the same motion seen from frame 1
    with torch.inference_mode():
        both = splat_coverage(splatted_motion_flows(payload0, payload1, torch.full((1, 1, 1, 1), 0.5), 1)[2], 1)
    assert both.shape == (1, 2, 8, 16)
    assert torch.equal(both[0, 0, :, :2], torch.zeros(8, 2)) and torch.allclose(both[0, 0, :, 2:], torch.ones(8, 14))
    assert torch.allclose(both[0, 1, :, :14], torch.ones(8, 14)) and torch.equal(both[0, 1, :, 14:], torch.zeros(8, 2))
    with pytest.raises(ValueError, match="coverage_cues needs a splatted motion_to_t"):
        CelFlowConfig(synthesis="visibility", coverage_cues=True)


def test_coverage_cues_added_to_a_trained_network_start_as_nothing(tmp_path) -> None:
    """Grown from the shipped file, the network with coverage cues has zero weights on the new input
    channels of its two learnt blocks, so it draws the shipped network's frames exactly."""
    from dataclasses import replace

    from fpsboost.data.celgen import CelScene
    from fpsboost.training.interpolator import load_matching_weights

    shipped = load_interpolator()
    grown = CelFlow(replace(shipped.config, coverage_cues=True)).eval()
    assert load_matching_weights(grown, str(weights_dir() / "celflow-v2.safetensors")) == []
    scene = CelScene(3, 70, 100)
    image0, image1 = scene.render(0.0)[None], scene.render(1.0)[None]
    index, times = torch.zeros(2, dtype=torch.long), torch.tensor([0.25, 0.5])
    with torch.inference_mode():
        assert torch.equal(grown(image0, image1, index, times), shipped(image0, image1, index, times))
