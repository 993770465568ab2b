"""How accurate is CelFlow's motion? End-point error of its pair flow against the exact flow.

    .venv/bin/python benchmarks/flow/run.py [--weights PATH] [--pairs 45] [--threads 1]

Diagnostic for what limits in-between and extrapolation quality: the same held-out synthetic
pairs as ``python -m fpsboost.evaluate`` (480x270, seeds from ``VALIDATION_SEED_BASE +
SYNTHETIC_SEED_OFFSET``, equal thirds per motion split), where :meth:`CelScene.flow` gives the
exact motion of every pixel of frame 0. Compared: CelFlow's ``F_0->1`` (the t-independent
stage, before the per-timestep refinement), the same after the pair's dominant translation was
put in where it warps better (``fpsboost/models/global_motion.py``; what the synthesiser gets),
and OpenCV's DIS flow (PRESET_MEDIUM, on 8-bit luma), the classical baseline of the quality table. EPE = mean over all pixels of |estimate - exact| in
pixels (occluded pixels included: a flow that is right where it matters for warping can still
score worse here). Writes results.json and RESULTS.md beside this script.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.report import write_report  # noqa: E402
from benchmarks.synthetic_test_set import HEIGHT, WIDTH, open_synthetic_test_set  # noqa: E402
from fpsboost.data.celgen import CelScene  # noqa: E402
from fpsboost.models.global_motion import dominant_translation, prefer_translation, shrink_luma  # noqa: E402
from fpsboost.evaluate import MOTION_SPLITS, _start_time, describe_weights, git_commit, motion_split, scene_motion  # noqa: E402


def grey_u8(image: torch.Tensor) -> np.ndarray:
    """[3,H,W] float in [0,1] -> [H,W] uint8 luma."""
    rgb = (image.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def end_point_error(estimate: torch.Tensor, exact: torch.Tensor) -> float:
    """Mean |estimate - exact| over the frame, pixels; both [2,H,W]."""
    return float((estimate - exact).norm(dim=0).mean())


def main() -> None:
    test_set = open_synthetic_test_set(__doc__, Path(__file__).resolve().parent, default_threads=1)
    args, network, dis, seeds, notes = test_set.args, test_set.network, test_set.dis, test_set.seeds, test_set.notes
    errors: dict[str, list[tuple[float, float, float]]] = {split: [] for split in MOTION_SPLITS}
    for seed in seeds:
        scene = CelScene(seed, HEIGHT, WIDTH)
        start = _start_time(seed)
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
    weights = describe_weights(args.weights)
    results = {"commit": git_commit(), "weights": weights, "size": [WIDTH, HEIGHT], "notes": notes, "rows": rows}
    lines = ["# Flow accuracy: CelFlow's pair flow vs DIS, against the exact flow", "",
             f"Commit `{results['commit']}`, weights `{weights.get('version', '?')}`; "
             f"{len(seeds)} held-out synthetic pairs at {WIDTH}x{HEIGHT} (the quality table's). "
             "Made by `benchmarks/flow/run.py`. EPE: mean end-point error over all pixels, in pixels.", "",
             "| motion split | pairs | mean exact motion (px) | CelFlow EPE | CelFlow with the translation candidate | DIS EPE |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['split']} | {row['pairs']} | {row['mean_motion_px']:.2f} | {row['celflow_epe']:.2f} | "
                     f"{row['celflow_with_translation_epe']:.2f} | {row['dis_epe']:.2f} |")
    write_report(args.out, results, lines)


if __name__ == "__main__":
    main()
