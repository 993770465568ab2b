"""onnxruntime backend: TensorRT, then CUDA, then the CPU, chosen by ``--device``.

CUDA/TensorRT providers are only requested when a GPU is really there: onnxruntime-gpu lists them
on every machine and asking for them without CUDA libraries prints a loud error. On a GPU the
inputs and the output live in ``OrtValue``s bound to the session (I/O binding), so each batch
costs one upload and one download whatever the graph does in between.

Precision: ``fp32`` runs the float32 export. ``fp16`` (``auto`` on CUDA) runs the ``--fp16`` export:
half-precision weights and arithmetic behind float32 inputs and outputs, so the arrays the
pipeline passes never change; TensorRT additionally gets ``trt_fp16_enable``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError, OptionError
from .base import (FLOW_SCALE_NAMES, NO_GPU, InterpolationBackend, ModelSettings, PreparedPairs, default_batch_size,
                   flow_downscale, resolve_device, resolve_precision)
from .export import cache_dir, default_onnx_model
from .onnx_graph import (FLOW_DOWNSCALE_KEY, GRAPH_VERSION, GRAPH_VERSION_KEY, INPUT_NAMES, OUTPUT_NAME,
                         PAIR_ACCELERATIONS_INPUT, PAIR_FLOWS_INPUT)

logger = logging.getLogger(__name__)

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
# (name, element type, rank) of every input and of the output, as the session reports them.
EXPECTED_INPUTS = (
    ("image0", "tensor(float)", 4),
    ("image1", "tensor(float)", 4),
    ("pair_index", "tensor(int64)", 1),
    ("timesteps", "tensor(float)", 1),
    ("global_shift", "tensor(float)", 2),
)
GLOBAL_SHIFT_INPUT = EXPECTED_INPUTS[4][0]
# v2 graphs (flow_source "classical") take the pairs' DIS flows as a sixth input.
EXPECTED_CLASSICAL_INPUTS = EXPECTED_INPUTS + ((PAIR_FLOWS_INPUT, "tensor(float)", 4),)
# ... and with motion from four frames, the pairs' accelerations as a seventh.
EXPECTED_FOUR_FRAME_INPUTS = EXPECTED_CLASSICAL_INPUTS + ((PAIR_ACCELERATIONS_INPUT, "tensor(float)", 4),)
EXPECTED_OUTPUT = (OUTPUT_NAME, "tensor(float)", 4)
# "/onnxruntime_src/.../model.cc:256 onnxruntime::Model::Model(...) " before the actual reason.
_SOURCE_LOCATION = re.compile(r"^/\S+:\d+ .*?\)\s+(?=[A-Z])")


def gpu_present() -> bool:
    """True when an NVIDIA GPU with a working CUDA runtime is visible (torch ships the runtime)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but the check stays honest
        return False
    return torch.cuda.is_available()


ONNX_PRECISIONS = ("fp32", "fp16")


def resolve_onnx_device(requested: str) -> str:
    """``auto`` -> ``cuda`` with a GPU and onnxruntime's CUDA provider, else ``cpu``
    (:func:`~fpsboost.backends.base.resolve_device`)."""
    if requested == "cpu":
        return "cpu"
    import onnxruntime as ort

    why_not = None
    if not gpu_present():
        why_not = NO_GPU
    elif CUDA not in ort.get_available_providers():
        why_not = ("--device cuda needs onnxruntime-gpu, but this onnxruntime has no CUDA provider "
                   "(pip uninstall onnxruntime && pip install onnxruntime-gpu)")
    return resolve_device(requested, why_not is None, why_not)


def resolve_onnx_precision(precision: str, device: str) -> str:
    return resolve_precision(precision, device, ONNX_PRECISIONS, "onnx")


def provider_list(device: str, precision: str) -> list:
    """Providers to request, best first, each with its options."""
    if device == "cpu":
        return [CPU]
    engine_cache = cache_dir() / "tensorrt"
    engine_cache.mkdir(parents=True, exist_ok=True)
    tensorrt_options = {
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(engine_cache),
        "trt_fp16_enable": precision == "fp16",
    }
    return [(TENSORRT, tensorrt_options), (CUDA, {}), CPU]


def runtime_reason(error: Exception) -> str:
    """The useful end of an onnxruntime load error, without its source-file location."""
    text = " ".join(str(error).split()) or type(error).__name__
    reason = text.rsplit("failed:", 1)[-1].strip()
    return _SOURCE_LOCATION.sub("", reason) or text


def check_signature(session, path: Path) -> None:
    """Raise :class:`ModelError` unless the session has exactly our inputs and output."""
    found_inputs = tuple((arg.name, arg.type, len(arg.shape)) for arg in session.get_inputs())
    outputs = session.get_outputs()
    found_output = tuple((arg.name, arg.type, len(arg.shape)) for arg in outputs[:1])
    # Exports before graph version 4 have no global_shift input (the version check warns about those).
    if found_inputs not in (EXPECTED_FOUR_FRAME_INPUTS, EXPECTED_CLASSICAL_INPUTS, EXPECTED_INPUTS, EXPECTED_INPUTS[:4]) or len(outputs) != 1 or found_output != (EXPECTED_OUTPUT,):
        names = ", ".join(arg.name for arg in session.get_inputs())
        raise ModelError(
            f"{path} is not a fpsboost interpolation model: expected inputs {', '.join(INPUT_NAMES)} "
            f"and output {OUTPUT_NAME}, found inputs {names or 'none'}"
        )


class OnnxBackend(InterpolationBackend):
    """Runs the exported network with onnxruntime."""

    name = "onnx"

    def __init__(self, settings: ModelSettings = ModelSettings(backend="onnx"), cpu_threads: int | None = None) -> None:
        """``cpu_threads``: onnxruntime's intra-op threads on the CPU (None: its default; benchmarks pin it)."""
        import onnxruntime as ort

        self.device = resolve_onnx_device(settings.device)
        self.precision = resolve_onnx_precision(settings.precision, self.device)
        self.default_batch_size = default_batch_size(settings, self.device)
        self.settings = settings
        self.cpu_threads = cpu_threads
        self.flow_scale = settings.flow_scale
        self.fixed_flow_scale = bool(settings.onnx_path)
        self._sessions: dict[int, Any] = {}  # flow downscale -> session (the factor is fixed in each graph)
        # What a session will be asked for; replaced by what it got once one is open.
        self.providers = [name if isinstance(name, str) else name[0] for name in provider_list(self.device, self.precision)]
        self.use_io_binding = False
        if self.device == "cuda" and hasattr(ort, "preload_dlls"):
            # Lets onnxruntime use the CUDA/cuDNN libraries that came with torch's wheels.
            ort.preload_dlls()
        if settings.onnx_path:
            session = self._open(Path(settings.onnx_path))
            baked = int(session.get_modelmeta().custom_metadata_map.get(FLOW_DOWNSCALE_KEY, "1"))
            if baked not in FLOW_SCALE_NAMES:
                raise ModelError(f"{settings.onnx_path}: unknown {FLOW_DOWNSCALE_KEY} {baked} in its metadata")
            if self.flow_scale != "auto" and flow_downscale(self.flow_scale, 1) != baked:
                raise OptionError(f"{settings.onnx_path} estimates flow at 1/{baked} of the frame; export one for "
                                  f"--flow-scale {self.flow_scale} with `fpsboost export --flow-scale {self.flow_scale}`")
            self.flow_scale = FLOW_SCALE_NAMES[baked]
            self._sessions[baked] = session
            self.wants_neighbours = PAIR_ACCELERATIONS_INPUT in {node.name for node in session.get_inputs()}
            graph = session.get_modelmeta().custom_metadata_map.get(GRAPH_VERSION_KEY, "1")
            if graph != str(GRAPH_VERSION):
                logger.warning("%s was exported from an older network graph (%s, now %s): dark scenes may show false "
                               "motion; export it again with `fpsboost export`", settings.onnx_path, graph, GRAPH_VERSION)
        else:
            self.wants_neighbours = _four_frame_weights(settings.weights)
            if self.flow_scale != "auto":
                self._session_for(flow_downscale(self.flow_scale, 1))
        # With ``auto`` and no model file, each frame width's session is made on first use.

    def _session_for(self, factor: int) -> Any:
        """The session whose graph shrinks pairs ``factor`` times for flow (exported on first use)."""
        if factor not in self._sessions:
            if self.fixed_flow_scale:  # never swap the user's graph for one exported from other weights
                raise OptionError(f"{self.settings.onnx_path} estimates flow at one fixed scale ({self.flow_scale}x), "
                                  f"not at 1/{factor}")
            path = default_onnx_model(self.settings.weights, fp16=self.precision == "fp16", flow_downscale=factor)
            self._sessions[factor] = self._open(path)
        return self._sessions[factor]

    def _open(self, path: Path) -> Any:
        import onnxruntime as ort

        if not path.is_file():
            raise ModelError(f"ONNX model not found: {path}")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only; provider fallbacks are reported below
        if self.cpu_threads is not None and self.device == "cpu":
            options.intra_op_num_threads = self.cpu_threads
            options.inter_op_num_threads = 1
        requested = provider_list(self.device, self.precision)
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=requested)
        except Exception as error:  # onnxruntime raises its own untyped-hierarchy errors (InvalidProtobuf, Fail...)
            raise ModelError(f"cannot load ONNX model {path}: {runtime_reason(error)}") from None
        check_signature(session, path)
        self.model_path = path
        self.providers = session.get_providers()
        if self.device == "cuda":
            self._report_missing_providers()
        self.use_io_binding = self.device == "cuda" and CUDA in self.providers
        return session

    def _report_missing_providers(self) -> None:
        if TENSORRT not in self.providers:
            logger.warning("TensorRT is not available to onnxruntime; using %s", self.providers[0])
        if CUDA not in self.providers:
            logger.warning("onnxruntime's CUDA provider could not start (CUDA/cuDNN libraries?); running on the CPU")
            self.device = "cpu"

    def describe(self) -> str:
        scale = "" if self.flow_scale == "auto" else f", flow at {self.flow_scale}x"
        return f"onnx on {self.device} ({self.providers[0]}, {self.precision}{scale})"

    def interpolate(
        self, frames0: np.ndarray, frames1: np.ndarray, pair_index: np.ndarray, timesteps: np.ndarray,
        flow_scale: str | None = None, neighbours: Any = None,
    ) -> np.ndarray:
        return self.complete(self.prepare(frames0, frames1, flow_scale, neighbours), pair_index, timesteps)

    def prepare(self, frames0: np.ndarray, frames1: np.ndarray, flow_scale: str | None = None,
                neighbours: Any = None) -> PreparedPairs:
        factor = flow_downscale(flow_scale or self.flow_scale, frames0.shape[-1])
        session = self._session_for(factor)
        inputs = {node.name for node in session.get_inputs()}
        metadata = session.get_modelmeta().custom_metadata_map
        # A graph given as --model runs at the flow scale it was exported with.
        downscale = int(metadata.get(FLOW_DOWNSCALE_KEY, "1")) if self.fixed_flow_scale else factor
        four_frame = PAIR_ACCELERATIONS_INPUT in inputs
        measured = self.measure(frames0, frames1, PAIR_FLOWS_INPUT in inputs, downscale, neighbours if four_frame else None)
        return PreparedPairs(frames0, frames1, flow_scale, neighbours, measured, factor)

    def complete_measured(self, prepared: PreparedPairs, pair_index: np.ndarray, timesteps: np.ndarray) -> np.ndarray:
        frames0, frames1, measured = prepared.frames0, prepared.frames1, prepared.measured
        session = self._session_for(prepared.downscale)
        inputs = {node.name for node in session.get_inputs()}
        classical, four_frame = PAIR_FLOWS_INPUT in inputs, PAIR_ACCELERATIONS_INPUT in inputs
        feeds = {
            "image0": np.ascontiguousarray(frames0, dtype=np.float32),
            "image1": np.ascontiguousarray(frames1, dtype=np.float32),
            "pair_index": np.ascontiguousarray(pair_index, dtype=np.int64),
            "timesteps": np.ascontiguousarray(timesteps, dtype=np.float32),
        }
        if GLOBAL_SHIFT_INPUT in inputs:  # graphs before version 4 lack it
            feeds[GLOBAL_SHIFT_INPUT] = measured["global_shift"]
        if classical:
            feeds[PAIR_FLOWS_INPUT] = measured["pair_flows"]
        if four_frame:  # zero accelerations: two-frame motion (a caller that has no neighbours)
            feeds[PAIR_ACCELERATIONS_INPUT] = measured.get("pair_accelerations", np.zeros_like(measured["pair_flows"]))
        if not self.use_io_binding:
            return session.run([OUTPUT_NAME], feeds)[0]
        import onnxruntime as ort

        binding = session.io_binding()
        for name, array in feeds.items():
            binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(array, "cuda", 0))
        binding.bind_output(OUTPUT_NAME, "cuda", 0)
        session.run_with_iobinding(binding)
        # One device-to-host copy per batch: the only synchronisation point.
        return binding.copy_outputs_to_cpu()[0]


def _four_frame_weights(weights: str | None) -> bool:
    """Whether the weights the graph will be exported from have motion from four frames."""
    import json

    from ..models.presets import read_metadata
    from .export import default_weights_path

    config = json.loads(read_metadata(weights or default_weights_path()).get("config", "{}"))
    return bool(config.get("four_frame_motion")) and config.get("flow_source") == "classical"


__all__ = ["OnnxBackend", "gpu_present", "resolve_onnx_device"]
