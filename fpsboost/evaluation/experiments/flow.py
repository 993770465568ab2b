"""How accurate is CelFlow's motion? End-point error of its pair flow against the exact flow.

    fpsboost bench flow [--weights PATH] [--pairs 45] [--threads 1]

Diagnostic for what limits in-between and extrapolation quality: the same held-out synthetic
pairs as ``fpsboost bench quality`` (480x270, seeds from ``VALIDATION_SEED_BASE +
SYNTHETIC_SEED_OFFSET``, equal thirds per motion split), where :meth:`CelScene.flow` gives the
exact motion of every pixel of frame 0. Compared: CelFlow's ``F_0->1`` (the t-independent
stage, before the per-timestep refinement), the same after the pair's dominant translation was
put in where it warps better (``fpsboost/models/global_motion.py``; what the synthesiser gets),
and OpenCV's DIS flow (PRESET_MEDIUM, on 8-bit luma), the classical baseline of the quality table. EPE = mean over all pixels of |estimate - exact| in
pixels (occluded pixels included: a flow that is right where it matters for warping can still
score worse here). Writes results.json and RESULTS.md into ``--out-dir``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ...data.celgen import CelScene
from ...models.global_motion import dominant_translation, prefer_translation, shrink_luma
from ..report import describe_weights, git_commit, write_report
from ..test_sets import MOTION_SPLITS, motion_split, scene_motion, start_time
from .synthetic_set import HEIGHT, WIDTH, grey_u8, open_synthetic_set


@dataclass(frozen=True)
class Settings:
    weights: str | None = field(default=None, metadata={"help": "interpolator weights (default: the shipped ones)"})
    pairs: int = 45
    threads: int = 1
    out_dir: str = "benchmarks/flow"


def end_point_error(estimate: torch.Tensor, exact: torch.Tensor) -> float:
    """Mean |estimate - exact| over the frame, pixels; both [2,H,W]."""
    return float((estimate - exact).norm(dim=0).mean())


def run(settings: Settings) -> None:
    test_set = open_synthetic_set(settings.weights, settings.pairs, settings.threads)
    network, dis, seeds, notes = test_set.network, test_set.dis, test_set.seeds, test_set.notes
    errors: dict[str, list[tuple[float, float, float, float]]] = {split: [] for split in MOTION_SPLITS}
    for seed in seeds:
        scene = CelScene(seed, HEIGHT, WIDTH)
        start = start_time(seed)
        image0, image1 = scene.render(start), scene.render(start + 1.0)
        exact = scene.flow(start, start + 1.0)
        padded0, padded1 = network.pad(image0[None]), network.pad(image1[None])
        shift = torch.from_numpy(dominant_translation(image0[None].numpy(), image1[None].numpy()))
        with torch.inference_mode():
            flows = network.flow_estimator(padded0, padded1)
            chosen, _ = prefer_translation(shrink_luma(padded0), shrink_luma(padded1), flows.flow_0to1, shift)
        celflow = flows.flow_0to1[0, :, :HEIGHT, :WIDTH]
        with_candidate = chosen[0, :, :HEIGHT, :WIDTH]
        classical = torch.from_numpy(dis.calc(grey_u8(image0), grey_u8(image1), None).transpose(2, 0, 1))
        split = motion_split(scene_motion(seed, WIDTH, HEIGHT))
        errors[split].append((end_point_error(celflow, exact), end_point_error(classical, exact),
                              float(exact.norm(dim=0).mean()), end_point_error(with_candidate, exact)))
    rows = []
    for split, values in [*errors.items(), ("all", [v for values in errors.values() for v in values])]:
        table = np.asarray(values)
        rows.append({"split": split, "pairs": len(values), "celflow_epe": round(float(table[:, 0].mean()), 3),
                     "celflow_with_translation_epe": round(float(table[:, 3].mean()), 3),
                     "dis_epe": round(float(table[:, 1].mean()), 3), "mean_motion_px": round(float(table[:, 2].mean()), 3)})
    weights = describe_weights(settings.weights)
    results = {"commit": git_commit(), "weights": weights, "size": [WIDTH, HEIGHT], "notes": notes, "rows": rows}
    lines = ["# Flow accuracy: CelFlow's pair flow vs DIS, against the exact flow", "",
             f"Commit `{results['commit']}`, weights `{weights.get('version', '?')}`; "
             f"{len(seeds)} held-out synthetic pairs at {WIDTH}x{HEIGHT} (the quality table's). "
             "Made by `fpsboost bench flow`. EPE: mean end-point error over all pixels, in pixels.", "",
             "| motion split | pairs | mean exact motion (px) | CelFlow EPE | CelFlow with the translation candidate | DIS EPE |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['split']} | {row['pairs']} | {row['mean_motion_px']:.2f} | {row['celflow_epe']:.2f} | "
                     f"{row['celflow_with_translation_epe']:.2f} | {row['dis_epe']:.2f} |")
    write_report(settings.out_dir, results, lines)
