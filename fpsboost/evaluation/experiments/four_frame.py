"""Motion from four frames: does the acceleration candidate help? Held-out synthetic and real.

    fpsboost bench four-frame --four-frame weights/celflow-v2.safetensors \
        [--v2 weights/celflow-v2-two-frame.safetensors] [--real-dir /work/data/real] [--windows 40]

Each test item is a pair, its true in-between and the frame before and after the pair:
* synthetic: held-out CelScene seeds (validation_set with neighbours, 192 px, t = 0.25, 0.5, 0.75),
  and the same seeds on the large-motion canvas (2x);
* real: 5-frame windows of the held-out last fifth of Big Buck Bunny and of bikes (frames 1 and 3
  are the pair, 2 the truth at t = 0.5, 0 and 4 the neighbours half a pair interval away), 640 px
  wide, windows across cuts left out.
Scored (PSNR, dB) for: the shipped v2; the four-frame network with the accelerations DIS measures
from the neighbours; and the same network without them (two-frame motion). Writes
``results.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ...data.datasets import validation_set
from ...data.real import fetch_big_buck_bunny, heldout_windows
from ...models.classical_flow import classical_accelerations, classical_pair_flows
from ...models.presets import load_interpolator, weights_dir
from ..report import write_report

if TYPE_CHECKING:
    from ...models.interpolator import CelFlow

TIMESTEPS = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class Settings:
    four_frame: str = field(default=str(weights_dir() / "celflow-v2.safetensors"), metadata={"help": "the four-frame network"})
    v2: str = field(default=str(weights_dir() / "celflow-v2-two-frame.safetensors"), metadata={"help": "the two-frame v2"})
    real_dir: str = "/work/data/real"
    synthetic: int = 48
    windows: int = 40
    threads: int = 2
    out_dir: str = "benchmarks/v2/four_frame"


def psnr(prediction: torch.Tensor, truth: torch.Tensor) -> float:
    """PSNR in dB of a float frame in [0,1] (clamped) against the truth."""
    error = ((prediction.clamp(0, 1) - truth) ** 2).mean().item()
    return 10 * np.log10(1.0 / max(error, 1e-10))


def items_synthetic(count: int, canvas_scale: float) -> list[tuple]:
    """Held-out synthetic items: (frame0, frame1, truths, timesteps, before, after, neighbour distance)."""
    return [(s.image0, s.image1, s.targets, s.timesteps, s.before, s.after, 1.0)
            for s in validation_set(count, 192, TIMESTEPS, canvas_scale=canvas_scale, neighbours=True)]


def items_real(path: Path, windows: int) -> list[tuple]:
    """Items from 5-frame windows of the clip's held-out last fifth, as :func:`items_synthetic`'s."""
    items = []
    for window in heldout_windows(path, 0.8, windows, length=5, max_width=640):
        frames = torch.from_numpy(np.ascontiguousarray(window)).permute(0, 3, 1, 2).float() / 255
        items.append((frames[1], frames[3], frames[2:3], torch.tensor([0.5]), frames[0], frames[4], 0.5))
    return items


@torch.no_grad()
def score(items: list[tuple], v2: CelFlow, four_frame: CelFlow) -> dict[str, float]:
    """Mean PSNR of v2, the four-frame network and the four-frame network without accelerations."""
    totals: dict[str, list[float]] = {"v2": [], "four-frame": [], "four-frame without accelerations": []}
    for image0, image1, targets, times, before, after, distance in items:
        a, b = image0[None], image1[None]
        flows = classical_pair_flows(a, b)
        accelerations = classical_accelerations(flows, a, b, before[None], after[None], distance, distance)
        index = torch.zeros(len(times), dtype=torch.long)
        outputs = {
            "v2": v2(a, b, index, times, pair_flows=flows),
            "four-frame": four_frame(a, b, index, times, pair_flows=flows, pair_accelerations=accelerations),
            "four-frame without accelerations": four_frame(a, b, index, times, pair_flows=flows),
        }
        for name, frames in outputs.items():
            totals[name] += [psnr(frame, target) for frame, target in zip(frames, targets)]
    return {name: round(float(np.mean(values)), 3) for name, values in totals.items()} | {"items": len(items)}


def run(settings: Settings) -> None:
    torch.set_num_threads(settings.threads)
    v2, four_frame = load_interpolator(settings.v2), load_interpolator(settings.four_frame)
    results = {"four_frame_weights": settings.four_frame, "v2_weights": settings.v2}
    results["synthetic"] = score(items_synthetic(settings.synthetic, 1.0), v2, four_frame)
    results["synthetic large motion (2x canvas)"] = score(items_synthetic(settings.synthetic // 2, 2.0), v2, four_frame)
    results["Big Buck Bunny held-out fifth"] = score(items_real(fetch_big_buck_bunny(), settings.windows), v2, four_frame)
    bikes = Path(settings.real_dir) / "bikes.mp4"
    if bikes.is_file():
        results["bikes held-out fifth"] = score(items_real(bikes, settings.windows), v2, four_frame)
    write_report(settings.out_dir, results, [json.dumps(results, indent=1)], markdown_name=None)
