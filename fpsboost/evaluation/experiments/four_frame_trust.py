"""How much of the acceleration the shipped four-frame v2 trusts, and where its blend departs from 1 - t.

    fpsboost bench four-frame-trust [--weights weights/celflow-v2.safetensors] [--out-dir benchmarks/v2/four_frame]

On the held-out sets of ``fpsboost bench four-frame`` (48 synthetic scenes at 192 px, 40 windows of
Big Buck Bunny's and of bikes' last fifth), with the accelerations the job would give. A forward
hook on the visibility head reads its trust logits (trust = sigmoid(logit + TRUST_PRIOR_LOGIT), at
half resolution, per frame) and the mask comes from the synthesizer's ``return_mask``. Reported:
mean trust, the share of pixels trusting the acceleration more than half, and where it matters
(|acceleration term| >= 0.5 px); the blend weight's mean distance from 1 - t and the share of
pixels more than 0.25 from it. Writes ``trust.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ...data.real import fetch_big_buck_bunny
from ...models.classical_flow import classical_accelerations, classical_pair_flows
from ...models.pairs import PairFlows
from ...models.presets import load_interpolator, weights_dir
from ...models.visibility import TRUST_PRIOR_LOGIT
from ..report import write_report
from .four_frame import items_real, items_synthetic  # the same test items as fpsboost bench four-frame

if TYPE_CHECKING:
    from ...models.interpolator import CelFlow

MATTERS_PX = 0.5


@dataclass(frozen=True)
class Settings:
    weights: str = str(weights_dir() / "celflow-v2.safetensors")
    real_dir: str = "/work/data/real"
    threads: int = 2
    out_dir: str = "benchmarks/v2/four_frame"


@torch.no_grad()
def statistics(items: list[tuple], network: CelFlow) -> dict[str, float]:
    """Trust in the acceleration and the blend's departure from 1 - t over ``items``."""
    captured = {}
    hook = network.synthesizer.head.register_forward_hook(lambda module, inputs, output: captured.update(out=output))
    trust_all, trust_matters, departures = [], [], []
    for image0, image1, _, times, before, after, distance in items:
        a, b = image0[None], image1[None]
        flows = classical_pair_flows(a, b)
        accelerations = classical_accelerations(flows, a, b, before[None], after[None], distance, distance)
        padded0, padded1 = network.pad(a), network.pad(b)
        pair_flows = network.pad(flows)
        state = PairFlows(pair_flows[:, :2], pair_flows[:, 2:], acceleration=network.pad(accelerations))
        index = torch.zeros(len(times), dtype=torch.long)
        _, _, _, mask = network.synthesizer(padded0, padded1, state, index, times, return_mask=True)
        trust = torch.sigmoid(captured["out"][:, 4:6] + TRUST_PRIOR_LOGIT)
        scale = network.config.synth_scale
        small = torch.nn.functional.avg_pool2d(state.acceleration, scale) / scale
        term = (small.view(1, 2, 2, *small.shape[-2:]).norm(dim=2) * (times * (1 - times) / 2).view(-1, 1, 1, 1))
        trust_all.append(trust.flatten())
        trust_matters.append(trust[term >= MATTERS_PX])
        departure = (mask - (1 - times).view(-1, 1, 1, 1)).abs()
        departures.append(departure.flatten())
    hook.remove()
    trust_all, trust_matters, departure = torch.cat(trust_all), torch.cat(trust_matters), torch.cat(departures)
    return {"mean trust": round(float(trust_all.mean()), 4), "share trusting > 0.5": round(float((trust_all > 0.5).float().mean()), 4),
            f"mean trust where the acceleration moves >= {MATTERS_PX} px": round(float(trust_matters.mean()), 4) if len(trust_matters) else None,
            f"pixels where it moves >= {MATTERS_PX} px": round(len(trust_matters) / len(trust_all), 4),
            "mean |mask - (1 - t)|": round(float(departure.mean()), 4),
            "share |mask - (1 - t)| > 0.25": round(float((departure > 0.25).float().mean()), 5)}


def run(settings: Settings) -> None:
    torch.set_num_threads(settings.threads)
    network = load_interpolator(settings.weights)
    results = {"synthetic": statistics(items_synthetic(48, 1.0), network),
               "Big Buck Bunny held-out fifth": statistics(items_real(fetch_big_buck_bunny(), 40), network)}
    bikes = Path(settings.real_dir) / "bikes.mp4"
    if bikes.is_file():
        results["bikes held-out fifth"] = statistics(items_real(bikes, 40), network)
    write_report(settings.out_dir, results, [json.dumps(results, indent=1)], json_name="trust.json", markdown_name=None)
