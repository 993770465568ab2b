"""ONNX export and the onnxruntime backend: parity with PyTorch on cel frames, sizes the export
never saw, metadata, opset limits, the default-model cache and clear errors for bad model files."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from fpsboost.backends import ModelSettings, create_backend, resolve_backend_name
from fpsboost.backends.export import (
    DEFAULT_ONNX_NAME,
    INPUT_LAYOUT,
    SAMPLE_HEIGHT,
    SAMPLE_WIDTH,
    default_onnx_model,
    export_onnx,
    file_sha256,
    onnx_metadata,
)
from fpsboost.backends.onnx_backend import OnnxBackend, gpu_present
from fpsboost.backends.torch_backend import TorchBackend
from fpsboost.cli import main
from fpsboost.data.celgen import CelScene
from fpsboost.errors import ModelError, OptionError
from fpsboost.models.interpolator import CelFlow
from fpsboost.backends.base import InterpolationBackend
from fpsboost.models.presets import DEFAULT_INTERPOLATOR_WEIGHTS, load_interpolator, read_metadata, save_weights
from fpsboost.backends.export import default_weights_path

FP32_TOLERANCE = 1e-3  # max absolute difference, values in [0, 1]
# fp16 tolerance. A half-precision network differs from float32 by rounding in every layer, and
# most at hard cel edges: fp16 pixel coordinates in the warps are spaced 1/8 px at x = 256..511 and
# 1/4 px at 512..1023, so a few edge pixels move by up to the edge contrast times that. Measured
# against torch fp32 on cel frames with the shipped weights: mean 3-4e-4 at every size; max 0.018
# at 72x120, 0.048 at 120x214, 0.096 at 240x427.
FP16_MAX_TOLERANCE = 0.15
FP16_MEAN_TOLERANCE = 2e-3
SEED = 0
# Sizes the export (64x96) never saw; none is a multiple of the stride, so the graph must pad.
SIZES = [(72, 120), (120, 214), (50, 70)]
TIMESTEPS = np.array([0.25, 0.5, 0.75], dtype=np.float32)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> str:
    """The shipped weights when training has produced them, else a seeded untrained CelFlow."""
    shipped = default_weights_path()
    if shipped.is_file():
        return str(shipped)
    torch.manual_seed(SEED)
    network = CelFlow()
    path = tmp_path_factory.mktemp("weights") / DEFAULT_INTERPOLATOR_WEIGHTS
    save_weights(network, path, network.config.to_dict(), "test-untrained")
    return str(path)


@pytest.fixture(scope="module")
def onnx_file(weights_file, tmp_path_factory) -> str:
    return str(export_onnx(tmp_path_factory.mktemp("onnx") / "celflow.onnx", weights=weights_file))


def cel_pairs(height: int, width: int, pairs: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``pairs`` consecutive frame pairs of a procedural cel scene, ``[P,3,H,W]`` float32 in [0,1]."""
    scene = CelScene(SEED, height, width)
    frames = [scene.render(index / 12).numpy().astype(np.float32) for index in range(pairs + 1)]
    return np.stack(frames[:-1]), np.stack(frames[1:])


def measured_inputs(weights: str, frames0: np.ndarray, frames1: np.ndarray) -> dict[str, np.ndarray]:
    """The per-pair inputs a backend measures outside the graph (translation; DIS flows for v2)."""
    network = load_interpolator(weights)
    measured = InterpolationBackend.pair_measurements(frames0, frames1, network.classical_flow, 1)
    if network.config.four_frame_motion:  # no neighbours here: zero accelerations (two-frame motion)
        measured["pair_accelerations"] = np.zeros_like(measured["pair_flows"])
    return measured


def queries(pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair at every one of :data:`TIMESTEPS`."""
    return np.repeat(np.arange(pairs, dtype=np.int64), len(TIMESTEPS)), np.tile(TIMESTEPS, pairs)


@pytest.mark.parametrize("height,width", SIZES)
def test_onnx_matches_torch_on_cel_frames(weights_file, onnx_file, height, width):
    frames0, frames1 = cel_pairs(height, width)
    pair_index, timesteps = queries(len(frames0))
    torch_out = TorchBackend(ModelSettings(device="cpu", precision="fp32", weights=weights_file)).interpolate(frames0, frames1, pair_index, timesteps)
    onnx_backend = OnnxBackend(ModelSettings(backend="onnx", device="cpu", onnx_path=onnx_file))
    onnx_out = onnx_backend.interpolate(frames0, frames1, pair_index, timesteps)
    assert onnx_out.shape == (len(pair_index), 3, height, width)
    assert onnx_out.dtype == np.float32
    assert np.abs(onnx_out - torch_out).max() < FP32_TOLERANCE
    # The timestep is a real input of the graph, not a constant from the trace.
    assert np.abs(onnx_out[0] - onnx_out[2]).max() > 10 * FP32_TOLERANCE


def test_onnx_handles_batch_sizes_the_trace_never_saw(onnx_file):
    frames0, frames1 = cel_pairs(SAMPLE_HEIGHT, SAMPLE_WIDTH, pairs=3)
    backend = create_backend(ModelSettings(backend="onnx", device="cpu", onnx_path=onnx_file))
    one = backend.interpolate(frames0[:1], frames1[:1], np.array([0]), np.array([0.5], dtype=np.float32))
    many = backend.interpolate(frames0, frames1, np.array([2, 0, 1, 0, 2]), np.full(5, 0.5, dtype=np.float32))
    assert one.shape == (1, 3, SAMPLE_HEIGHT, SAMPLE_WIDTH) and many.shape == (5, 3, SAMPLE_HEIGHT, SAMPLE_WIDTH)
    # Query order follows pair_index: pair 0 at t=0.5 is the same frame wherever it is asked for.
    assert np.abs(many[1] - one[0]).max() < 1e-5 and np.abs(many[3] - one[0]).max() < 1e-5


def test_export_writes_checked_model_with_metadata_and_dynamic_axes(weights_file, onnx_file):
    onnx.checker.check_model(onnx_file)
    model = onnx.load(onnx_file)
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    assert metadata["model_version"] == read_metadata(weights_file)["version"]
    assert metadata["input_layout"] == INPUT_LAYOUT
    assert metadata["padding_multiple"] == str(CelFlow().config.stride)
    assert metadata["opset"] == "17" and metadata["precision"] == "fp32"
    assert metadata["weights_sha256"] == file_sha256(weights_file)
    network = load_interpolator(weights_file)
    classical, four_frame = network.classical_flow, network.config.four_frame_motion
    assert [node.name for node in model.graph.input] == (["image0", "image1", "pair_index", "timesteps", "global_shift"]
                                                         + ["pair_flows"] * classical + ["pair_accelerations"] * four_frame)
    assert [node.name for node in model.graph.output] == ["frames"]
    image_dims = [dim.dim_param or dim.dim_value for dim in model.graph.input[0].type.tensor_type.shape.dim]
    assert image_dims == ["pairs", 3, "height", "width"]
    assert max(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")) == 17


@pytest.mark.parametrize("opset", [16, 18])
def test_export_at_other_supported_opsets_runs(weights_file, tmp_path, opset):
    path = export_onnx(tmp_path / "model.onnx", weights=weights_file, opset=opset)
    assert onnx_metadata(path)["opset"] == str(opset)
    frames0, frames1 = cel_pairs(40, 56, pairs=1)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {"image0": frames0, "image1": frames1, "pair_index": np.array([0]), "timesteps": np.array([0.5], np.float32),
                             **measured_inputs(weights_file, frames0, frames1)})[0]
    assert out.shape == (1, 3, 40, 56)


@pytest.mark.parametrize("opset", [15, 20])
def test_export_rejects_unsupported_opsets(weights_file, tmp_path, opset):
    with pytest.raises(OptionError, match="opset"):
        export_onnx(tmp_path / "model.onnx", weights=weights_file, opset=opset)
    assert not (tmp_path / "model.onnx").exists()


def test_export_command_writes_model_and_reports_bad_opset_in_one_line(weights_file, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli.onnx"
    result = runner.invoke(main, ["export", "--out", str(out), "--weights", weights_file])
    assert result.exit_code == 0, result.output
    assert out.is_file() and onnx_metadata(out)["precision"] == "fp32"
    bad = runner.invoke(main, ["export", "--out", str(tmp_path / "bad.onnx"), "--weights", weights_file, "--opset", "20"])
    assert bad.exit_code != 0
    assert bad.output.strip().count("\n") == 0 and "opset" in bad.output and "Traceback" not in bad.output


def test_fp16_export_keeps_float32_io_and_stays_close(weights_file, onnx_file, tmp_path):
    path = export_onnx(tmp_path / "half.onnx", weights=weights_file, fp16=True)
    assert onnx_metadata(path)["precision"].startswith("fp16")
    model = onnx.load(str(path))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in model.graph.initializer)
    frames0, frames1 = cel_pairs(72, 120)
    pair_index, timesteps = queries(len(frames0))
    feeds = {"image0": frames0, "image1": frames1, "pair_index": pair_index, "timesteps": timesteps,
             **measured_inputs(weights_file, frames0, frames1)}
    # The CPU provider runs the half graph too (slowly); the backend itself only offers fp16 on CUDA.
    half = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    full = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    difference = np.abs(half - full)
    assert difference.max() < FP16_MAX_TOLERANCE and difference.mean() < FP16_MEAN_TOLERANCE


@pytest.mark.skipif(not gpu_present() or "CUDAExecutionProvider" not in ort.get_available_providers(),
                    reason="needs a CUDA GPU and onnxruntime-gpu")
def test_fp16_on_cuda_matches_fp32_torch(weights_file):
    frames0, frames1 = cel_pairs(120, 214)
    pair_index, timesteps = queries(len(frames0))
    backend = OnnxBackend(ModelSettings(backend="onnx", device="cuda", precision="fp16", weights=weights_file))
    assert backend.use_io_binding
    half = backend.interpolate(frames0, frames1, pair_index, timesteps)
    reference = TorchBackend(ModelSettings(device="cpu", weights=weights_file)).interpolate(frames0, frames1, pair_index, timesteps)
    difference = np.abs(half - reference)
    assert difference.max() < FP16_MAX_TOLERANCE and difference.mean() < FP16_MEAN_TOLERANCE


@pytest.mark.skipif(gpu_present(), reason="checks the no-GPU path")
def test_without_gpu_only_the_cpu_provider_is_requested(onnx_file):
    backend = OnnxBackend(ModelSettings(backend="onnx", device="auto", onnx_path=onnx_file))
    assert backend.device == "cpu" and backend.providers == ["CPUExecutionProvider"]
    assert backend.precision == "fp32" and backend.default_batch_size >= 1
    with pytest.raises(OptionError, match="no CUDA GPU"):
        OnnxBackend(ModelSettings(backend="onnx", device="cuda", onnx_path=onnx_file))
    with pytest.raises(OptionError, match="fp16"):
        OnnxBackend(ModelSettings(backend="onnx", device="cpu", precision="fp16", onnx_path=onnx_file))


def test_default_model_is_exported_once_to_the_cache(weights_file, tmp_path, monkeypatch, capsys):
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    (weights_dir / DEFAULT_INTERPOLATOR_WEIGHTS).write_bytes(open(weights_file, "rb").read())
    monkeypatch.setenv("FPSBOOST_WEIGHTS_DIR", str(weights_dir))
    monkeypatch.setenv("FPSBOOST_CACHE_DIR", str(tmp_path / "cache"))

    first = default_onnx_model()
    assert first.is_file() and first.is_relative_to(tmp_path / "cache")
    assert "exporting" in capsys.readouterr().err
    written = first.stat().st_mtime_ns
    assert default_onnx_model() == first and first.stat().st_mtime_ns == written
    assert "exporting" not in capsys.readouterr().err

    # A shipped .onnx is used only when it was exported from the weights in use.
    shipped = weights_dir / DEFAULT_ONNX_NAME
    shipped.write_bytes(first.read_bytes())
    assert default_onnx_model() == shipped
    export_onnx(shipped, model=CelFlow())  # stale: no weights hash
    assert default_onnx_model() == first


def test_missing_onnx_model_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        OnnxBackend(ModelSettings(backend="onnx", device="cpu", onnx_path=str(tmp_path / "absent.onnx")))


def test_corrupt_onnx_model_is_a_one_line_model_error(tmp_path, onnx_file):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(open(onnx_file, "rb").read()[:5000])
    with pytest.raises(ModelError, match="cannot load ONNX model") as caught:
        OnnxBackend(ModelSettings(backend="onnx", device="cpu", onnx_path=str(corrupt)))
    assert "\n" not in str(caught.value)


def ort_loadable_ir_version() -> int:
    """The IR version torch's exporter writes, which this onnxruntime loads (onnx may write newer)."""
    return 8


def test_model_from_a_too_new_onnx_is_a_short_model_error(tmp_path, onnx_file):
    model = onnx.load(onnx_file)
    model.ir_version = 99
    too_new = tmp_path / "too_new.onnx"
    onnx.save(model, str(too_new))
    with pytest.raises(ModelError, match="IR version") as caught:
        OnnxBackend(ModelSettings(backend="onnx", device="cpu", onnx_path=str(too_new)))
    assert "onnxruntime_src" not in str(caught.value) and "\n" not in str(caught.value)


def test_foreign_onnx_model_with_other_inputs_is_a_model_error(tmp_path):
    image = onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", 3, "H", "W"])
    output = onnx.helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["N", 3, "H", "W"])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["input"], ["output"])], "other", [image], [output])
    foreign = tmp_path / "other.onnx"
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = ort_loadable_ir_version()
    onnx.save(model, str(foreign))
    with pytest.raises(ModelError, match="not a fpsboost interpolation model") as caught:
        OnnxBackend(ModelSettings(backend="onnx", device="cpu", onnx_path=str(foreign)))
    assert "\n" not in str(caught.value)


def test_auto_backend_is_torch_on_the_cpu_and_explicit_names_stay(onnx_file):
    assert resolve_backend_name(ModelSettings(device="cpu")) == "torch"
    assert resolve_backend_name(ModelSettings(device="cpu", precision="bf16")) == "torch"
    assert resolve_backend_name(ModelSettings(backend="torch", device="cpu")) == "torch"
    assert resolve_backend_name(ModelSettings(backend="onnx", device="cpu")) == "onnx"
    backend = create_backend(ModelSettings(device="cpu", onnx_path=onnx_file))
    assert backend.name == "onnx"
    with pytest.raises(OptionError, match="unknown backend"):
        create_backend(ModelSettings(backend="tensorflow", device="cpu"))


def test_a_given_onnx_file_keeps_its_scale_for_pairs_across_holds(onnx_file, tmp_path):
    """``auto`` would shrink the flow of keys two frames apart at 640 px, but a given graph has its
    scale fixed: the job must run every pair on it, not on a graph exported from other weights."""
    from fractions import Fraction

    from fpsboost.pipeline import UpscaleSettings, upscale
    from fpsboost.video.writer import EncodeSettings
    from helpers_pipeline import write_frames
    from helpers_video import pattern_rgb24

    drawings = [pattern_rgb24(index * 2, 640, 16) for index in range(3)]
    source = write_frames(tmp_path / "twos.mkv", [drawings[i // 2] for i in range(6)], [Fraction(i, 24) for i in range(6)],
                          Fraction(24), pix_fmt="yuv444p")
    summary = upscale(source, tmp_path / "out.mkv", UpscaleSettings(factor=2, tail="hold"),
                      ModelSettings(backend="onnx", device="cpu", onnx_path=onnx_file), encode=EncodeSettings(codec="ffv1"))
    assert summary.holds == 3 and summary.pairs_by_flow_scale == {"1": 2}
    backend = OnnxBackend(ModelSettings(backend="onnx", device="cpu", onnx_path=onnx_file))
    frames0, frames1 = cel_pairs(32, 48, pairs=1)
    with pytest.raises(OptionError, match="one fixed scale"):
        backend.interpolate(frames0, frames1, np.zeros(1, np.int64), TIMESTEPS[:1], flow_scale="0.5")


def test_an_export_of_an_older_graph_is_flagged(onnx_file, tmp_path, caplog):
    """Exports record the graph version; one made before the dark-pair stretch (no version) gets a warning."""
    from fpsboost.backends.export import GRAPH_VERSION, GRAPH_VERSION_KEY

    assert onnx_metadata(onnx_file)[GRAPH_VERSION_KEY] == str(GRAPH_VERSION)
    proto = onnx.load(onnx_file)
    kept = [prop for prop in proto.metadata_props if prop.key != GRAPH_VERSION_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    older = tmp_path / "older.onnx"
    onnx.save(proto, str(older))
    with caplog.at_level("WARNING"):
        OnnxBackend(ModelSettings(backend="onnx", device="cpu", onnx_path=str(older)))
    assert "older network graph" in caplog.text
