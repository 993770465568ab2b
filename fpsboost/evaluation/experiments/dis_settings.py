"""Does a better-tuned DIS give better motion? DIS settings against the medium preset, plain blend.

    fpsboost bench dis-settings --real-dir DIR [--pairs 45] [--triplets 20] [--threads 1]

Every variant warps both frames of a pair to t along linear motion from its two DIS flows and blends
them by ``(1 - t, t)`` (the quality table's DIS baseline, :class:`~fpsboost.evaluation.baselines.DisFlowMethod`,
with only the DIS object changed), on the quality table's held-out synthetic pairs (480x270, t = 0.25,
0.5, 0.75, by motion split) and on held-out bikes and carphone triplets (t = 0.5). Time is the
variants' DIS-and-warp seconds over the medium preset's, measured in the same loop. Writes
``results.json`` and ``RESULTS.md``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from ..baselines import DisFlowMethod
from ..metrics import psnr_u8
from ..report import write_report
from ..speed import limit_threads
from ..test_sets import REAL_CLIPS, SYNTHETIC_SIZE, Triplet, motion_split, real_triplets, synthetic_seeds, synthetic_triplet

REAL_FILES = ("bikes.mp4", "carphone_pristine.mp4")
SLOW_GRADIENT_ITERATIONS = 50  # the medium preset's 25, doubled
SLOW_REFINEMENT_ITERATIONS = 10  # the medium preset's 5, doubled
LARGE_PATCH, LARGE_PATCH_STRIDE = 12, 4  # the medium preset's 8 and 3, larger
# Cheaper than the medium preset (the variational refinement was about 40 % of its time at 854x480).
FEW_REFINEMENT_ITERATIONS = 2
FEW_GRADIENT_ITERATIONS = 12


def _medium() -> Any:
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def _tuned(adjust: Callable[[Any], None]) -> Callable[[], Any]:
    def make() -> Any:
        dis = _medium()
        adjust(dis)
        return dis
    return make


VARIANTS: dict[str, Callable[[], Any]] = {
    "medium (the baseline)": _medium,
    "fast preset": lambda: cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST),
    "medium, finest scale 0 (full resolution)": _tuned(lambda dis: dis.setFinestScale(0)),
    f"medium, {SLOW_REFINEMENT_ITERATIONS} variational refinement iterations":
        _tuned(lambda dis: dis.setVariationalRefinementIterations(SLOW_REFINEMENT_ITERATIONS)),
    f"medium, {SLOW_GRADIENT_ITERATIONS} gradient descent iterations":
        _tuned(lambda dis: dis.setGradientDescentIterations(SLOW_GRADIENT_ITERATIONS)),
    f"medium, {LARGE_PATCH}-px patches every {LARGE_PATCH_STRIDE} px":
        _tuned(lambda dis: (dis.setPatchSize(LARGE_PATCH), dis.setPatchStride(LARGE_PATCH_STRIDE))),
    f"medium, {FEW_REFINEMENT_ITERATIONS} variational refinement iterations":
        _tuned(lambda dis: dis.setVariationalRefinementIterations(FEW_REFINEMENT_ITERATIONS)),
    "medium, no variational refinement": _tuned(lambda dis: dis.setVariationalRefinementIterations(0)),
    f"medium, {FEW_GRADIENT_ITERATIONS} gradient descent iterations":
        _tuned(lambda dis: dis.setGradientDescentIterations(FEW_GRADIENT_ITERATIONS)),
}


@dataclass(frozen=True)
class Settings:
    real_dir: str | None = field(default=None, metadata={"help": "folder with bikes.mp4 and carphone_pristine.mp4"})
    pairs: int = field(default=45, metadata={"help": "held-out synthetic pairs"})
    triplets: int = field(default=20, metadata={"help": "triplets per real clip"})
    threads: int = 1
    out_dir: str = "benchmarks/dis_settings"


def _test_items(settings: Settings) -> list[tuple[tuple[str, ...], Triplet]]:
    """``(sets the item counts in, triplet)`` for every synthetic pair and real triplet."""
    seeds, _ = synthetic_seeds(settings.pairs, *SYNTHETIC_SIZE)
    items = []
    for seed in seeds:
        triplet = synthetic_triplet(seed, *SYNTHETIC_SIZE)
        items.append((("synthetic", f"synthetic {motion_split(triplet.motion)}"), triplet))
    if settings.real_dir is not None:
        for clip in REAL_CLIPS:
            path = Path(settings.real_dir) / clip.filename
            if clip.filename in REAL_FILES and path.is_file():
                items += [((clip.filename,), triplet) for triplet in real_triplets(path, clip, settings.triplets)]
    return items


def run(settings: Settings) -> None:
    limit_threads(settings.threads)
    scores: dict[str, dict[str, list[float]]] = {name: {} for name in VARIANTS}
    seconds = dict.fromkeys(VARIANTS, 0.0)
    for sets, triplet in _test_items(settings):
        timesteps = tuple(triplet.truths)
        for name, make in VARIANTS.items():
            method = DisFlowMethod(make())
            started = time.perf_counter()
            frames = method(triplet.frame0, triplet.frame1, timesteps)
            seconds[name] += time.perf_counter() - started
            for t, frame in zip(timesteps, frames):
                for set_name in sets:
                    scores[name].setdefault(set_name, []).append(psnr_u8(frame, triplet.truths[t]))
    baseline = next(iter(VARIANTS))
    psnr = {name: {set_name: round(float(np.mean(values)), 2) for set_name, values in by_set.items()} for name, by_set in scores.items()}
    time_ratio = {name: round(seconds[name] / seconds[baseline], 2) for name in VARIANTS}
    set_names = list(psnr[baseline])
    lines = ["# DIS settings against the medium preset (plain blend along linear motion)", "",
             "Made by `fpsboost bench dis-settings` (command and commit in results.json). PSNR in dB; time is "
             "DIS and warping over the medium preset's, in the same loop.", "",
             "| DIS | " + " | ".join(set_names) + " | time |", "|---|" + "---:|" * (len(set_names) + 1)]
    for name in VARIANTS:
        lines.append(f"| {name} | " + " | ".join(f"{psnr[name][s]:.2f}" for s in set_names) + f" | {time_ratio[name]:.2f}x |")
    write_report(settings.out_dir, {"settings": asdict(settings), "psnr": psnr, "time_over_medium": time_ratio,
                                    "items": {s: len(scores[baseline][s]) for s in set_names}}, lines)
