"""``--flow-scale``: motion estimated on a shrunk pair (large frames, large motion), in PyTorch and ONNX."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from fpsboost.backends import ModelSettings
from fpsboost.backends.base import FLOW_AUTO_MAX_WIDTH, flow_downscale, resolve_flow_scale
from fpsboost.backends.export import FLOW_DOWNSCALE_KEY, export_onnx, onnx_metadata
from fpsboost.backends.onnx_backend import OnnxBackend
from fpsboost.backends.torch_backend import TorchBackend
from fpsboost.cli import main
from fpsboost.data.celgen import CelScene
from fpsboost.errors import OptionError
from fpsboost.models.interpolator import CelFlow
from fpsboost.models.presets import DEFAULT_INTERPOLATOR_WEIGHTS, load_interpolator, weights_dir

from helpers_video import make_clip

SHIPPED = weights_dir() / DEFAULT_INTERPOLATOR_WEIGHTS
needs_shipped_weights = pytest.mark.skipif(not SHIPPED.exists(), reason="shipped weights not present")


def test_auto_keeps_full_resolution_up_to_the_limit_then_halves() -> None:
    assert flow_downscale("auto", FLOW_AUTO_MAX_WIDTH) == 1
    assert flow_downscale("auto", FLOW_AUTO_MAX_WIDTH + 1) == 2
    assert flow_downscale("auto", 2 * FLOW_AUTO_MAX_WIDTH + 1) == 4
    assert flow_downscale("auto", 100 * FLOW_AUTO_MAX_WIDTH) == 4  # no further than a quarter
    assert resolve_flow_scale("auto", 3840) == "0.5" and resolve_flow_scale("auto", 7680) == "0.25"
    assert resolve_flow_scale("0.5", 320) == "0.5"
    with pytest.raises(OptionError, match="flow scale"):
        flow_downscale("0.3", 640)


def test_auto_treats_a_pair_further_apart_as_a_wider_one() -> None:
    """Keys two source frames apart (across a held drawing) move as far as a pair twice as wide."""
    assert resolve_flow_scale("auto", 1920) == "1" and resolve_flow_scale("auto", 1920, span=2) == "0.5"
    assert resolve_flow_scale("auto", 1920, span=3) == "0.25" and resolve_flow_scale("auto", 1280, span=3) == "0.5"
    assert resolve_flow_scale("auto", 960, span=2) == "1"  # 1920 px of motion: still full size
    assert resolve_flow_scale("auto", 1920, span=0.5) == "1"  # closer than a frame (VFR): never enlarged
    assert resolve_flow_scale("1", 1920, span=3) == "1"  # a fixed setting stays


def test_a_shrunk_flow_keeps_any_size_and_still_depends_on_t() -> None:
    torch.manual_seed(0)
    model = CelFlow().eval()
    model.flow_downscale = 4
    image0, image1 = torch.rand(1, 3, 75, 131), torch.rand(1, 3, 75, 131)
    with torch.no_grad():
        early, late = model(image0, image1, torch.tensor([0, 0]), torch.tensor([0.2, 0.8]))
    assert early.shape == (3, 75, 131)
    assert float((early - late).abs().mean()) > 1e-3


def _square(left: float, height: int = 128, width: int = 320, side: int = 40) -> torch.Tensor:
    image = torch.zeros(3, height, width)
    image[0], image[1], image[2] = 0.2, 0.35, 0.8
    x, top = int(round(left)), 44
    image[:, top:top + side, x:x + side] = torch.tensor([0.1, 0.05, 0.05]).view(3, 1, 1)
    image[:, top + 3:top + side - 3, x + 3:x + side - 3] = torch.tensor([1.0, 0.6, 0.1]).view(3, 1, 1)
    return image


def _orange(image: torch.Tensor) -> torch.Tensor:
    return (image[0] > 0.7) & (image[2] < 0.4)


def _orange_x(image: torch.Tensor) -> float:
    return float(torch.nonzero(_orange(image))[:, 1].float().mean())


@needs_shipped_weights
@pytest.mark.xfail(strict=True, reason="v2's DIS flow loses a flat square that moves further than its size over "
                   "a flat background (no orange left at t = 0.5); v1 carried it at half scale (test below). "
                   "Remove this mark when v2 does.")
def test_at_half_scale_the_shipped_model_carries_a_fast_square() -> None:
    _assert_carries_a_fast_square(load_interpolator())


@pytest.mark.skipif(not (weights_dir() / "celflow-s-v1.safetensors").exists(), reason="v1 weights not present")
def test_at_half_scale_v1_carries_a_fast_square() -> None:
    _assert_carries_a_fast_square(load_interpolator(weights_dir() / "celflow-s-v1.safetensors"))


def _assert_carries_a_fast_square(model) -> None:
    """A flat 40 px square moving 48 px per frame (more than its size) over a flat background.

    With flow at full resolution the shipped weights keep only 22 % of its orange pixels at
    t = 0.5 (the second-stage weights: none); estimated at half resolution it arrives whole
    (63-100 %), each in-between within 1/8 of the step of where linear motion puts it (measured
    7.7 / 23.4 / 41.5 px for 12 / 24 / 36; the second-stage weights: 8.2 / 22.0 / 39.4).
    """
    model.flow_downscale = 2
    with torch.no_grad():
        frames = model(_square(40)[None], _square(88)[None], torch.zeros(3, dtype=torch.long), torch.tensor([0.25, 0.5, 0.75]))
    start = _orange_x(_square(40))
    assert [_orange_x(frame) - start for frame in frames] == pytest.approx([12, 24, 36], abs=48 / 8)
    whole = int(_orange(_square(40)).sum())
    assert all(int(_orange(frame).sum()) >= 0.6 * whole for frame in frames)


def test_backends_apply_the_scale_and_onnx_bakes_it(tmp_path) -> None:
    scene = CelScene(0, 72, 120)
    frames0 = scene.render(0.0).numpy()[None].astype(np.float32)
    frames1 = scene.render(1.0).numpy()[None].astype(np.float32)
    index, times = np.zeros(2, np.int64), np.array([0.25, 0.75], np.float32)
    weights = str(SHIPPED) if SHIPPED.exists() else None
    if weights is None:
        torch.manual_seed(0)
        from fpsboost.models.presets import save_weights

        network = CelFlow()
        weights = str(tmp_path / "w.safetensors")
        save_weights(network, weights, network.config.to_dict(), "test-untrained")
    full = TorchBackend(ModelSettings(device="cpu", weights=weights, flow_scale="1"))
    half = TorchBackend(ModelSettings(device="cpu", weights=weights, flow_scale="0.5"))
    out_full, out_half = (backend.interpolate(frames0, frames1, index, times) for backend in (full, half))
    assert np.abs(out_full - out_half).max() > 1e-3  # the setting reaches the network
    path = export_onnx(tmp_path / "half.onnx", weights=weights, flow_downscale=2)
    assert onnx_metadata(path)[FLOW_DOWNSCALE_KEY] == "2"
    onnx_half = OnnxBackend(ModelSettings(backend="onnx", device="cpu", onnx_path=str(path)))
    assert np.abs(onnx_half.interpolate(frames0, frames1, index, times) - out_half).max() < 1e-3
    assert "flow at 0.5x" in onnx_half.describe()
    with pytest.raises(OptionError, match="export one for --flow-scale 1"):
        OnnxBackend(ModelSettings(backend="onnx", device="cpu", onnx_path=str(path), flow_scale="1"))


def test_cli_flow_scale_reaches_the_job_and_bad_values_are_one_line(tmp_path) -> None:
    source = make_clip(tmp_path / "in.mp4", frames=4)
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(main, [str(source), str(out), "--flow-scale", "0.5", "--tail", "hold"])
    assert result.exit_code == 0, result.output
    assert "flow at 0.5x" in result.output and out.is_file()
    bad = CliRunner().invoke(main, [str(source), str(tmp_path / "bad.mp4"), "--flow-scale", "2"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert not (tmp_path / "bad.mp4").exists()


def test_extrapolation_estimates_its_motion_at_the_flow_scale(tmp_path) -> None:
    from fpsboost.extrapolation import Extrapolator

    scene = CelScene(4, 72, 120)
    context = [scene.render(float(k)).numpy() for k in range(3)]
    full, half = (Extrapolator(device="cpu", flow_scale=scale).predict(context, [1.0, 2.0]) for scale in ("1", "0.5"))
    assert full.shape == half.shape == (2, 3, 72, 120)
    assert np.abs(full - half).max() > 1e-3
    with pytest.raises(OptionError, match="flow scale"):
        Extrapolator(device="cpu", flow_scale="3")
    source = make_clip(tmp_path / "in.mp4", frames=4)
    result = CliRunner().invoke(main, ["extrapolate", str(source), str(tmp_path / "out.mp4"), "--steps", "2",
                                       "--flow-scale", "0.25", "-q"])
    assert result.exit_code == 0, result.output


def test_onnx_auto_makes_the_session_for_the_frame_width_on_first_use(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FPSBOOST_CACHE_DIR", str(tmp_path))
    backend = OnnxBackend(ModelSettings(backend="onnx", device="cpu"))
    assert backend.describe().startswith("onnx on cpu (CPUExecutionProvider")  # before any session exists
    scene = CelScene(0, 72, 120)
    frames0, frames1 = (scene.render(t).numpy()[None].astype(np.float32) for t in (0.0, 1.0))
    out = backend.interpolate(frames0, frames1, np.zeros(1, np.int64), np.array([0.5], np.float32))
    assert out.shape == (1, 3, 72, 120)
    exported = list((tmp_path / "onnx").glob("*.onnx"))
    assert len(exported) == 1 and "-flow" not in exported[0].name  # 120 px wide: full resolution
