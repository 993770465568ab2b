"""CelFlow v2's synthesis (fpsboost.models.visibility) and the real-footage triplets it trains on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fpsboost.data.celgen import TRAINING_STYLE, CelScene
from fpsboost.data.real import TripletSpec, read_triplets, training_triplets
from fpsboost.errors import InputError
from fpsboost.models.blocks import backward_warp
from fpsboost.models.interpolator import CelFlow, CelFlowConfig, PairFlows
from fpsboost.models.visibility import occlusion_cues
from fpsboost.training.interpolator import load_matching_weights

from helpers_pipeline import TINY_CONFIG

TINY_V2 = CelFlowConfig(**{**TINY_CONFIG.__dict__, "synthesis": "visibility", "head_width": 8})


def _moving_square(shift: int, size: int = 32) -> torch.Tensor:
    image = torch.full((1, 3, size, size), 0.2)
    image[..., 8:16, 8 + shift:16 + shift] = 0.9
    return image


def test_occlusion_cues_mark_what_the_other_frame_does_not_show() -> None:
    """A square moving 4 px right, with the true flows: the background just right of the square in
    frame 0 is covered in frame 1, and the background just left of it in frame 1 was covered in frame 0;
    both cues (round trip, warping error) mark exactly those strips."""
    image0, image1 = _moving_square(0), _moving_square(4)
    flow_0to1 = torch.zeros(1, 2, 32, 32)
    flow_0to1[:, 0, 8:16, 8:16] = 4.0
    flow_1to0 = torch.zeros(1, 2, 32, 32)
    flow_1to0[:, 0, 8:16, 12:20] = -4.0
    cues0, cues1 = occlusion_cues(image0, image1, flow_0to1, flow_1to0)
    assert cues0.shape == (1, 2, 32, 32)
    background = torch.ones(32, 32, dtype=torch.bool)
    background[6:18, 6:22] = False
    assert cues0[0, :, background].abs().max() < 1e-3  # far from the square every flow comes back
    assert (cues0[0, :, 8:16, 16:20] > 0.5).all()  # frame 0's background that the square covers next
    assert (cues1[0, :, 8:16, 8:12] > 0.5).all()  # frame 1's background that the square uncovered
    assert cues0[0, :, 8:16, 8:16].abs().max() < 1e-3  # the square itself is seen in both frames


def test_an_untrained_v2_synthesiser_draws_the_plain_blend_of_linear_warps() -> None:
    """The learnt parts start at zero, so training only learns departures from the (1 - t, t) blend."""
    torch.manual_seed(0)
    model = CelFlow(TINY_V2).eval()
    image0, image1 = torch.rand(2, 3, 32, 48), torch.rand(2, 3, 32, 48)
    flows = PairFlows(torch.randn(2, 2, 32, 48), torch.randn(2, 2, 32, 48))
    pair_index, t = torch.tensor([0, 1, 1]), torch.tensor([0.25, 0.5, 0.8])
    with torch.no_grad():
        frames, flow_t0, flow_t1, mask = model.synthesizer(image0, image1, flows, pair_index, t, return_mask=True)
    assert torch.allclose(mask, (1 - t).view(-1, 1, 1, 1).expand_as(mask), atol=1e-5)
    plain = backward_warp(image0[pair_index], flow_t0) * (1 - t.view(-1, 1, 1, 1)) + backward_warp(image1[pair_index], flow_t1) * t.view(-1, 1, 1, 1)
    assert torch.allclose(frames, plain.clamp(0, 1), atol=1e-5)


def test_v2_learns_a_mask_that_departs_from_one_minus_t() -> None:
    """A few optimiser steps on an occluding scene move the mask away from 1 - t where it helps."""
    torch.manual_seed(0)
    model = CelFlow(TINY_V2)
    scene = CelScene(3, 64, 64)
    image0, image1, target = scene.render(0.0)[None], scene.render(1.0)[None], scene.render(0.5)[None]
    flows = PairFlows(scene.flow(0.0, 1.0)[None], scene.flow(1.0, 0.0)[None])
    pair_index, t = torch.tensor([0]), torch.tensor([0.5])
    optimizer = torch.optim.Adam(model.synthesizer.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        frames, _, _, mask = model.synthesizer(image0, image1, flows, pair_index, t, return_mask=True)
        loss = (frames - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]
    assert (mask - 0.5).abs().max() > 0.05


def test_a_v2_network_starts_from_v1_weights_where_they_fit(tiny_weights) -> None:
    """``fpsboost train --init-weights v1.safetensors --preset celflow-v2``: the flow estimator is v1's,
    the new synthesiser starts fresh."""
    model = CelFlow(TINY_V2)
    fresh = load_matching_weights(model, str(tiny_weights))
    assert fresh == ["synthesizer"]
    from fpsboost.models.presets import load_interpolator

    v1 = load_interpolator(tiny_weights)
    assert all(torch.equal(value, v1.state_dict()[name]) for name, value in model.state_dict().items() if name.startswith("flow_estimator."))


def test_crossing_sprites_add_occluding_layers_only_when_asked() -> None:
    from dataclasses import replace

    plain, crossing = CelScene(5, 64, 64, TRAINING_STYLE), CelScene(5, 64, 64, replace(TRAINING_STYLE, crossing_probability=1.0))
    assert len(crossing.layers) >= len(plain.layers) + 2
    assert torch.equal(plain.render(0.0), CelScene(5, 64, 64, TRAINING_STYLE).render(0.0))


def test_real_triplets_come_from_the_training_part_only_and_skip_cuts(clip, tmp_path) -> None:
    """Each triplet is three consecutive frames from the first 80 %; a cut inside a window drops it."""
    path = clip("real.mp4", frames=30, width=64, height=48)
    triplets = read_triplets(path, TripletSpec(max_triplets=100, max_width=32))
    assert triplets.dtype == np.uint8 and triplets.shape[1:] == (3, 24, 32, 3)
    assert len(triplets) == 8  # windows start at 0, 3, ..., 21: the last starts before frame 24 - 3 + 1
    cached = training_triplets(str(path), TripletSpec(max_triplets=100, max_width=32))
    assert np.array_equal(cached, triplets)
    with pytest.raises(InputError, match="no such file"):
        training_triplets(str(tmp_path / "missing.mp4"), TripletSpec())


def test_held_out_windows_come_from_the_end_of_the_clip_and_never_span_a_cut(frames_clip) -> None:
    """The evaluation's real triplets: only from the held-out fraction, evenly spaced, none across a cut."""
    from fractions import Fraction

    from fpsboost.data.real import heldout_windows

    rng = np.random.default_rng(0)
    dark, bright = rng.integers(0, 60, (48, 64, 3)), rng.integers(190, 255, (48, 64, 3))
    pictures = [np.roll(dark, 2 * i, axis=1).astype(np.uint8) for i in range(30)]
    pictures += [np.roll(bright, 2 * i, axis=1).astype(np.uint8) for i in range(30, 40)]  # a cut before frame 30
    path = frames_clip("cut.mkv", pictures, [Fraction(i, 24) for i in range(40)], Fraction(24))
    windows = heldout_windows(path, 0.5, limit=8)
    assert 6 <= len(windows) <= 8
    means = [[float(frame.mean()) for frame in window] for window in windows]
    assert all(max(window) - min(window) < 20 for window in means)  # each window inside one shot
    starts = [int(np.argmin([np.abs(picture.astype(int) - window[0]).mean() for picture in pictures])) for window in windows]
    assert min(starts) >= 20 and starts == sorted(starts)


def test_classical_pair_flows_find_a_known_shift_both_ways() -> None:
    """DIS on a textured picture moved 3 px right and 2 px up: F_0->1 is (3, -2), F_1->0 its negative."""
    from fpsboost.models.classical_flow import classical_pair_flows

    rng = np.random.default_rng(1)
    texture = torch.from_numpy(rng.random((1, 3, 24, 32), dtype=np.float32))
    texture = torch.nn.functional.interpolate(texture, size=(96, 128), mode="bicubic", align_corners=False).clamp(0, 1)
    moved = torch.roll(texture, shifts=(-2, 3), dims=(2, 3))
    flows = classical_pair_flows(texture, moved)
    assert flows.shape == (1, 4, 96, 128)
    inside = flows[0, :, 16:-16, 16:-16].mean(dim=(1, 2))
    assert torch.allclose(inside, torch.tensor([3.0, -2.0, -3.0, 2.0]), atol=0.3)


@pytest.mark.parametrize(("in_frame_rule", "motion_to_t", "extra"),
                         [("everywhere", "linear", {}), ("camera", "linear", {}), ("camera", "splat", {}),
                          ("camera", "splat-relative", {}), ("camera", "splat", {"full_choice_width": 4}), ("camera", "splat", {"coverage_cues": True})])
def test_v2_onnx_graph_takes_the_dis_flows_and_matches_torch(tmp_path, monkeypatch, in_frame_rule, motion_to_t, extra) -> None:
    """The exported v2 graph has a sixth input, pair_flows; both backends measure the pairs alike and
    their in-betweens agree (>= 45 dB, as the issue asks), with either form of the in-frame rule,
    either motion to t (the splat's sums become ScatterElements), the learnt full-resolution choice
    and the splat's coverage as a cue."""
    import onnxruntime as ort

    from fpsboost.backends import ModelSettings, create_backend
    from fpsboost.backends.export import export_onnx
    from fpsboost.models.presets import save_weights

    monkeypatch.setenv("FPSBOOST_CACHE_DIR", str(tmp_path / "cache"))
    torch.manual_seed(0)
    # With the in-frame rule: the 70x100 frames are padded, so it acts at the edges.
    model = CelFlow(CelFlowConfig(**{**TINY_V2.__dict__, "flow_source": "classical", "in_frame_rule": in_frame_rule,
                                     "motion_to_t": motion_to_t, **extra}))
    with torch.no_grad():
        model.synthesizer.head.out.weight.normal_(0, 0.01)  # the learnt path active, as after training
        if model.synthesizer.full_choice is not None:
            model.synthesizer.full_choice.out.weight.normal_(0, 0.05)
    weights = tmp_path / "v2.safetensors"
    save_weights(model, weights, model.config.to_dict(), "test-v2")
    graph = export_onnx(tmp_path / "v2.onnx", weights=weights)
    assert [node.name for node in ort.InferenceSession(str(graph)).get_inputs()][-1] == "pair_flows"
    scene = CelScene(3, 70, 100)
    frames0 = torch.stack([scene.render(0.0), scene.render(1.0)]).numpy()
    frames1 = torch.stack([scene.render(1.0), scene.render(2.0)]).numpy()
    pair_index, timesteps = np.array([0, 1, 1]), np.array([0.5, 0.25, 0.75], np.float32)
    by_torch = create_backend(ModelSettings(backend="torch", device="cpu", weights=str(weights))).interpolate(frames0, frames1, pair_index, timesteps)
    by_onnx = create_backend(ModelSettings(backend="onnx", device="cpu", onnx_path=str(graph))).interpolate(frames0, frames1, pair_index, timesteps)
    assert by_torch.shape == (3, 3, 70, 100)
    assert 10 * np.log10(1 / np.mean((by_torch - by_onnx) ** 2)) >= 45


def test_the_visibility_loss_rewards_the_warp_that_is_right_and_ignores_agreeing_warps() -> None:
    """Where frame 0 warps onto the truth and frame 1 does not, a weight of frame 0 near 1 costs less
    than one near 0; where the two warps agree, no weight costs anything."""
    from fpsboost.training.interpolator import Synthesis, visibility_loss

    truth = torch.rand(1, 3, 16, 16)
    image0 = truth.clone()
    image1 = truth.clone()
    image1[..., :, :8] = 1 - truth[..., :, :8]  # frame 1 is wrong on the left half only
    zero = torch.zeros(1, 2, 16, 16)
    batch = {"image0": image0, "image1": image1, "targets": truth, "pair_index": torch.tensor([0])}

    def loss(left: float, right: float) -> float:
        mask = torch.full((1, 1, 16, 16), right)
        mask[..., :, :8] = left
        return float(visibility_loss(batch, Synthesis(truth, None, zero, zero, mask)))

    assert loss(0.95, 0.5) < loss(0.5, 0.5) < loss(0.05, 0.5)
    assert loss(0.95, 0.01) == pytest.approx(loss(0.95, 0.99))  # the right half: both warps agree


def test_the_window_visibility_loss_rewards_per_block_the_best_of_either_warp_and_their_blend() -> None:
    """Per 8x8 block: where frame 1's warp is wrong, the weight of frame 0 should be 1; where the two
    warps err by the same amount in opposite directions, their plain blend is exact and the weight
    should be 1 - t, not either warp; single pixels closer in one warp do not count against the block."""
    from fpsboost.training.interpolator import Synthesis, visibility_loss

    truth = torch.full((1, 3, 8, 16), 0.5)
    image0, image1 = truth.clone(), truth.clone()
    image1[..., :, :8] = 0.9  # left block: warp 1 is off
    image0[..., :, 8:], image1[..., :, 8:] = 0.4, 0.6  # right block: the blend at t = 0.5 is exact
    image0[..., 0, 8] = 0.5  # one pixel of warp 0 is exact on the right: the block still wants the blend
    zero = torch.zeros(1, 2, 8, 16)
    batch = {"image0": image0, "image1": image1, "targets": truth, "pair_index": torch.tensor([0]),
             "timesteps": torch.tensor([0.5])}

    def loss(left: float, right: float) -> float:
        mask = torch.full((1, 1, 8, 16), right)
        mask[..., :, :8] = left
        return float(visibility_loss(batch, Synthesis(truth, None, zero, zero, mask), window=8))

    assert loss(0.95, 0.5) < loss(0.5, 0.5) < loss(0.05, 0.5)
    assert loss(0.95, 0.5) < loss(0.95, 0.8) and loss(0.95, 0.5) < loss(0.95, 0.2)


def test_weights_from_before_a_layer_gained_inputs_load_with_zeros_for_the_new_ones(tmp_path) -> None:
    """v2's visibility head gained the occlusion cues as inputs mid-training: a file whose first head
    convolution has fewer input channels still loads, the old channels' weights kept, the new ones zero."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = CelFlow(TINY_V2)
    state = {name: value.clone() for name, value in model.state_dict().items()}
    name = "synthesizer.head.body.0.0.weight"
    state[name] = state[name][:, :-4].contiguous()  # as saved before the four cue channels existed
    path = tmp_path / "older.safetensors"
    save_file(state, str(path), metadata={"config": __import__("json").dumps(TINY_V2.to_dict()), "version": "older"})
    fresh = CelFlow(TINY_V2)
    assert load_matching_weights(fresh, str(path)) == []
    loaded = fresh.state_dict()[name]
    assert torch.equal(loaded[:, :-4], state[name]) and not loaded[:, -4:].any()


def _stripes(offset: float) -> torch.Tensor:
    rows = torch.arange(64, dtype=torch.float32).view(1, 1, 64, 1)
    return (0.5 + 0.4 * torch.sin(2 * torch.pi * (rows - offset) / 8)).expand(1, 3, 64, 64).clone()


def test_a_flow_that_does_not_come_back_gives_way_to_the_translation() -> None:
    """Lines that look alike (credits): a flow matching each line to the next warps as well as the true
    scroll. In a pair the translation does not explain as a whole (here a patch that changes on its
    own), the failed round trip through the backward flow hands the stripes to the translation."""
    from fpsboost.models.global_motion import prefer_translation, shrink_luma

    frame_a, frame_b = _stripes(0), _stripes(2)  # the picture moved 2 px down: F_a->b = (0, 2)
    generator = torch.Generator().manual_seed(0)
    frame_a[..., 32:, :] = torch.rand(1, 3, 32, 64, generator=generator)  # something no translation explains
    frame_b[..., 32:, :] = torch.rand(1, 3, 32, 64, generator=generator)
    aliased = torch.zeros(1, 2, 64, 64)
    aliased[:, 1] = 2.0 - 8.0  # matched to the neighbouring stripe: warps just as well
    back = torch.zeros(1, 2, 64, 64)
    back[:, 1] = -2.0  # the backward flow got it right
    shift = torch.tensor([[0.0, 2.0]])
    small_a, small_b = shrink_luma(frame_a), shrink_luma(frame_b)
    chosen, with_check = prefer_translation(small_a, small_b, aliased, shift, back, frame_size=(64, 64))
    stripes_only = (..., slice(14, 22), slice(8, -8))  # away from the top rows and the patch (the choice's window)
    assert with_check[stripes_only].min() > 0.99
    assert torch.allclose(chosen[stripes_only], torch.tensor([0.0, 2.0]).view(1, 2, 1, 1).expand(1, 2, 8, 48))


def test_a_pair_the_translation_explains_as_a_whole_keeps_it_without_a_round_trip() -> None:
    """The same stripes alone: the translation explains the whole pair (RIGID_SHARE), so it carries every
    pixel even when the aliased flow comes back through an equally aliased backward flow (DIS at 4-8 px
    a frame on credits) and where the scroll brings in rows that frame b lacks."""
    from fpsboost.models.global_motion import prefer_translation, shrink_luma

    frame_a, frame_b = _stripes(0), _stripes(2)
    aliased, aliased_back = torch.zeros(1, 2, 64, 64), torch.zeros(1, 2, 64, 64)
    aliased[:, 1], aliased_back[:, 1] = 2.0 - 8.0, 8.0 - 2.0  # a consistent round trip, one stripe off
    small_a, small_b = shrink_luma(frame_a), shrink_luma(frame_b)
    _, rigid = prefer_translation(small_a, small_b, aliased, torch.tensor([[0.0, 2.0]]), aliased_back, frame_size=(64, 64))
    assert rigid.min() > 0.99
    _, without_size = prefer_translation(small_a, small_b, aliased, torch.tensor([[0.0, 2.0]]), aliased_back)
    assert without_size[..., 8:-12, 8:-8].min() > 0.99  # the rows the scroll brings in are the frame size's to decide


def test_files_from_when_the_in_frame_rule_was_a_flag_still_load() -> None:
    """The shipped file's config says ``in_frame_rule: false``; written before the rule had a camera form."""
    assert CelFlowConfig.from_dict({"in_frame_rule": False}).in_frame_rule == "off"
    assert CelFlowConfig.from_dict({"in_frame_rule": True}).in_frame_rule == "everywhere"
    assert CelFlowConfig(in_frame_rule="camera").to_dict()["in_frame_rule"] == "camera"
    with pytest.raises(ValueError, match="in-frame rule"):
        CelFlowConfig(in_frame_rule="sometimes")



def _tiny_v2_with_random_outputs(seed: int) -> CelFlow:
    """A tiny classical-flow v2 whose zero-initialised output layers are given random weights, so
    that every learnt part draws something (an untrained one draws the plain blend)."""
    torch.manual_seed(seed)
    model = CelFlow(CelFlowConfig(**{**TINY_V2.__dict__, "flow_source": "classical"})).eval()
    with torch.no_grad():
        for block in (model.synthesizer.head.out, model.synthesizer.sharpen.conv, model.synthesizer.coarse.decode[0]):
            block.weight.normal_(0, 0.05)
    return model


def _two_in_betweens_of_a_pair(scene_seed: int) -> tuple[torch.Tensor, ...]:
    """``(image0, image1, pair_index, timesteps)``: one 70x100 generated pair, asked at t = 0.25 and 0.5."""
    scene = CelScene(scene_seed, 70, 100)
    return scene.render(0.0)[None], scene.render(1.0)[None], torch.zeros(2, dtype=torch.long), torch.tensor([0.25, 0.5])


def test_the_cpu_layout_for_convolutions_draws_what_the_default_layout_draws(monkeypatch) -> None:
    """Inference on the CPU concatenates the convolution blocks' inputs into channels-last memory
    (faster there); training keeps the default layout (``out=`` has no gradient). The layout must
    not change the in-betweens."""
    import fpsboost.models.visibility as visibility
    from fpsboost.models.blocks import cat_for_convolution

    parts = [torch.rand(2, 3, 8, 12), torch.rand(2, 1, 8, 12)]
    with torch.inference_mode():
        fast = cat_for_convolution(parts)
    assert fast.is_contiguous(memory_format=torch.channels_last) and not fast.is_contiguous()
    assert torch.equal(fast, torch.cat(parts, dim=1))
    assert cat_for_convolution([part.requires_grad_() for part in parts]).is_contiguous()

    model, (image0, image1, index, times) = _tiny_v2_with_random_outputs(3), _two_in_betweens_of_a_pair(5)
    with torch.inference_mode():
        channels_last = model(image0, image1, index, times)
        monkeypatch.setattr(visibility, "cat_for_convolution", lambda tensors: torch.cat(tensors, dim=1))
        default = model(image0, image1, index, times)
    assert (channels_last - default).abs().max().item() < 1e-5


def test_one_in_between_per_pair_draws_what_the_gathered_queries_draw() -> None:
    """With query q asking for pair q (a x2 job), the CPU skips gathering per-pair tensors by
    ``pair_index``: the same frames as when another query makes the gather necessary, and each
    pair's in-between its own, not its neighbour's."""
    model = _tiny_v2_with_random_outputs(4)
    scene = CelScene(6, 70, 100)
    image0 = torch.stack([scene.render(0.0), scene.render(2.0)])
    image1 = torch.stack([scene.render(1.0), scene.render(3.0)])
    with torch.inference_mode():
        in_order = model(image0, image1, torch.tensor([0, 1]), torch.tensor([0.5, 0.5]))
        gathered = model(image0, image1, torch.tensor([0, 1, 1]), torch.tensor([0.5, 0.5, 0.25]))
    assert torch.allclose(in_order, gathered[:2], atol=1e-5, rtol=0)  # batch sizes round convolutions apart by ~2e-6
    assert (in_order[0] - in_order[1]).abs().mean() > 0.01


def test_queries_split_over_calls_measure_each_pair_once(monkeypatch) -> None:
    """Many in-betweens of a pair go through the synthesis a few at a time (CelFlow.query_chunk on the
    CPU); the per-pair part (shrinking, occlusion cues) is measured once for all of them, and the frames
    are those of one call with every query."""
    import fpsboost.models.visibility as visibility

    model = _tiny_v2_with_random_outputs(5)
    scene = CelScene(7, 70, 100)
    image0, image1 = scene.render(0.0)[None], scene.render(1.0)[None]
    index, times = torch.zeros(5, dtype=torch.long), torch.tensor([0.125, 0.25, 0.5, 0.75, 0.875])
    real_cues, measured = visibility.occlusion_cues, []
    monkeypatch.setattr(visibility, "occlusion_cues", lambda *args: measured.append(1) or real_cues(*args))
    with torch.inference_mode():
        whole = model(image0, image1, index, times)
        model.query_chunk = 2
        chunked = model(image0, image1, index, times)
    assert len(measured) == 2  # once per forward, not once per chunk (3 chunks)
    assert torch.allclose(whole, chunked, atol=1e-5, rtol=0)


def test_the_cpu_form_of_a_one_channel_convolution_is_the_convolution() -> None:
    """The edge sharpener's 3x3 convolution to one channel runs on the CPU as a channel mix per tap
    plus shifted adds (oneDNN is slow there); it must be the convolution, zero padding at every edge
    included, and the synthesis must draw the same frames with it as with the convolution."""
    from fpsboost.models.blocks import conv3x3_one_output

    generator = torch.Generator().manual_seed(0)
    x = torch.rand(2, 8, 9, 13, generator=generator)
    weight, bias = torch.randn(1, 8, 3, 3, generator=generator), torch.randn(1, generator=generator)
    reference = torch.nn.functional.conv2d(x, weight, bias, padding=1)
    assert (conv3x3_one_output(x, weight, bias) - reference).abs().max().item() < 1e-5

    model, (image0, image1, index, times) = _tiny_v2_with_random_outputs(6), _two_in_betweens_of_a_pair(8)
    with torch.inference_mode():
        on_cpu = model(image0, image1, index, times)
    with torch.no_grad(), torch.enable_grad():  # not eager inference: the plain convolution
        plain = model(image0, image1, index, times).detach()
    assert (on_cpu - plain).abs().max().item() < 1e-5
    assert model.synthesizer.sharpen.conv.weight.abs().sum() > 0  # the sharpener drew something


def test_mixed_precision_runs_the_learnt_blocks_in_bf16_and_draws_what_fp32_draws(monkeypatch) -> None:
    """``--precision auto`` on a CPU with native bf16 is ``mixed``: the synthesis's coarse block and
    visibility head run in bf16, everything else (DIS, warps, the blend) in fp32. Its frames must be
    those of fp32 to far below an 8-bit level; without native bf16, auto stays fp32."""
    import copy

    import fpsboost.backends.base as base
    from fpsboost.backends.base import ModelSettings, resolve_precision
    from fpsboost.backends.torch_backend import TorchBackend
    from fpsboost.errors import OptionError

    monkeypatch.setattr(base, "cpu_has_bf16", lambda: True)
    assert resolve_precision("auto", "cpu", ("fp32", "mixed"), "torch") == "mixed"
    assert resolve_precision("auto", "cpu", ("fp32", "fp16"), "onnx") == "fp32"
    assert resolve_precision("auto", "cuda", ("fp32", "fp16", "mixed"), "torch") == "fp16"
    with pytest.raises(OptionError, match="for the CPU"):
        resolve_precision("mixed", "cuda", ("fp32", "fp16", "mixed"), "torch")
    monkeypatch.setattr(base, "cpu_has_bf16", lambda: False)
    assert resolve_precision("auto", "cpu", ("fp32", "mixed"), "torch") == "fp32"

    model = _tiny_v2_with_random_outputs(7)
    full = TorchBackend(ModelSettings(device="cpu", precision="fp32"), model=copy.deepcopy(model))
    mixed = TorchBackend(ModelSettings(device="cpu", precision="mixed"), model=model)
    synthesizer = mixed.model.synthesizer
    assert synthesizer.coarse.encode[0][0].weight.dtype == torch.bfloat16 and synthesizer.head.out.weight.dtype == torch.bfloat16
    assert synthesizer.sharpen.conv.weight.dtype == torch.float32 and "bfloat16" in mixed.describe()
    scene = CelScene(9, 70, 100)
    frames0, frames1 = scene.render(0.0)[None].numpy(), scene.render(1.0)[None].numpy()
    index, times = np.zeros(2, np.int64), np.array([0.25, 0.5], np.float32)
    reference = full.interpolate(frames0, frames1, index, times)
    drawn = mixed.interpolate(frames0, frames1, index, times)
    difference = np.abs(drawn - reference)
    assert 0 < difference.max() < 0.5 / 255 and difference.mean() < 0.02 / 255


def test_a_translation_that_wins_nowhere_leaves_the_flows_and_the_frames_as_they_were() -> None:
    """A textured picture moving 3 px right with its exact flows, offered a translation 6 px the wrong
    way: it warps worse everywhere, so the flows come back unchanged and the network draws exactly the
    frames it draws without the candidate (in eager inference that work is skipped; a graph or autograd
    computes the blend, which must agree)."""
    from fpsboost.models.global_motion import prefer_translation, shrink_luma

    texture = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(4))
    moved = torch.roll(texture, shifts=3, dims=3)
    flow = torch.zeros(1, 2, 64, 96)
    flow[:, 0] = -3.0  # pixel x of the moved picture is at x - 3 in the original
    wrong = torch.tensor([[6.0, 0.0]])
    small_moved, small_texture = shrink_luma(moved), shrink_luma(texture)
    with torch.inference_mode():
        skipped, where = prefer_translation(small_moved, small_texture, flow, wrong, frame_size=(64, 96))
    assert skipped is flow and not where.any()
    blended, where_graph = prefer_translation(small_moved, small_texture, flow.requires_grad_(), wrong, frame_size=(64, 96))
    assert torch.equal(blended.detach(), flow.detach()) and not where_graph.any()

    model = _tiny_v2_with_random_outputs(5)
    index, times = torch.zeros(2, dtype=torch.long), torch.tensor([0.25, 0.5])
    with torch.inference_mode():
        without = model(texture, moved, index, times)
        offered = model(texture, moved, index, times, global_shift=-wrong)
    assert torch.equal(offered, without)
