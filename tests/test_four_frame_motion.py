"""Motion from four frames (fpsboost.models.acceleration): each frame's acceleration from its
neighbours, the quadratic candidate it gives, and a four-frame network that starts as v2."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch

from fpsboost.models.acceleration import acceleration, pair_accelerations, quadratic_correction
from fpsboost.models.interpolator import CelFlow, CelFlowConfig
from fpsboost.training.interpolator import load_matching_weights
from fpsboost.models.presets import save_weights

from helpers_pipeline import TINY_CONFIG, LinearBlendBackend

TINY_V2 = CelFlowConfig(**{**TINY_CONFIG.__dict__, "synthesis": "visibility", "head_width": 8, "flow_source": "classical",
                           "flow_correction": False})
TINY_FOUR_FRAME = CelFlowConfig(**{**TINY_V2.__dict__, "four_frame_motion": True})


def _field(x: float, y: float) -> torch.Tensor:
    return torch.tensor([x, y]).view(1, 2, 1, 1).expand(1, 2, 4, 4)


def test_constant_speed_has_no_acceleration_at_any_neighbour_distance() -> None:
    for distance in (0.5, 1.0, 2.0):
        velocity = _field(3.0, -1.0)
        assert torch.allclose(acceleration(velocity, -distance * velocity, distance), torch.zeros(1, 2, 4, 4))


def test_a_parabola_is_recovered_exactly_and_continued_to_time_t() -> None:
    # x(τ) = 2τ + 3τ²/2 (a = 3): F_0->1 = 3.5, F_0->before at τ = -d is -2d + 1.5d².
    for distance in (0.5, 1.0, 1.5):
        forward = _field(3.5, 0.0)
        to_before = _field(-2 * distance + 1.5 * distance ** 2, 0.0)
        assert torch.allclose(acceleration(forward, to_before, distance), _field(3.0, 0.0))
    t = torch.tensor(0.25).view(1, 1, 1, 1)
    linear_to_t = 0.25 * 3.5  # what linear motion from frame 0 says
    exact_to_t = 2 * 0.25 + 1.5 * 0.25 ** 2
    # The backward flow F_t->0 is about -F_0->t: the quadratic correction closes the gap exactly.
    correction = quadratic_correction(torch.cat([_field(3.0, 0.0), _field(0.0, 0.0)], dim=1), t)
    assert torch.allclose(-linear_to_t + correction[:, 0], torch.full((1, 4, 4), -exact_to_t))


def test_a_missing_neighbour_gives_zero_acceleration_on_its_side() -> None:
    accelerations = pair_accelerations(_field(1.0, 0.0), _field(-1.0, 0.0), _field(0.5, 0.0), None)
    assert torch.allclose(accelerations[:, :2], _field(1.5, 0.0)) and torch.all(accelerations[:, 2:] == 0)


def test_a_four_frame_network_starts_as_the_two_frame_one(tmp_path) -> None:
    """Grown from v2 weights (new channels zero), it draws v2's frames without accelerations and
    nearly v2's with them (the acceleration starts trusted at 12 %)."""
    torch.manual_seed(0)
    two_frame = CelFlow(TINY_V2).eval()
    path = tmp_path / "v2.safetensors"
    save_weights(two_frame, path, TINY_V2.to_dict(), "test")
    four_frame = CelFlow(TINY_FOUR_FRAME).eval()
    assert load_matching_weights(four_frame, str(path)) == []
    image0 = torch.rand(1, 3, 48, 64)
    image1 = torch.roll(image0, 3, dims=-1)
    flows = torch.zeros(1, 4, 48, 64)
    flows[:, 0], flows[:, 2] = 3.0, -3.0
    index, times = torch.zeros(2, dtype=torch.long), torch.tensor([0.25, 0.5])
    with torch.no_grad():
        expected = two_frame(image0, image1, index, times, pair_flows=flows)
        assert torch.equal(four_frame(image0, image1, index, times, pair_flows=flows), expected)
        accelerated = four_frame(image0, image1, index, times, pair_flows=flows, pair_accelerations=torch.full((1, 4, 48, 64), 2.0))
    assert 0 < (accelerated - expected).abs().mean() < 0.05


class NeighbourRecorder(LinearBlendBackend):
    """A cross-fade backend that asks for neighbours and records, per pair, the key indices it got."""

    wants_neighbours = True

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[tuple[int, int], tuple[int | None, int | None, float, float]] = {}

    def interpolate(self, frames0, frames1, pair_index, timesteps, flow_scale=None, neighbours=None):
        assert neighbours is not None and len(neighbours.keys) == frames0.shape[0]
        for p, (before, first, second, after) in enumerate(neighbours.keys):
            assert neighbours.has_before[p] == (before is not None) and neighbours.has_after[p] == (after is not None)
            if before is not None:
                np.testing.assert_array_equal(neighbours.before[p], self.frames[before])
            self.seen[(first, second)] = (before, after, float(neighbours.distance_before[p]), float(neighbours.distance_after[p]))
        return super().interpolate(frames0, frames1, pair_index, timesteps, flow_scale)


def test_the_job_gives_each_pair_its_neighbouring_drawings_within_the_shot(tmp_path) -> None:
    """Shot A on twos (drawings at frames 0, 2, 4, 6), a cut, shot B on ones (8..11): each pair gets
    the drawing before and after it, none across the cut or past the ends, at the right distances."""
    from fpsboost.data.clips import ShotSpec, write_cel_video
    from fpsboost.pipeline import UpscaleSettings, upscale

    source = write_cel_video(tmp_path / "in.mkv", [ShotSpec(1, 8, 2), ShotSpec(2, 4, 1)], codec="ffv1", audio=False)
    backend = NeighbourRecorder()
    backend.frames = {}
    original = backend.interpolate

    def remember_frames(frames0, frames1, pair_index, timesteps, flow_scale=None, neighbours=None):
        for p, (_, first, second, _) in enumerate(neighbours.keys):
            backend.frames[first], backend.frames[second] = frames0[p], frames1[p]
        return original(frames0, frames1, pair_index, timesteps, flow_scale, neighbours)

    backend.interpolate = remember_frames
    summary = upscale(source, tmp_path / "out.mkv", UpscaleSettings(factor=2), backend=backend)
    assert summary.scene_cuts == 1
    pairs = dict(sorted(backend.seen.items()))
    assert pairs[(0, 2)][:2] == (None, 4) and pairs[(2, 4)][:2] == (0, 6) and pairs[(4, 6)][:2] == (2, None)
    assert pairs[(8, 9)][:2] == (None, 10) and pairs[(9, 10)][:2] == (8, 11) and pairs[(10, 11)][:2] == (9, None)
    assert pairs[(2, 4)][2:] == (1.0, 1.0)


def test_onnx_takes_the_accelerations_and_matches_torch(tmp_path) -> None:
    """A four-frame network's graph has a seventh input, pair_accelerations, made outside it from the
    neighbours as for torch; its frames match torch's, and differ from two-frame motion."""
    from fpsboost.backends import ModelSettings
    from fpsboost.backends.export import export_onnx
    from fpsboost.backends.onnx_backend import OnnxBackend
    from fpsboost.backends.onnx_graph import PAIR_ACCELERATIONS_INPUT
    from fpsboost.backends.torch_backend import TorchBackend
    from fpsboost.batching import KeyImage, gather_neighbours
    from fpsboost.data.celgen import CelScene

    torch.manual_seed(2)
    network = CelFlow(TINY_FOUR_FRAME)
    for name, parameter in network.named_parameters():
        if "head" in name:
            parameter.data.normal_(0, 0.1)
    weights = tmp_path / "four-frame.safetensors"
    save_weights(network, weights, TINY_FOUR_FRAME.to_dict(), "test-four-frame")
    graph = export_onnx(tmp_path / "four-frame.onnx", weights=str(weights))
    scene = CelScene(7, 64, 96)
    keys = [KeyImage(i, Fraction(i, 24), scene.render(i * i / 8).numpy(), None) for i in range(5)]  # accelerating
    pairs = [(keys[1], keys[2]), (keys[2], keys[3])]
    neighbours = gather_neighbours(pairs, [(keys[0], keys[3]), (keys[1], keys[4])])
    frames0, frames1 = np.stack([keys[1].chw, keys[2].chw]), np.stack([keys[2].chw, keys[3].chw])
    index, times = np.array([0, 0, 1, 1]), np.array([0.25, 0.5, 0.5, 0.75], np.float32)
    torch_backend = TorchBackend(ModelSettings(device="cpu", weights=str(weights)))
    onnx_backend = OnnxBackend(ModelSettings(backend="onnx", device="cpu", onnx_path=str(graph)))
    assert torch_backend.wants_neighbours and onnx_backend.wants_neighbours
    session_inputs = [node.name for node in onnx_backend._sessions[1].get_inputs()]
    assert session_inputs[-1] == PAIR_ACCELERATIONS_INPUT
    expected = torch_backend.interpolate(frames0, frames1, index, times, neighbours=neighbours)
    actual = onnx_backend.interpolate(frames0, frames1, index, times, neighbours=neighbours)
    error = float(((actual - expected) ** 2).mean())
    assert 10 * np.log10(1 / max(error, 1e-12)) >= 45
    two_frame = torch_backend.interpolate(frames0, frames1, index, times)
    assert np.abs(two_frame - expected).max() > 1e-3


def test_consecutive_batches_measure_each_dis_direction_once_with_the_same_numbers(monkeypatch) -> None:
    """Batch (1,2),(2,3) then (3,4),(4,5): the first batch's last pair measures F_3->4 for its
    acceleration, and the second batch takes it as its first pair's F_0->1 instead of measuring it
    again; every pair's flows equal those measured from scratch, bit for bit."""
    from fpsboost.backends.base import InterpolationBackend
    from fpsboost.batching import KeyImage, gather_neighbours
    from fpsboost.data.celgen import CelScene
    from fpsboost.models import classical_flow

    measured_directions = []
    real_dis = classical_flow._dis

    def counting_dis(luma_from, luma_to, like, needed=None, refinement_iterations=classical_flow.DIS_REFINEMENT_ITERATIONS,
                     finest_scale=None):
        measured_directions.append(len(luma_from) if needed is None else int(np.sum(needed)))
        return real_dis(luma_from, luma_to, like, needed, refinement_iterations, finest_scale)

    class Measurer(InterpolationBackend):
        def interpolate(self, *args, **kwargs):
            raise NotImplementedError

    scene = CelScene(11, 64, 96)
    keys = [KeyImage(i, Fraction(i, 24), scene.render(i * i / 8).numpy(), None) for i in range(7)]
    fresh = {}
    for first, second in ((1, 2), (2, 3), (3, 4), (4, 5)):
        flows = classical_flow.classical_pair_flows(torch.from_numpy(keys[first].chw[None]),
                                                    torch.from_numpy(keys[second].chw[None]))
        fresh[(first, second)] = flows[0].numpy()
    monkeypatch.setattr(classical_flow, "_dis", counting_dis)
    backend = Measurer()
    for batch in (((1, 2), (2, 3)), ((3, 4), (4, 5))):
        pairs = [(keys[a], keys[b]) for a, b in batch]
        neighbours = gather_neighbours(pairs, [(keys[a - 1], keys[b + 1]) for a, b in batch])
        frames0, frames1 = np.stack([keys[a].chw for a, _ in batch]), np.stack([keys[b].chw for _, b in batch])
        measured = backend.measure(frames0, frames1, True, 1, neighbours)
        for flows, pair in zip(measured["pair_flows"], batch):
            assert np.array_equal(flows, fresh[pair])
    # First batch: 2 pairs x 2 directions, F_1->0 (to before) and F_3->4 (to after) for the neighbours.
    # Second: F_3->4 kept, so 3 directions, F_4->3 kept as the first pair's flow to before, F_5->6 to after.
    # Each direction runs DIS once per hypothesis (luma, and chroma where CHROMA_HYPOTHESIS is on).
    hypotheses = 2 if classical_flow.CHROMA_HYPOTHESIS else 1
    assert sum(measured_directions) == hypotheses * ((4 + 2) + (3 + 1))


def test_each_backend_measures_under_its_own_lock() -> None:
    """Two backends (two jobs in one process) measure side by side: one busy measuring does not
    hold the other up, while a backend's own calls still wait for each other (its flow cache)."""
    import threading

    from fpsboost.backends.base import InterpolationBackend

    class Measurer(InterpolationBackend):
        def interpolate(self, *args, **kwargs):
            raise NotImplementedError

    busy, free = Measurer(), Measurer()
    frames = np.zeros((1, 3, 16, 16), np.float32)
    results = {}

    def measure(backend, name):
        results[name] = backend.measure(frames, frames, False, 1)

    with busy._measure_lock():  # busy is in the middle of a measurement
        other = threading.Thread(target=measure, args=(free, "free"))
        other.start()
        other.join(timeout=30)
        same = threading.Thread(target=measure, args=(busy, "busy"))
        same.start()
        same.join(timeout=0.5)
        assert "free" in results and "busy" not in results
    same.join(timeout=30)
    assert np.array_equal(results["busy"]["global_shift"], results["free"]["global_shift"])


def test_kept_neighbour_flows_stay_few_however_long_the_video() -> None:
    """Batch after batch of drawings held three frames each (key indices 0, 3, 6, ...): the backend keeps
    only the flows the next batch reads, so memory does not grow with the video (64 frames' worth of
    flows once held 1 GB at 1280x720), and each batch after the first still measures two DIS directions
    per pair."""
    from fpsboost.backends.base import InterpolationBackend
    from fpsboost.batching import KeyImage, gather_neighbours
    from fpsboost.data.celgen import CelScene
    from fpsboost.models import classical_flow

    class Measurer(InterpolationBackend):
        def interpolate(self, *args, **kwargs):
            raise NotImplementedError

    directions = []
    real_dis = classical_flow._dis

    def counting_dis(luma_from, luma_to, like, needed=None, refinement_iterations=classical_flow.DIS_REFINEMENT_ITERATIONS,
                     finest_scale=None):
        directions.append(len(luma_from) if needed is None else int(np.sum(needed)))
        return real_dis(luma_from, luma_to, like, needed, refinement_iterations, finest_scale)

    scene = CelScene(12, 48, 64)
    keys = [KeyImage(3 * i, Fraction(3 * i, 24), scene.render(i / 4).numpy(), None) for i in range(15)]
    backend = Measurer()
    original, classical_flow._dis = classical_flow._dis, counting_dis
    try:
        for start in range(1, 12, 2):
            batch = [(start, start + 1), (start + 1, start + 2)]
            pairs = [(keys[a], keys[b]) for a, b in batch]
            neighbours = gather_neighbours(pairs, [(keys[a - 1], keys[b + 1]) for a, b in batch])
            frames0, frames1 = np.stack([keys[a].chw for a, _ in batch]), np.stack([keys[b].chw for _, b in batch])
            before = sum(directions)
            backend.measure(frames0, frames1, True, 1, neighbours)
            kept = backend._neighbour_flows
            newest_first = keys[start + 1].index
            assert len(kept) <= 3 and all(min(key[:2]) >= newest_first for key in kept), sorted(kept)
            if start > 1:  # two directions a pair, each measured once per hypothesis (luma, chroma)
                assert sum(directions) - before == 2 * len(batch) * (2 if classical_flow.CHROMA_HYPOTHESIS else 1)
    finally:
        classical_flow._dis = original
