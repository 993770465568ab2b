"""v1 against v2: network time per in-between, side by side in one run (interleaved rounds).

    .venv/bin/python benchmarks/v2/speed.py --v2 weights/celflow-v2.safetensors [--threads 1] [--rounds 7]

Each round times, for each network in turn, one torch-backend call at 854x480 with two pairs and one
in-between each (``--factor 2``), on held-out synthetic content (a CelScene, so DIS sees a real
picture); everything the backend does per pair is inside: the translation measurement, v2's DIS
flows, the network. Prints the median ms per in-between and the ratio; writes speed.json beside
this script.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fpsboost.backends import ModelSettings, create_backend  # noqa: E402
from fpsboost.data.celgen import CelScene  # noqa: E402
from fpsboost.evaluate import git_commit  # noqa: E402

WIDTH, HEIGHT = 854, 480
CONTENT_SEED = 10_300_000  # held out: >= VALIDATION_SEED_BASE, as fpsboost bench's content
PAIRS = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--v2", required=True)
    parser.add_argument("--v1", default=str(ROOT / "weights" / "celflow-s-v1.safetensors"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", default=str(Path(__file__).parent / "speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    scene = CelScene(CONTENT_SEED, HEIGHT, WIDTH)
    frames = np.stack([scene.render(float(i)).numpy() for i in range(PAIRS + 1)])
    frames0, frames1 = frames[:-1], frames[1:]
    pair_index, timesteps = np.arange(PAIRS, dtype=np.int64), np.full(PAIRS, 0.5, np.float32)
    backends = {name: create_backend(ModelSettings(backend="torch", device="cpu", precision="fp32", weights=path, batch_size=PAIRS))
                for name, path in (("v1", args.v1), ("v2", args.v2))}
    times: dict[str, list[float]] = {name: [] for name in backends}
    for backend in backends.values():  # warm-up
        backend.interpolate(frames0, frames1, pair_index, timesteps)
    for _ in range(args.rounds):
        for name, backend in backends.items():
            started = time.perf_counter()
            backend.interpolate(frames0, frames1, pair_index, timesteps)
            times[name].append((time.perf_counter() - started) * 1000 / PAIRS)
    medians = {name: round(statistics.median(values), 1) for name, values in times.items()}
    report = {"commit": git_commit(), "threads": args.threads, "size": [WIDTH, HEIGHT], "pairs_per_call": PAIRS,
              "rounds": args.rounds, "ms_per_inbetween_median": medians,
              "ms_per_inbetween_all": {name: [round(v, 1) for v in values] for name, values in times.items()},
              "v2_over_v1": round(medians["v2"] / medians["v1"], 3)}
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
