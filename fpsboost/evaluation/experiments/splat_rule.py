"""Which rule makes the flows at t from the splat, and with which constants? Chosen outside the test sets.

    fpsboost bench splat-rule --real-dir DIR [--per-split 10] [--windows 20] [--threads 2]

The shipped network (or ``--weights``) is scored with its synthesis's ``motion_to_t`` set to "splat"
(the hole filled where the landed weights sum to little) and to "splat-relative" over a grid of
its two constants (:data:`~fpsboost.models.visibility.SPLAT_MAX_INCONSISTENCY`,
:data:`~fpsboost.models.visibility.SPLAT_UNCOVERED`). No test set takes part:

- synthetic scenes at the quality table's 480x270, ``per_split`` per motion split, scanned from a
  seed range of their own (:data:`SELECTION_SEED_OFFSET`; the test set's starts 100,000 seeds lower),
  t = 0.25 / 0.5 / 0.75, with their neighbours one interval either side;
- five-frame windows from the *training* parts (first 80 %) of bikes.mp4 and the film (shrunk to
  :data:`FILM_WIDTH`), t = 0.5 with the neighbours half an interval away, as the quality table's;
- the training's own validation scenes (48 at 192 px, and the same on a 1.5x canvas).

Writes ``results.json`` and ``RESULTS.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..baselines import NetworkMethod
from ..metrics import psnr_u8
from ..report import write_report
from ..speed import limit_threads
from ..test_sets import BBB_FILENAME, SYNTHETIC_SIZE, MOTION_SPLITS, Triplet, motion_split, scene_motion, synthetic_triplet

SELECTION_SEED_OFFSET = 200_000  # from VALIDATION_SEED_BASE; the quality table's test set scans from 100,000
TRAINING_PART = 0.8  # the first 80 % of a clip is what training reads (the rest is held out)
FILM_WIDTH = 640  # the film's windows are shrunk to this width (1280x720 costs 4x the time)
VALIDATION_SIZE, WIDE_CANVAS = 192, 1.5  # as fpsboost train validates
# (SPLAT_MAX_INCONSISTENCY, SPLAT_UNCOVERED) tried under "splat-relative".
RELATIVE_GRID = ((5.0, 0.05), (5.0, 0.2), (6.0, 0.1), (6.0, 0.2), (6.0, 0.3), (7.0, 0.2))


@dataclass(frozen=True)
class Settings:
    real_dir: str | None = field(default=None, metadata={"help": "folder with bikes.mp4 (the film: here or in the data cache)"})
    weights: str | None = field(default=None, metadata={"help": "weights to measure (default: the shipped model)"})
    per_split: int = field(default=10, metadata={"help": "synthetic scenes per motion split"})
    windows: int = field(default=20, metadata={"help": "windows per real clip"})
    validation_scenes: int = field(default=48, metadata={"help": "the training's validation scenes (48 as it validates)"})
    threads: int = 2
    out_dir: str = "benchmarks/v2/splat/rule"


def selection_scenes(per_split: int) -> list[tuple[str, Triplet]]:
    """``(motion split, triplet)``: synthetic scenes outside the test set, ``per_split`` of each split."""
    from ...data.datasets import VALIDATION_SEED_BASE

    wanted = dict.fromkeys(MOTION_SPLITS, per_split)
    chosen: list[tuple[str, Triplet]] = []
    if per_split <= 0:
        return chosen
    first = VALIDATION_SEED_BASE + SELECTION_SEED_OFFSET
    for seed in range(first, first + 100 * per_split * len(MOTION_SPLITS)):
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

    from ...data.real import _frame_count, read_windows, spans_cut

    with av.open(str(path)) as container:
        total = _frame_count(container)
    starts = np.unique(np.linspace(0, int(total * TRAINING_PART) - 5, 2 * count).round().astype(int)).tolist()
    windows = read_windows(path, starts, 5, max_width)
    kept = [start for start in starts if start in windows and not spans_cut(windows[start])][:count]
    return [Triplet(windows[s][1], windows[s][3], {0.5: windows[s][2]}, before=windows[s][0], after=windows[s][4], distance=0.5)
            for s in kept]


def _film_path(real_dir: str | None) -> Path | None:
    from ...data.real import data_cache_dir

    for folder in ([Path(real_dir)] if real_dir else []) + [data_cache_dir()]:
        if (folder / BBB_FILENAME).is_file():
            return folder / BBB_FILENAME
    return None


def run(settings: Settings) -> None:
    import torch

    from ...data.datasets import validation_set
    from ...models import visibility
    from ...training.interpolator import validate

    limit_threads(settings.threads)
    sets: dict[str, list[tuple[str, Triplet]]] = {"synthetic": selection_scenes(settings.per_split)}
    if settings.real_dir and (Path(settings.real_dir) / "bikes.mp4").is_file():
        sets["bikes, first 80 %"] = [("all", t) for t in training_windows(Path(settings.real_dir) / "bikes.mp4", settings.windows)]
    film = _film_path(settings.real_dir)
    if film is not None:
        sets["film, first 80 %"] = [("all", t) for t in training_windows(film, settings.windows, FILM_WIDTH)]
    count = settings.validation_scenes
    validation = {"validation 192 px": validation_set(count, VALIDATION_SIZE, neighbours=True),
                  "validation 1.5x canvas": validation_set(count, VALIDATION_SIZE, canvas_scale=WIDE_CANVAS, neighbours=True)}
    method = NetworkMethod(settings.weights)
    network = method.backend.model
    synthesis = network.synthesizer
    shipped = (synthesis.motion_to_t, visibility.SPLAT_MAX_INCONSISTENCY, visibility.SPLAT_UNCOVERED)
    rules = [("splat", None)] + [(f"splat-relative, d up to {d:g} px, uncovered {u:g}", (d, u)) for d, u in RELATIVE_GRID]
    psnr: dict[str, dict[str, float]] = {}
    try:
        for name, constants in rules:
            synthesis.motion_to_t = "splat" if constants is None else "splat-relative"
            if constants is not None:
                visibility.SPLAT_MAX_INCONSISTENCY, visibility.SPLAT_UNCOVERED = constants
            row: dict[str, list[float]] = {}
            for set_name, items in sets.items():
                for split, triplet in items:
                    frames = method(triplet.frame0, triplet.frame1, tuple(triplet.truths), before=triplet.before,
                                    after=triplet.after, distance=triplet.distance)
                    score = float(np.mean([psnr_u8(frame, triplet.truths[t]) for frame, t in zip(frames, triplet.truths)]))
                    row.setdefault(set_name, []).append(score)
                    if split != "all":
                        row.setdefault(f"{set_name} {split}", []).append(score)
            psnr[name] = {key: round(float(np.mean(values)), 3) for key, values in row.items()}
            psnr[name].update({key: round(validate(network, samples, torch.device("cpu"))["psnr"], 3) for key, samples in validation.items()})
            network.eval()  # validate leaves the network in training mode
    finally:
        synthesis.motion_to_t, visibility.SPLAT_MAX_INCONSISTENCY, visibility.SPLAT_UNCOVERED = shipped
    first = psnr["splat"]
    columns = ([key for key in ["synthetic"] + [f"synthetic {split}" for split in MOTION_SPLITS] if key in first]
               + [key for key in first if not key.startswith("synthetic")])
    lines = ["# The splat's rule, chosen outside the test sets", "",
             "Made by `fpsboost bench splat-rule` (command and commit in results.json). PSNR dB of the network "
             "with each rule; the sets are described in `fpsboost/evaluation/experiments/splat_rule.py`.", "",
             "| rule | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name in psnr:
        lines.append(f"| {name} | " + " | ".join(f"{psnr[name][c]:.3f}" for c in columns) + " |")
    write_report(settings.out_dir, {"settings": asdict(settings), "psnr": psnr,
                                    "items": {name: len(items) for name, items in sets.items()}}, lines)
