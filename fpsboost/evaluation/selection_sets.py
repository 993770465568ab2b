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

from pathlib import Path
from typing import Any

import numpy as np

from .metrics import psnr_u8
from .test_sets import BBB_FILENAME, MOTION_SPLITS, SYNTHETIC_SIZE, Triplet, motion_split, scene_motion, synthetic_triplet

SELECTION_SEED_OFFSET = 200_000  # from VALIDATION_SEED_BASE; the quality table's test set scans from 100,000
TRAINING_PART = 0.8  # the first 80 % of a clip is what training reads (the rest is held out)
FILM_WIDTH = 640  # the film's windows are shrunk to this width (1280x720 costs 4x the time)
SCAN_PER_SCENE = 100  # seeds scanned per scene wanted while filling the motion splits

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
