"""Sets for choosing a rule's constants without touching the test sets (:mod:`fpsboost.evaluation.test_sets`).

- synthetic scenes at the quality table's 480x270, ``per_split`` per motion split, scanned from a seed
  range of their own (:data:`SELECTION_SEED_OFFSET`; the test set's starts 100,000 seeds lower),
  t = 0.25 / 0.5 / 0.75, with their neighbours one interval either side;
- five-frame windows from the *training* parts (first 80 %) of bikes.mp4 and the film (shrunk to
  :data:`FILM_WIDTH`), t = 0.5 with the neighbours half an interval away, as the quality table's.

The experiments that choose with them (``fpsboost bench splat-rule``, ``fpsboost bench dis-hypotheses``)
also score the training's own validation scenes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .metrics import psnr_u8
from .test_sets import BBB_FILENAME, MOTION_SPLITS, SYNTHETIC_SIZE, Triplet, motion_split, scene_motion, synthetic_triplet

SELECTION_SEED_OFFSET = 200_000  # from VALIDATION_SEED_BASE; the quality table's test set scans from 100,000
TRAINING_PART = 0.8  # the first 80 % of a clip is what training reads (the rest is held out)
FILM_WIDTH = 640  # the film's windows are shrunk to this width (1280x720 costs 4x the time)
SCAN_PER_SCENE = 100  # seeds scanned per scene wanted while filling the motion splits
VALIDATION_SIZE, WIDE_CANVAS = 192, 1.5  # the training's validation scenes, as fpsboost train validates

Items = list[tuple[str, Triplet]]  # (motion split, or "all" for real footage; triplet)


def selection_scenes(per_split: int) -> Items:
    """Synthetic scenes outside the test set, ``per_split`` of each motion split."""
    from ..data.datasets import VALIDATION_SEED_BASE

    wanted = dict.fromkeys(MOTION_SPLITS, per_split)
    chosen: Items = []
    if per_split <= 0:
        return chosen
    first = VALIDATION_SEED_BASE + SELECTION_SEED_OFFSET
    for seed in range(first, first + SCAN_PER_SCENE * per_split * len(MOTION_SPLITS)):
        split = motion_split(scene_motion(seed, *SYNTHETIC_SIZE))
        if wanted[split]:
            wanted[split] -= 1
            chosen.append((split, synthetic_triplet(seed, *SYNTHETIC_SIZE)))
        if not any(wanted.values()):
            break
    return chosen


def training_windows(path: Path, count: int, max_width: int | None = None) -> list[Triplet]:
    """Up to ``count`` evenly spaced five-frame windows from the training part of a clip (none across a cut)."""
    import av

    from ..data.real import _frame_count, read_windows, spans_cut

    if count <= 0:
        return []
    with av.open(str(path)) as container:
        total = _frame_count(container)
    starts = np.unique(np.linspace(0, int(total * TRAINING_PART) - 5, 2 * count).round().astype(int)).tolist()
    windows = read_windows(path, starts, 5, max_width)
    kept = [start for start in starts if start in windows and not spans_cut(windows[start])][:count]
    return [Triplet(windows[s][1], windows[s][3], {0.5: windows[s][2]}, before=windows[s][0], after=windows[s][4], distance=0.5)
            for s in kept]


def film_path(real_dir: str | None) -> Path | None:
    """The whole film (``bbb.mp4``) in ``real_dir`` or the data cache, if it is there."""
    from ..data.real import data_cache_dir

    for folder in ([Path(real_dir)] if real_dir else []) + [data_cache_dir()]:
        if (folder / BBB_FILENAME).is_file():
            return folder / BBB_FILENAME
    return None


def selection_sets(real_dir: str | None, per_split: int, windows: int) -> dict[str, Items]:
    """The synthetic scenes, and the real windows whose clips are found (bikes in ``real_dir``, the film there or cached)."""
    sets: dict[str, Items] = {"synthetic": selection_scenes(per_split)}
    if real_dir and (Path(real_dir) / "bikes.mp4").is_file():
        sets["bikes, first 80 %"] = [("all", t) for t in training_windows(Path(real_dir) / "bikes.mp4", windows)]
    film = film_path(real_dir)
    if film is not None:
        sets["film, first 80 %"] = [("all", t) for t in training_windows(film, windows, FILM_WIDTH)]
    return {name: items for name, items in sets.items() if items}


def score(method: Any, sets: dict[str, Items]) -> dict[str, float]:
    """Mean PSNR of ``method`` (a :class:`~fpsboost.evaluation.baselines.NetworkMethod`) per set and per
    synthetic motion split, each pair's in-betweens averaged first."""
    scores: dict[str, list[float]] = {}
    for set_name, items in sets.items():
        for split, triplet in items:
            frames = method(triplet.frame0, triplet.frame1, tuple(triplet.truths), before=triplet.before,
                            after=triplet.after, distance=triplet.distance)
            value = float(np.mean([psnr_u8(frame, triplet.truths[t]) for frame, t in zip(frames, triplet.truths)]))
            scores.setdefault(set_name, []).append(value)
            if split != "all":
                scores.setdefault(f"{set_name} {split}", []).append(value)
    return {key: round(float(np.mean(values)), 3) for key, values in scores.items()}


def ordered_columns(row: dict[str, float]) -> list[str]:
    """A row's keys for a table: synthetic, its splits in order, then the rest as they came."""
    synthetic = [key for key in ["synthetic"] + [f"synthetic {split}" for split in MOTION_SPLITS] if key in row]
    return synthetic + [key for key in row if not key.startswith("synthetic")]


@dataclass(frozen=True)
class SelectionSettings:
    """What an experiment that chooses on these sets measures (each sets its own ``out_dir``)."""

    real_dir: str | None = field(default=None, metadata={"help": "folder with bikes.mp4 (the film: here or in the data cache)"})
    weights: str | None = field(default=None, metadata={"help": "weights to measure (default: the shipped model)"})
    per_split: int = field(default=10, metadata={"help": "synthetic scenes per motion split"})
    windows: int = field(default=20, metadata={"help": "windows per real clip"})
    validation_scenes: int = field(default=48, metadata={"help": "the training's validation scenes (48 as it validates)"})
    threads: int = 2
    out_dir: str = ""


def score_variants(settings: SelectionSettings, variants: list[tuple[str, Callable[[Any], None]]], restore: Callable[[], None]
                   ) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """PSNR per set for each ``(name, apply)`` variant, ``apply(network)`` setting it up, on the selection
    sets and the training's validation scenes (at 192 px and on a 1.5x canvas), and the sets' sizes;
    ``restore()`` puts back what the variants change, however the measuring ends."""
    import torch

    from ..data.datasets import validation_set
    from ..training.interpolator import validate
    from .baselines import NetworkMethod

    sets = selection_sets(settings.real_dir, settings.per_split, settings.windows)
    count = settings.validation_scenes
    validation = {"validation 192 px": validation_set(count, VALIDATION_SIZE, neighbours=True),
                  "validation 1.5x canvas": validation_set(count, VALIDATION_SIZE, canvas_scale=WIDE_CANVAS, neighbours=True)}
    method = NetworkMethod(settings.weights)
    network = method.backend.model
    psnr: dict[str, dict[str, float]] = {}
    try:
        for name, apply in variants:
            apply(network)
            psnr[name] = score(method, sets)
            psnr[name].update({key: round(validate(network, samples, torch.device("cpu"))["psnr"], 3) for key, samples in validation.items()})
            network.eval()  # validate leaves the network in training mode
    finally:
        restore()
    return psnr, {name: len(items) for name, items in sets.items()}


def table(title: str, command: str, psnr: dict[str, dict[str, float]]) -> list[str]:
    """An experiment's RESULTS.md lines: a row per variant, a column per set."""
    columns = ordered_columns(next(iter(psnr.values())))
    lines = [f"# {title}", "", f"Made by `{command}` (command and commit in results.json). PSNR dB of the network "
             "with each variant; the sets are described in `fpsboost/evaluation/selection_sets.py`.", "",
             "| variant | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    return lines + [f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |" for name, row in psnr.items()]
