"""Should the tail and ``fpsboost extrapolate`` continue motion with its acceleration, now that v2's
motion is DIS? Constant speed (the default) against the measured acceleration at a few gains.

    fpsboost bench extrapolation-acceleration [--gains 0,0.25,0.5] [--out-dir benchmarks/v2/extrapolation]

The same held-out sets as the extrapolation benchmark: 16 synthetic CelScene sequences (160x160,
seeds from 10,500,000; context t-2, t-1, t) and 6 windows of bikes' held-out last fifth; PSNR at
t+1..t+8 for :class:`~fpsboost.models.extrapolator.FlowContinuation` over the shipped v2's DIS
motion with ``acceleration_gain`` g (0: constant speed; 1 would be the full quadratic). Writes
``acceleration.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...data.datasets import load_video_frames
from ...data.real import REAL_TRAIN_FRACTION
from ...extrapolation import Extrapolator
from ...models.extrapolator import load_flow_continuation
from ...training.extrapolator import BENCHMARK_SEED_BASE, heldout_sequence
from ..report import write_report

STEPS = tuple(float(k) for k in range(1, 9))
CONTEXT = 3


@dataclass(frozen=True)
class Settings:
    gains: str = "0,0.25,0.5"
    real_video: str = "/work/data/real/bikes.mp4"
    threads: int = 2
    out_dir: str = "benchmarks/v2/extrapolation"


def psnr(prediction: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of two ``[3,H,W]`` float frames in [0,1], rounded to 8 bits first."""
    a, b = ((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8).astype(np.float64) for image in (prediction, truth))
    return float(10 * np.log10(255.0 ** 2 / max(np.mean((a - b) ** 2), 1e-10)))


def windows_synthetic(count: int, size: int) -> list:
    """Context and truth (t+1..t+8) of ``count`` held-out CelScene sequences."""
    samples = [heldout_sequence(BENCHMARK_SEED_BASE + i, size, STEPS) for i in range(count)]
    return [([f.numpy() for f in s.context], [f.numpy() for f in s.targets]) for s in samples]


def windows_real(path: str, count: int) -> list:
    """Context and truth (t+1..t+8) of ``count`` windows in the clip's held-out last fifth."""
    frames = load_video_frames(path)
    first = int(len(frames) * REAL_TRAIN_FRACTION)
    lasts = np.linspace(first + CONTEXT - 1, len(frames) - 1 - len(STEPS), count).round().astype(int)
    chw = lambda index: frames[index].transpose(2, 0, 1).astype(np.float32) / 255  # noqa: E731
    return [([chw(last - CONTEXT + 1 + i) for i in range(CONTEXT)], [chw(last + int(k)) for k in STEPS]) for last in lasts]


def run(settings: Settings) -> None:
    torch.set_num_threads(settings.threads)
    sets = {"synthetic (16)": windows_synthetic(16, 160)}
    if Path(settings.real_video).is_file():
        sets["bikes held-out (6)"] = windows_real(settings.real_video, 6)
    results: dict = {}
    for gain in (float(g) for g in settings.gains.split(",")):
        extrapolator = Extrapolator(model=load_flow_continuation(acceleration_gain=gain), device="cpu")
        for name, windows in sets.items():
            scores = np.mean([[psnr(p, t) for p, t in zip(extrapolator.predict(context, STEPS), targets)]
                              for context, targets in windows], axis=0)
            results.setdefault(name, {})[f"gain {gain:g}"] = [round(float(v), 2) for v in scores]
            print(name, f"gain {gain:g}", " ".join(f"{v:.2f}" for v in scores), flush=True)
    write_report(settings.out_dir, {"steps": STEPS, "results": results}, [], json_name="acceleration.json", markdown_name=None)
