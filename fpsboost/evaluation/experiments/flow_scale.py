"""Which ``--flow-scale`` suits which frame size? In-between quality and time at 1, 0.5 and 0.25.

    fpsboost bench flow-scale [--weights PATH] [--pairs 15] [--threads 2] [--sizes 480x270 --sizes 960x540 ...]

The held-out synthetic pairs of ``fpsboost bench quality`` (seeds from ``VALIDATION_SEED_BASE
+ SYNTHETIC_SEED_OFFSET``, equal thirds per motion split, chosen at 480x270) rendered at several
frame sizes. A CelScene's motion is a fraction of its width, so the same seed moves twice as many
pixels at twice the width, as the same animation does at 1080p and at 540p. For each size and
flow scale: PSNR of the in-betweens at t = 0.25, 0.5, 0.75 against the exact frames (8-bit, like
the quality table), per motion split, and the network's wall time per in-between (one pair, three
timesteps, this machine). ``FLOW_AUTO_MAX_WIDTH`` in ``fpsboost/backends/base.py`` is chosen from
this table. ``--gap 2`` renders each pair two frames apart (truths at 2t): the pairs that re-timing
spans across a held drawing on twos, whose motion is twice as large. With ``--real-dir``, the quality table's real-footage triplets are scored at each
clip's own size too (bigbuckbunny stays an outside check: reported, not used to choose).
Writes results.json and RESULTS.md into ``--out-dir``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ...backends.base import FLOW_AUTO_MAX_WIDTH, FLOW_SCALES
from ...data.celgen import CelScene
from ...models.presets import load_interpolator
from ..metrics import psnr_u8, to_u8
from ..report import describe_weights, git_commit, write_report
from ..test_sets import MOTION_SPLITS, REAL_CLIPS, motion_split, real_triplets, scene_motion, start_time, synthetic_seeds

SIZES = ((480, 270), (960, 540), (1280, 720), (1920, 1080))
SEED_SIZE = (480, 270)  # seeds and their motion split are chosen at this size (the quality table's)
TIMESTEPS = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class Settings:
    weights: str | None = field(default=None, metadata={"help": "interpolator weights (default: the shipped ones)"})
    pairs: int = 15
    threads: int = 2
    sizes: tuple[str, ...] = field(default=tuple(f"{w}x{h}" for w, h in SIZES),
                                   metadata={"help": "WIDTHxHEIGHT (repeatable: --sizes 480x270 --sizes 960x540)"})
    real_dir: str | None = field(default=None, metadata={"help": "folder with the evaluation's real clips (optional)"})
    real_triplets: int = 10
    gap: float = field(default=1.0, metadata={"help": "source frames between the two frames of a pair"})
    out_dir: str = "benchmarks/flow_scale"


def psnr_8bit(prediction: torch.Tensor, truth: torch.Tensor) -> float:
    """PSNR of two [3,H,W] float images in [0,1] after rounding both to 8 bits, as the quality table does."""
    as_u8 = lambda image: to_u8(image.clamp(0, 1).permute(1, 2, 0).numpy() * 255.0)  # noqa: E731
    return psnr_u8(as_u8(prediction), as_u8(truth))


def run(settings: Settings) -> None:
    torch.set_num_threads(settings.threads)
    network = load_interpolator(settings.weights).eval()
    seeds, notes = synthetic_seeds(settings.pairs, *SEED_SIZE)
    splits = {seed: motion_split(scene_motion(seed, *SEED_SIZE)) for seed in seeds}
    started = time.perf_counter()
    rows = []
    for width, height in (tuple(int(v) for v in size.split("x")) for size in settings.sizes):
        scores: dict[tuple[str, str], list[float]] = {}
        seconds: dict[str, list[float]] = {name: [] for name in FLOW_SCALES}
        for seed in seeds:
            scene = CelScene(seed, height, width)
            start = start_time(seed)
            image0, image1 = scene.render(start)[None], scene.render(start + settings.gap)[None]
            truths = [scene.render(start + settings.gap * t) for t in TIMESTEPS]
            for name, factor in FLOW_SCALES.items():
                network.flow_downscale = factor
                tick = time.perf_counter()
                with torch.inference_mode():
                    frames = network(image0, image1, torch.zeros(len(TIMESTEPS), dtype=torch.long), torch.tensor(TIMESTEPS))
                seconds[name].append((time.perf_counter() - tick) / len(TIMESTEPS))
                value = float(np.mean([psnr_8bit(frame, truth) for frame, truth in zip(frames, truths)]))
                scores.setdefault((name, splits[seed]), []).append(value)
                scores.setdefault((name, "all"), []).append(value)
        for name in FLOW_SCALES:
            row = {"size": f"{width}x{height}", "flow_scale": name,
                   "ms_per_in_between": round(1000 * float(np.median(seconds[name])), 1)}
            for split in (*MOTION_SPLITS, "all"):
                row[f"psnr_{split}"] = round(float(np.mean(scores[(name, split)])), 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    real_rows = []
    for clip in REAL_CLIPS if settings.real_dir else ():
        path = Path(settings.real_dir) / clip.filename
        if not path.is_file():
            continue
        triplets = real_triplets(path, clip, settings.real_triplets)
        height, width = triplets[0].frame0.shape[:2]
        row = {"clip": clip.name, "size": f"{width}x{height}", "triplets": len(triplets)}
        for name, factor in FLOW_SCALES.items():
            network.flow_downscale = factor
            values = []
            for triplet in triplets:
                image0, image1 = (torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
                                  for frame in (triplet.frame0, triplet.frame1))
                truth = torch.from_numpy(triplet.truths[0.5]).permute(2, 0, 1).float() / 255
                with torch.inference_mode():
                    frame = network(image0, image1, torch.zeros(1, dtype=torch.long), torch.tensor([0.5]))[0]
                values.append(psnr_8bit(frame, truth))
            row[f"psnr_{name}"] = round(float(np.mean(values)), 2)
        real_rows.append(row)
        print(json.dumps(row), flush=True)
    weights = describe_weights(settings.weights)
    results = {"commit": git_commit(), "weights": weights, "seeds": seeds, "notes": notes, "threads": settings.threads,
               "gap": settings.gap, "flow_auto_max_width": FLOW_AUTO_MAX_WIDTH, "seconds": round(time.perf_counter() - started),
               "rows": rows, "real_rows": real_rows}
    counts = {split: sum(1 for seed in seeds if splits[seed] == split) for split in MOTION_SPLITS}
    lines = ["# Flow scale: in-between PSNR and time by frame size", "",
             f"Commit `{results['commit']}`, weights `{weights.get('version', '?')}`, {settings.threads} torch threads, "
             f"{results['seconds']} s. Made by `fpsboost bench flow-scale`. {len(seeds)} held-out synthetic pairs "
             f"({', '.join(f'{count} {split}' for split, count in counts.items())}; split chosen at 480x270), each "
             f"rendered at every size, the two frames {settings.gap:g} source frame(s) apart; PSNR (dB, 8-bit) averaged over t = 0.25, 0.5, 0.75; ms = median network time "
             "per in-between (one pair, three timesteps).", "",
             "| size | flow scale | PSNR small | PSNR medium | PSNR large | PSNR all | ms / in-between |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['size']} | {row['flow_scale']} | {row['psnr_small']:.2f} | {row['psnr_medium']:.2f} | "
                     f"{row['psnr_large']:.2f} | {row['psnr_all']:.2f} | {row['ms_per_in_between']:.0f} |")
    if real_rows:
        lines += ["", "Real footage (the quality table's held-out triplets, t = 0.5, PSNR dB, at each clip's own size):", "",
                  "| clip | size | triplets | " + " | ".join(f"flow {name}" for name in FLOW_SCALES) + " |",
                  "|---|---|---:|" + "---:|" * len(FLOW_SCALES)]
        for row in real_rows:
            lines.append(f"| {row['clip']} | {row['size']} | {row['triplets']} | "
                         + " | ".join(f"{row[f'psnr_{name}']:.2f}" for name in FLOW_SCALES) + " |")
    write_report(settings.out_dir, results, lines)
