"""Export the interpolation network to ONNX, and find (or make) the ONNX model a backend runs.

The exported graph has the same contract as :class:`~fpsboost.models.interpolator.CelFlow`:

    inputs   image0, image1  [P,3,H,W] float32 RGB in [0,1]
             pair_index      [Q] int64 in [0,P)
             timesteps       [Q] float32 in (0,1)
    output   frames          [Q,3,H,W] float32 RGB in [0,1]

P, Q, H and W are all dynamic; the graph pads to the network's stride internally and crops back,
so any frame size works. ``--fp16`` stores a half-precision network but keeps float32 inputs and
outputs (casts inside the graph), so callers never change their arrays.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import click
import torch

from .. import __version__
from ..errors import ModelError, OptionError
from ..models.interpolator import CelFlow
from ..models.presets import DEFAULT_INTERPOLATOR_WEIGHTS, find_weights, load_interpolator, read_metadata, weights_dir
from .onnx_graph import (DEFAULT_ONNX_NAME, DEFAULT_OPSET, FLOW_DOWNSCALE_KEY, FLOW_SOURCE_KEY, GRAPH_VERSION, GRAPH_VERSION_KEY,
                         INPUT_LAYOUT, NETWORK_STRIDE_KEY, OUTPUT_NAME, PAIR_ACCELERATIONS_INPUT, PAIR_FLOWS_INPUT, PRECISION_KEY,
                         UNTRAINED_VERSION, VALUE_RANGE, WEIGHTS_HASH_KEY, check_opset, input_names)

CACHE_ENV = "FPSBOOST_CACHE_DIR"
HASH_CHUNK_BYTES = 1 << 20

# The trace runs the network once on a sample of this size; every axis is exported as dynamic, and
# P != Q so the exporter cannot mistake one for the other.
SAMPLE_PAIRS = 2
SAMPLE_QUERIES = 3
SAMPLE_HEIGHT = 64
SAMPLE_WIDTH = 96

DYNAMIC_AXES = {
    "image0": {0: "pairs", 2: "height", 3: "width"},
    "image1": {0: "pairs", 2: "height", 3: "width"},
    "pair_index": {0: "queries"},
    "timesteps": {0: "queries"},
    "global_shift": {0: "pairs"},
    PAIR_FLOWS_INPUT: {0: "pairs", 2: "height", 3: "width"},
    PAIR_ACCELERATIONS_INPUT: {0: "pairs", 2: "height", 3: "width"},
    OUTPUT_NAME: {0: "queries", 2: "height", 3: "width"},
}


@dataclass(frozen=True)
class ExportSettings:
    """What ``fpsboost export`` writes: ``weights`` None means the shipped safetensors file."""

    out: str = DEFAULT_ONNX_NAME
    opset: int = DEFAULT_OPSET
    fp16: bool = False
    weights: str | None = None
    flow_scale: str = "1"


class HalfPrecision(torch.nn.Module):
    """Runs a network in float16 behind float32 inputs and outputs (integer inputs pass through)."""

    def __init__(self, network: CelFlow) -> None:
        super().__init__()
        self.network = network.half()

    def forward(
        self, image0: torch.Tensor, image1: torch.Tensor, pair_index: torch.Tensor, timesteps: torch.Tensor,
        global_shift: torch.Tensor, pair_flows: torch.Tensor | None = None, pair_accelerations: torch.Tensor | None = None,
    ) -> torch.Tensor:
        flows = pair_flows.half() if pair_flows is not None else None
        accelerations = pair_accelerations.half() if pair_accelerations is not None else None
        return self.network(image0.half(), image1.half(), pair_index, timesteps.half(), global_shift.half(), flows,
                            accelerations).float()


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_weights_path() -> Path:
    return weights_dir() / DEFAULT_INTERPOLATOR_WEIGHTS


def export_onnx(
    out: str | os.PathLike,
    weights: str | os.PathLike | None = None,
    opset: int = DEFAULT_OPSET,
    fp16: bool = False,
    model: CelFlow | None = None,
    flow_downscale: int = 1,
) -> Path:
    """Write the network as ONNX to ``out`` (atomically) and return the path.

    ``model`` exports an in-memory network instead of loading ``weights`` (None: the shipped file).
    ``flow_downscale`` (1, 2, 4) is fixed in the graph. The file's metadata records the fpsboost
    and model versions, the I/O layout, the padding multiple, the opset, the precision, the flow
    downscale and the SHA-256 of the weights it came from.
    """
    import onnx

    check_opset(opset)
    out = Path(out)
    if model is None:
        weights_path = find_weights(weights) if weights else default_weights_path()
        network = load_interpolator(weights_path)
        model_version = read_metadata(weights_path).get("version", "unknown")
        weights_hash = file_sha256(weights_path)
    else:
        network, model_version, weights_hash = model, UNTRAINED_VERSION, ""
    stride = network.config.stride * flow_downscale
    copy = _copy_of(network)
    copy.flow_downscale = flow_downscale
    exported: torch.nn.Module = HalfPrecision(copy) if fp16 else copy

    generator = torch.Generator().manual_seed(0)
    sample = (
        torch.rand(SAMPLE_PAIRS, 3, SAMPLE_HEIGHT, SAMPLE_WIDTH, generator=generator),
        torch.rand(SAMPLE_PAIRS, 3, SAMPLE_HEIGHT, SAMPLE_WIDTH, generator=generator),
        torch.arange(SAMPLE_QUERIES, dtype=torch.int64) % SAMPLE_PAIRS,
        torch.linspace(0.25, 0.75, SAMPLE_QUERIES),
        torch.tensor([[1.5, -0.5], [0.0, 2.0]]),  # SAMPLE_PAIRS dominant translations
    )
    four_frame = network.classical_flow and network.config.four_frame_motion
    if network.classical_flow:  # v2: the pairs' DIS flows are an input (DIS is no torch operation)
        sample += (torch.randn(SAMPLE_PAIRS, 4, SAMPLE_HEIGHT, SAMPLE_WIDTH, generator=generator),)
    if four_frame:  # and so are the accelerations made from the neighbouring pairs' flows
        sample += (torch.randn(SAMPLE_PAIRS, 4, SAMPLE_HEIGHT, SAMPLE_WIDTH, generator=generator),)
    names = input_names(network.classical_flow, four_frame)
    if not out.parent.exists():
        raise OptionError(f"cannot write {out}: folder {out.parent} does not exist")
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".fpsboost-export-") as scratch:
        traced = Path(scratch) / out.name
        with warnings.catch_warnings(), torch.no_grad():
            # The legacy (TorchScript) exporter is the one that keeps grid_sample's H and W dynamic.
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            # backward_warp guards a 1-pixel-wide image with max(size - 1, 1); padded sizes are always
            # >= the stride, so the branch the tracer records is the one every input takes.
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            torch.onnx.export(
                exported,
                sample,
                str(traced),
                opset_version=opset,
                dynamo=False,
                input_names=list(names),
                output_names=[OUTPUT_NAME],
                dynamic_axes={name: axes for name, axes in DYNAMIC_AXES.items() if name in names or name == OUTPUT_NAME},
            )
        proto = onnx.load(str(traced))
        metadata = {
            "fpsboost_version": __version__,
            "model_version": model_version,
            "input_layout": INPUT_LAYOUT,
            "value_range": VALUE_RANGE,
            "padding_multiple": str(stride),
            "padding": "internal: any height and width work, the graph pads and crops",
            "opset": str(opset),
            PRECISION_KEY: "fp16 (float32 inputs and outputs)" if fp16 else "fp32",
            WEIGHTS_HASH_KEY: weights_hash,
            FLOW_DOWNSCALE_KEY: str(flow_downscale),
            GRAPH_VERSION_KEY: str(GRAPH_VERSION),
            FLOW_SOURCE_KEY: network.config.flow_source,
            NETWORK_STRIDE_KEY: str(network.config.stride),
        }
        onnx.helper.set_model_props(proto, metadata)
        proto.doc_string = f"fpsboost CelFlow frame interpolation: ({', '.join(names)}) -> frames"
        onnx.save(proto, str(traced))
        onnx.checker.check_model(str(traced))
        os.replace(traced, out)
    return out


def _copy_of(network: CelFlow) -> CelFlow:
    """A separate copy in eval mode, so exporting leaves the caller's network (mode, dtype) alone."""
    clone = CelFlow(network.config)
    clone.load_state_dict(network.state_dict())
    return clone.eval()


def cache_dir() -> Path:
    """``$FPSBOOST_CACHE_DIR``, else ``$XDG_CACHE_HOME/fpsboost``, else ``~/.cache/fpsboost``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "fpsboost"


def onnx_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file, without loading its weights."""
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # onnx raises DecodeError, OSError, ValueError... for a bad file
        raise ModelError(f"cannot read ONNX model {path}: {type(error).__name__}") from None
    return {prop.key: prop.value for prop in proto.metadata_props}


def default_onnx_model(weights: str | os.PathLike | None = None, fp16: bool = False, flow_downscale: int = 1) -> Path:
    """The ONNX file to run when the user gave no ``--model``.

    The shipped ``weights/celflow-v2.onnx`` (fp32, flow at full resolution) when it was exported
    from the weights in use by this :data:`GRAPH_VERSION`; otherwise an export of those weights in
    the cache directory, keyed by their SHA-256, the graph version, precision and flow downscale
    and made on first use (the user is told once).
    """
    weights_path = Path(weights) if weights else default_weights_path()
    if not weights_path.is_file():
        raise ModelError(f"weights file not found: {weights_path}")
    weights_hash = file_sha256(weights_path)
    shipped = weights_dir() / DEFAULT_ONNX_NAME
    if not fp16 and flow_downscale == 1 and shipped.is_file():
        metadata = onnx_metadata(shipped)
        if metadata.get(WEIGHTS_HASH_KEY) == weights_hash and metadata.get(GRAPH_VERSION_KEY) == str(GRAPH_VERSION):
            return shipped
    precision = "fp16" if fp16 else "fp32"
    flow = "" if flow_downscale == 1 else f"-flow{flow_downscale}"
    cached = cache_dir() / "onnx" / f"{weights_path.stem}-{weights_hash[:16]}-g{GRAPH_VERSION}-{precision}{flow}-opset{DEFAULT_OPSET}.onnx"
    if not cached.is_file():
        click.echo(f"fpsboost: exporting {weights_path.name} to ONNX once, cached at {cached}", err=True)
        cached.parent.mkdir(parents=True, exist_ok=True)
        export_onnx(cached, weights=weights_path, fp16=fp16, flow_downscale=flow_downscale)
    return cached
