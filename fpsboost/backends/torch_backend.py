"""PyTorch backend: CUDA with half precision and pinned memory where available, else the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..batching import PairNeighbours
from ..models.interpolator import CelFlow
from ..models.presets import load_interpolator
from .base import InterpolationBackend, ModelSettings, PreparedPairs, default_batch_size, flow_downscale, resolve_precision
from .base import resolve_device as resolve_any_device

CPU_QUERY_CHUNK = 4  # in-betweens per synthesizer call on the CPU (see CelFlow.query_chunk)


# The network's dtype per precision; "mixed" is fp32 with the learnt convolution blocks in BLOCK_DTYPES'.
TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "mixed": torch.float32}
BLOCK_DTYPES = {"mixed": torch.bfloat16}


def resolve_device(requested: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu`` (:func:`~fpsboost.backends.base.resolve_device`)."""
    return resolve_any_device(requested, torch.cuda.is_available())


def resolve_torch_precision(precision: str, device: str) -> str:
    """``--precision`` for this backend on ``device`` (:func:`~fpsboost.backends.base.resolve_precision`)."""
    return resolve_precision(precision, device, tuple(TORCH_DTYPES), "torch")


class TorchBackend(InterpolationBackend):
    """Runs :class:`CelFlow` in PyTorch."""

    name = "torch"

    def __init__(self, settings: ModelSettings = ModelSettings(), model: CelFlow | None = None) -> None:
        self.device = resolve_device(settings.device)
        self.precision = resolve_torch_precision(settings.precision, self.device)
        self.dtype = TORCH_DTYPES[self.precision]
        self.default_batch_size = default_batch_size(settings, self.device)
        network = model if model is not None else load_interpolator(settings.weights)
        self.model = network.to(self.device, self.dtype).eval()
        # The dtype of the learnt convolution blocks where it differs from the network's (mixed precision).
        self.block_dtype = BLOCK_DTYPES.get(self.precision)
        if self.block_dtype is not None and not self.model.run_blocks_in(self.block_dtype):
            self.block_dtype = None  # v1 has no such blocks: it runs fp32 throughout
        self.model.query_chunk = CPU_QUERY_CHUNK if self.device == "cpu" else None
        self.flow_scale = settings.flow_scale
        # Named in the summary when it is not the shipped default (e.g. celflow-v2-fast).
        self.weights_name = Path(settings.weights).stem if settings.weights and model is None else None
        flow_downscale(self.flow_scale, 1)  # an unknown value fails here, before any work
        self.wants_neighbours = self.model.config.four_frame_motion

    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if self.device == "cuda":
            tensor = tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.dtype)

    def shared_network(self) -> "TorchBackend | None":
        return self if self.dtype == torch.float32 else None

    def describe(self) -> str:
        scale = "" if self.flow_scale == "auto" else f", flow at {self.flow_scale}x"
        weights = f", {self.weights_name}" if self.weights_name else ""
        dtype = str(self.dtype).removeprefix('torch.')
        if self.block_dtype is not None:
            dtype += f", convolutions in {str(self.block_dtype).removeprefix('torch.')}"
        return f"torch on {self.device} ({dtype}{scale}{weights})"

    def interpolate(
        self, frames0: np.ndarray, frames1: np.ndarray, pair_index: np.ndarray, timesteps: np.ndarray,
        flow_scale: str | None = None, neighbours: PairNeighbours | None = None,
    ) -> np.ndarray:
        return self.complete(self.prepare(frames0, frames1, flow_scale, neighbours), pair_index, timesteps)

    @torch.inference_mode()
    def prepare(self, frames0: np.ndarray, frames1: np.ndarray, flow_scale: str | None = None,
                neighbours: PairNeighbours | None = None) -> PreparedPairs:
        factor = flow_downscale(flow_scale or self.flow_scale, frames0.shape[-1])
        measured = self.measure(frames0, frames1, self.model.classical_flow, factor, neighbours)
        return PreparedPairs(frames0, frames1, flow_scale, neighbours, measured, factor)

    @torch.inference_mode()
    def complete_measured(self, prepared: PreparedPairs, pair_index: np.ndarray, timesteps: np.ndarray) -> np.ndarray:
        frames0, frames1, measured = prepared.frames0, prepared.frames1, prepared.measured
        image0, image1 = self._to_device(frames0), self._to_device(frames1)
        index = torch.from_numpy(np.asarray(pair_index, dtype=np.int64)).to(self.device)
        times = torch.from_numpy(np.asarray(timesteps, dtype=np.float32)).to(self.device, self.dtype)
        self.model.flow_downscale = prepared.downscale  # set here, on the network's thread, not in prepare
        shifts = torch.from_numpy(measured["global_shift"]).to(self.device, self.dtype)
        pair_flows = self._to_device(measured["pair_flows"]) if "pair_flows" in measured else None
        accelerations = self._to_device(measured["pair_accelerations"]) if "pair_accelerations" in measured else None
        output = self.model(image0, image1, index, times, shifts, pair_flows, accelerations)
        # One device-to-host copy per batch: the only synchronisation point.
        return output.float().cpu().numpy()
