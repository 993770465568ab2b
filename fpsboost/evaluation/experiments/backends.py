"""Torch vs onnxruntime on the CPU: network milliseconds per in-between frame.

    fpsboost bench backends [--reps 5]

Both backends run side by side, interleaved (order alternating each repetition), on the same
inputs, so a background job slowing the machine slows both alike; medians over the repetitions
are reported. Writes ``RESULTS.json`` and ``RESULTS.md`` into ``--out-dir``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...backends.base import ModelSettings
from ...backends.export import default_weights_path, export_onnx
from ...backends.onnx_backend import OnnxBackend
from ...backends.torch_backend import TorchBackend
from ...models.interpolator import CelFlow
from ...models.presets import save_weights
from ..report import git_commit, machine_info, write_report

SIZES = {"480p": (480, 854), "720p": (1280 // 16 * 9, 1280)}
FACTORS = (2, 4)  # in-betweens per pair: factor - 1
BATCH_SIZES = (1, 2)
SEED = 0


@dataclass(frozen=True)
class Settings:
    reps: int = 5
    out_dir: str = "benchmarks/backends"


def weights_for_benchmark(scratch: Path) -> tuple[Path, str]:
    """The shipped weights, or untrained ones saved into ``scratch`` (speed does not depend on them); and a note."""
    shipped = default_weights_path()
    if shipped.is_file():
        return shipped, shipped.name
    torch.manual_seed(SEED)
    network = CelFlow()
    path = scratch / "untrained.safetensors"
    save_weights(network, path, network.config.to_dict(), "untrained")
    return path, "untrained CelFlow (seed 0); speed does not depend on the weights"


def time_call(backend: Any, inputs: tuple) -> float:
    """Seconds of one ``backend.interpolate(*inputs)``."""
    start = time.perf_counter()
    backend.interpolate(*inputs)
    return time.perf_counter() - start


def run(settings: Settings) -> None:
    import onnxruntime as ort

    measured_commit = git_commit()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        weights, weights_note = weights_for_benchmark(scratch)
        onnx_path = export_onnx(scratch / "celflow.onnx", weights=weights)
        backends = {
            "torch": TorchBackend(ModelSettings(device="cpu", weights=str(weights))),
            "onnx": OnnxBackend(ModelSettings(backend="onnx", device="cpu", onnx_path=str(onnx_path))),
        }
        rng = np.random.default_rng(SEED)
        rows = []
        for size_name, (height, width) in SIZES.items():
            for factor in FACTORS:
                for pairs in BATCH_SIZES:
                    per_pair = factor - 1
                    inputs = (
                        rng.random((pairs, 3, height, width), dtype=np.float32),
                        rng.random((pairs, 3, height, width), dtype=np.float32),
                        np.repeat(np.arange(pairs, dtype=np.int64), per_pair),
                        np.tile(np.arange(1, factor, dtype=np.float32) / factor, pairs),
                    )
                    queries = pairs * per_pair
                    times = {name: [] for name in backends}
                    for backend in backends.values():  # warm-up: allocators, ORT shape inference
                        backend.interpolate(*inputs)
                    for rep in range(settings.reps):
                        order = list(backends) if rep % 2 == 0 else list(reversed(backends))
                        for name in order:
                            times[name].append(time_call(backends[name], inputs) * 1000 / queries)
                    row = {
                        "size": size_name, "height": height, "width": width, "factor": factor,
                        "batch_pairs": pairs, "inbetweens_per_call": queries,
                        **{f"{name}_ms_per_inbetween": round(statistics.median(t), 1) for name, t in times.items()},
                        **{f"{name}_all_ms": [round(x, 1) for x in t] for name, t in times.items()},
                    }
                    row["onnx_over_torch"] = round(row["onnx_ms_per_inbetween"] / row["torch_ms_per_inbetween"], 3)
                    # Each repetition runs both back to back, so its ratio shares the machine's load.
                    paired = [o / t for o, t in zip(times["onnx"], times["torch"])]
                    row["onnx_over_torch_paired_median"] = round(statistics.median(paired), 3)
                    rows.append(row)
                    print(f"{size_name} x{factor} P={pairs}: torch {row['torch_ms_per_inbetween']} ms, "
                          f"onnx {row['onnx_ms_per_inbetween']} ms per in-between (ratio {row['onnx_over_torch']}, "
                          f"paired {row['onnx_over_torch_paired_median']})",
                          flush=True)
    machine = machine_info("cpu")
    result = {
        "commit": measured_commit, "machine": machine,
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "onnxruntime": ort.__version__, "onnx_provider": "CPUExecutionProvider",
        "weights": weights_note, "repetitions": settings.reps, "statistic": "median ms per in-between frame",
        "rows": rows,
    }
    lines = [
        "# torch vs onnxruntime on the CPU",
        "",
        f"Commit {result['commit']}; {machine['cpu']}, {machine['cores']} CPU cores; load average at start "
        f"{machine['load_average_start']}. torch {result['torch']} ({result['torch_threads']} threads), "
        f"onnxruntime {result['onnxruntime']} (CPUExecutionProvider). Weights: {weights_note}.",
        f"Network time only (numpy in, numpy out), median of {settings.reps} interleaved repetitions, "
        "in milliseconds per in-between frame. Factor 2 = 1 timestep per pair, factor 4 = 3 per pair; "
        "batch = pairs per call.",
        "",
        "| size | factor | batch | torch ms | onnx ms | onnx/torch (medians) | onnx/torch (median of paired runs) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {row['size']} ({row['width']}x{row['height']}) | {row['factor']} | {row['batch_pairs']} | "
                     f"{row['torch_ms_per_inbetween']} | {row['onnx_ms_per_inbetween']} | {row['onnx_over_torch']} | "
                     f"{row['onnx_over_torch_paired_median']} |")
    lines += ["", "Reproduce: `fpsboost bench backends --reps 5`"]
    write_report(settings.out_dir, result, lines, json_name="RESULTS.json")
