"""What limits in-between quality: how far warp-and-blend can go on the held-out synthetic set.

    fpsboost bench ceiling [--weights PATH] [--pairs 45] [--threads 2]

The quality table's synthetic pairs (480x270, seeds from ``VALIDATION_SEED_BASE +
SYNTHETIC_SEED_OFFSET``, equal thirds per motion split, t = 0.25/0.5/0.75) have exact motion:
:meth:`CelScene.flow` gives, for every pixel of the frame at time t, where it is at times 0 and
1 (also where it is hidden there). So each step of "warp both frames to t, then blend" can be
replaced by its exact or best possible version, one at a time:

* the **flows** from t to each frame: CelFlow's (after its per-timestep refinement), OpenCV
  DIS's pair flows under linear motion (the quality table's baseline), or the exact ones;
* the **blend**: CelFlow's learnt mask and colour residual, the plain ``(1 - t, t)`` blend, or an
  *oracle mask* that takes, per pixel, whichever warped frame is closer to the truth (it peeks
  at the answer, so no method can pick better between the two warps), or a *window oracle* that
  takes per 4x4 or 8x8 block the best of warp 0, warp 1 and their plain blend: the per-pixel
  oracle also fits each pixel's noise and resampling blur, so the window's is the honest bound.

``exact t-flows + oracle mask`` is therefore the ceiling of any method that only warps the two
frames and chooses between them: what is left is what neither frame shows (disocclusions,
objects entering, flashes) and resampling blur. Decomposed variants call the flow estimator and
synthesiser directly, without ``CelFlow.forward``'s fade handling (4 of the 45 pairs fade or
flash). Frames are rounded to 8 bits and PSNR measured on 8-bit values, as in the quality table. Writes results.json
into ``--out-dir`` and prints the table; RESULTS.md is written by hand from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...data.celgen import CelScene
from ...models.blocks import backward_warp
from ...models.global_motion import dominant_translation
from ...models.interpolator import CelFlow, PairFlows, linear_motion_flows
from ...models.visibility import SPLAT_SCALE, occlusion_cues, splat_payload, splatted_motion_flows
from ..metrics import oracle_blend, window_oracle
from ..report import describe_weights, git_commit, write_report
from ..test_sets import MOTION_SPLITS, QUALITY_TIMESTEPS, motion_split, scene_motion, start_time
from .synthetic_set import HEIGHT, WIDTH, grey_u8, open_synthetic_set


# Blocks of the window oracle (metrics.window_oracle): a choice per pixel also fits each pixel's noise
# and resampling blur, one per block is what a method could hope to make.
ORACLE_WINDOWS = (4, 8)


@dataclass(frozen=True)
class Settings:
    weights: str | None = field(default=None, metadata={"help": "interpolator weights (default: the shipped ones)"})
    pairs: int = 45
    threads: int = 2
    out_dir: str = "benchmarks/ceiling"


# (label, what it is) in table order
VARIANTS = [
    ("celflow", "CelFlow as shipped (its flows with the translation candidate, learnt mask and residual, fade handling)"),
    ("celflow_flows_plain_blend", "CelFlow's own t-flows (no translation candidate), plain (1 - t, t) blend instead of its mask and residual"),
    ("celflow_flows_oracle_mask_half", "CelFlow's t-flows, oracle mask at half resolution (the synthesiser's)"),
    ("celflow_flows_oracle_mask", "CelFlow's t-flows, oracle mask at full resolution"),
    ("celflow_flows_window_oracle_4", "CelFlow's t-flows, oracle choice per 4x4 window (warp 0, warp 1 or their plain blend)"),
    ("celflow_flows_window_oracle_8", "CelFlow's t-flows, oracle choice per 8x8 window (warp 0, warp 1 or their plain blend)"),
    ("dis_plain_blend", "DIS pair flows, linear motion, plain blend (the quality table's DIS baseline)"),
    ("dis_flows_celflow_synthesis", "DIS pair flows through CelFlow's synthesiser"),
    ("exact_pair_flows_oracle_mask", "exact pair flows under linear motion (CelFlow's starting point), oracle mask"),
    ("dis_splat_oracle_mask", "DIS pair flows splatted to t (the shipped motion_to_t), oracle mask"),
    ("exact_pair_flows_splat_oracle_mask", "exact pair flows splatted to t, oracle mask"),
    ("exact_t_flows_plain_blend", "exact t-flows, plain blend"),
    ("exact_t_flows_oracle_mask", "exact t-flows, oracle mask: the warp-and-blend ceiling"),
    ("exact_t_flows_window_oracle_4", "exact t-flows, oracle choice per 4x4 window (warp 0, warp 1 or their plain blend)"),
    ("exact_t_flows_window_oracle_8", "exact t-flows, oracle choice per 8x8 window (warp 0, warp 1 or their plain blend)"),
]


def psnr_8bit(image: torch.Tensor, truth: torch.Tensor) -> float:
    """PSNR in dB after rounding both ``[1,3,H,W]`` images in [0,1] to 8 bits."""
    a, b = (image.clamp(0, 1) * 255).round(), (truth * 255).round()
    return float(10 * np.log10(255.0 ** 2 / max(float(((a - b) ** 2).mean()), 1e-10)))


def render_8bit(scene: CelScene, time: float) -> torch.Tensor:
    """``[1,3,H,W]`` frame at ``time``, rounded to 8 bits as the quality table's frames are."""
    return (scene.render(time)[None] * 255).round() / 255


def pair_variants(network: CelFlow, dis: Any, scene: CelScene, start: float) -> Callable[[float, torch.Tensor], dict]:
    """Per-pair work done once; returns ``frames_at(t, truth) -> {variant: [1,3,H,W]}``."""
    image0, image1 = render_8bit(scene, start), render_8bit(scene, start + 1.0)
    padded0, padded1 = network.pad(image0), network.pad(image1)
    pad_rows, pad_cols = padded0.shape[-2] - HEIGHT, padded0.shape[-1] - WIDTH

    def pad(flow: np.ndarray | torch.Tensor) -> torch.Tensor:
        flow = torch.as_tensor(flow)
        return F.pad(flow, (0, pad_cols, 0, pad_rows), mode="replicate")

    def crop(image: torch.Tensor) -> torch.Tensor:
        return image[:, :, :HEIGHT, :WIDTH]

    dis_0to1 = torch.from_numpy(dis.calc(grey_u8(image0[0]), grey_u8(image1[0]), None).transpose(2, 0, 1))[None]
    dis_1to0 = torch.from_numpy(dis.calc(grey_u8(image1[0]), grey_u8(image0[0]), None).transpose(2, 0, 1))[None]
    celflow_pair = network.flow_estimator(padded0, padded1)
    dis_pair = PairFlows(pad(dis_0to1), pad(dis_1to0))
    exact_0to1, exact_1to0 = scene.flow(start, start + 1.0)[None], scene.flow(start + 1.0, start)[None]
    only_pair = torch.zeros(1, dtype=torch.long)

    shift = torch.from_numpy(dominant_translation(image0.numpy(), image1.numpy()))  # as the backends pass it

    def splatted_flows(flow_0to1: torch.Tensor, flow_1to0: torch.Tensor, time: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The shipped splat (a quarter of the frame, weighted by the round trip), on the pair padded to
        the network's stride as the network pads it, cropped back."""
        flow_0to1, flow_1to0 = pad(flow_0to1), pad(flow_1to0)
        cue0, cue1 = occlusion_cues(padded0, padded1, flow_0to1, flow_1to0)
        relative = network.config.motion_to_t == "splat-relative"
        flow_t0, flow_t1, _ = splatted_motion_flows(splat_payload(flow_0to1, cue0[:, 0:1], SPLAT_SCALE, relative),
                                                    splat_payload(-flow_1to0, cue1[:, 0:1], SPLAT_SCALE, relative), time, SPLAT_SCALE)
        return crop(flow_t0), crop(flow_t1)

    def frames_at(t: float, truth: torch.Tensor) -> dict[str, torch.Tensor]:
        time = torch.tensor([t])
        out: dict[str, torch.Tensor] = {"celflow": network(image0, image1, only_pair, time, shift)}
        synthesised, flow_t0, flow_t1 = network.synthesizer(padded0, padded1, celflow_pair, only_pair, time)
        warped0, warped1 = crop(backward_warp(padded0, flow_t0)), crop(backward_warp(padded1, flow_t1))
        out["celflow_flows_plain_blend"] = (1 - t) * warped0 + t * warped1
        out["celflow_flows_oracle_mask_half"] = oracle_blend(warped0, warped1, truth, half=True)
        out["celflow_flows_oracle_mask"] = oracle_blend(warped0, warped1, truth)
        for window in ORACLE_WINDOWS:
            out[f"celflow_flows_window_oracle_{window}"] = window_oracle(
                [warped0, warped1, out["celflow_flows_plain_blend"]], truth, window)
        dis_t0, dis_t1 = linear_motion_flows(dis_0to1, dis_1to0, time.view(1, 1, 1, 1))
        out["dis_plain_blend"] = (1 - t) * backward_warp(image0, dis_t0) + t * backward_warp(image1, dis_t1)
        out["dis_flows_celflow_synthesis"] = crop(network.synthesizer(padded0, padded1, dis_pair, only_pair, time)[0])
        linear_t0, linear_t1 = linear_motion_flows(exact_0to1, exact_1to0, time.view(1, 1, 1, 1))
        out["exact_pair_flows_oracle_mask"] = oracle_blend(backward_warp(image0, linear_t0), backward_warp(image1, linear_t1), truth)
        for name, (flow_0to1, flow_1to0) in (("dis_splat_oracle_mask", (dis_0to1, dis_1to0)),
                                             ("exact_pair_flows_splat_oracle_mask", (exact_0to1, exact_1to0))):
            splat_t0, splat_t1 = splatted_flows(flow_0to1, flow_1to0, time.view(1, 1, 1, 1))
            out[name] = oracle_blend(backward_warp(image0, splat_t0), backward_warp(image1, splat_t1), truth)
        exact0 = backward_warp(image0, scene.flow(start + t, start)[None])
        exact1 = backward_warp(image1, scene.flow(start + t, start + 1.0)[None])
        out["exact_t_flows_plain_blend"] = (1 - t) * exact0 + t * exact1
        out["exact_t_flows_oracle_mask"] = oracle_blend(exact0, exact1, truth)
        for window in ORACLE_WINDOWS:
            out[f"exact_t_flows_window_oracle_{window}"] = window_oracle(
                [exact0, exact1, out["exact_t_flows_plain_blend"]], truth, window)
        return out

    return frames_at


def run(settings: Settings) -> None:
    test_set = open_synthetic_set(settings.weights, settings.pairs, settings.threads)
    network, dis, seeds, notes = test_set.network, test_set.dis, test_set.seeds, test_set.notes
    scores: dict[str, dict[str, list[float]]] = {name: {split: [] for split in MOTION_SPLITS} for name, _ in VARIANTS}
    for seed in seeds:
        scene = CelScene(seed, HEIGHT, WIDTH)
        start = start_time(seed)
        split = motion_split(scene_motion(seed, WIDTH, HEIGHT))
        with torch.inference_mode():
            frames_at = pair_variants(network, dis, scene, start)
            for t in QUALITY_TIMESTEPS:
                truth = render_8bit(scene, start + t)
                for name, frame in frames_at(t, truth).items():
                    scores[name][split].append(psnr_8bit(frame, truth))
    rows = []
    for name, description in VARIANTS:
        by_split = scores[name]
        row = {"variant": name, "description": description,
               "all": round(float(np.mean([v for values in by_split.values() for v in values])), 2)}
        row.update({split: round(float(np.mean(values)), 2) for split, values in by_split.items()})
        rows.append(row)
    weights = describe_weights(settings.weights)
    results = {"commit": git_commit(), "weights": weights, "size": [WIDTH, HEIGHT], "pairs": len(seeds),
               "timesteps": list(QUALITY_TIMESTEPS), "notes": notes, "rows": rows}
    lines = [f"commit {results['commit']}, weights {weights.get('version', '?')}, {len(seeds)} pairs at {WIDTH}x{HEIGHT}",
             "| variant | all | " + " | ".join(MOTION_SPLITS) + " |", "|---|---:|" + "---:|" * len(MOTION_SPLITS)]
    for row in rows:
        lines.append(f"| {row['description']} | {row['all']:.2f} | " + " | ".join(f"{row[s]:.2f}" for s in MOTION_SPLITS) + " |")
    write_report(settings.out_dir, results, lines, markdown_name=None)
