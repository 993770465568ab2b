"""v1 against v2: network time per in-between, side by side in one run (interleaved rounds).

    fpsboost bench v2-speed --v2 weights/celflow-v2.safetensors [--threads 1] [--rounds 7]

Each round times, for each network in turn, one torch-backend call at 854x480 with two pairs and one
in-between each (``--factor 2``), on held-out synthetic content (a CelScene, so DIS sees a real
picture); everything the backend does per pair is inside: the translation measurement, v2's DIS
flows, the network. Prints the median ms per in-between and the ratio; writes ``speed.json``.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...backends import ModelSettings, create_backend
from ...data.celgen import CelScene
from ...models.presets import weights_dir
from ..report import write_report
from ..speed import limit_threads

WIDTH, HEIGHT = 854, 480
CONTENT_SEED = 10_300_000  # held out: >= VALIDATION_SEED_BASE, as fpsboost bench's content
PAIRS = 2


@dataclass(frozen=True)
class Settings:
    v2: str = field(default=str(weights_dir() / "celflow-v2.safetensors"), metadata={"help": "v2 weights"})
    v1: str = field(default=str(weights_dir() / "celflow-s-v1.safetensors"), metadata={"help": "v1 weights"})
    threads: int = 1
    rounds: int = field(default=7, metadata={"help": "timed rounds per network"})
    out_dir: str = "benchmarks/v2"


def run(settings: Settings) -> None:
    limit_threads(settings.threads)
    scene = CelScene(CONTENT_SEED, HEIGHT, WIDTH)
    frames = np.stack([scene.render(float(i)).numpy() for i in range(PAIRS + 1)])
    frames0, frames1 = frames[:-1], frames[1:]
    pair_index, timesteps = np.arange(PAIRS, dtype=np.int64), np.full(PAIRS, 0.5, np.float32)
    backends = {name: create_backend(ModelSettings(backend="torch", device="cpu", precision="fp32", weights=path, batch_size=PAIRS))
                for name, path in (("v1", settings.v1), ("v2", settings.v2))}
    times: dict[str, list[float]] = {name: [] for name in backends}
    for backend in backends.values():  # warm-up
        backend.interpolate(frames0, frames1, pair_index, timesteps)
    for _ in range(settings.rounds):
        for name, backend in backends.items():
            started = time.perf_counter()
            backend.interpolate(frames0, frames1, pair_index, timesteps)
            times[name].append((time.perf_counter() - started) * 1000 / PAIRS)
    medians = {name: round(statistics.median(values), 1) for name, values in times.items()}
    report = {"threads": settings.threads, "size": [WIDTH, HEIGHT], "pairs_per_call": PAIRS,
              "rounds": settings.rounds, "ms_per_inbetween_median": medians,
              "ms_per_inbetween_all": {name: [round(v, 1) for v in values] for name, values in times.items()},
              "v2_over_v1": round(medians["v2"] / medians["v1"], 3)}
    write_report(Path(settings.out_dir), report, [json.dumps(report, indent=1)], json_name="speed.json", markdown_name=None)
