"""Motion from four frames (fpsboost.models.acceleration): each frame's acceleration from its
neighbours, the quadratic candidate it gives, and a four-frame network that starts as v2."""

from __future__ import annotations

import torch

from fpsboost.models.acceleration import acceleration, pair_accelerations, quadratic_correction
from fpsboost.models.interpolator import CelFlow, CelFlowConfig
from fpsboost.training.interpolator import load_matching_weights
from fpsboost.models.presets import save_weights

from helpers_pipeline import TINY_CONFIG

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
