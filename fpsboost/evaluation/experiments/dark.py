"""Dark scenes, fades and flashes: CelFlow with and without its photometric handling.

    fpsboost bench dark [--scenes 8] [--threads 2] [--weights PATH]

Held-out CelScenes (seeds from ``VALIDATION_SEED_BASE + SYNTHETIC_SEED_OFFSET``, as the quality
table's) rendered at brightness x1, x0.3 and x0.12 (a night scene), with noise of one 8-bit step
(sigma) on every frame, as a lossy encode leaves. Two pairs per scene: a *still* one (the same
picture, fresh noise: a held background) and a *moving* one (times 3 and 4). The in-between at
t = 0.5 is scored against the clean picture at its time (PSNR, 8-bit peak). Methods: CelFlow as
shipped (``stretch_dark_contrast`` before the flow estimator), CelFlow with the stretch off
(``MIN_PAIR_CONTRAST = 0``: how it was before), and the mean of the two frames (exact motion for
the still pair, a cross-fade for the moving one). Also the mean absolute flow CelFlow estimates on
the still pairs (ideally 0).

Fades and flashes: the same scenes, lit, where the second frame of the pair is the first one's
picture faded to x0.7 or flashed half way to white (``0.5 * picture + 0.5``), still or moving
(times 3 and 4); the truth at t = 0.5 is the brightness half way. CelFlow as shipped
(``brightness_change`` taken out before the network and put back at t) against CelFlow without it
(``FADE_MEAN_CHANGE`` = infinity: how it was before) and the mean of the two frames.
Writes results.json and RESULTS.md into ``--out-dir`` (``benchmarks/v2/dark`` holds v2's run:
``--weights weights/celflow-v2.safetensors --out-dir benchmarks/v2/dark``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ...data.celgen import CelScene
from ...data.datasets import VALIDATION_SEED_BASE
from ...models import pairs as pair_preprocessing
from ...models.global_motion import dominant_translation
from ...models.presets import load_interpolator
from ..report import describe_weights, git_commit, write_report
from ..test_sets import SYNTHETIC_SEED_OFFSET

BRIGHTNESS = (1.0, 0.3, 0.12)
NOISE_8BIT = 1.0
HEIGHT, WIDTH = 108, 192
MOVING_TIMES = (3.0, 4.0)


@dataclass(frozen=True)
class Settings:
    scenes: int = field(default=8, metadata={"help": "held-out CelScenes"})
    threads: int = 2
    weights: str | None = field(default=None, metadata={"help": "interpolator weights (default: the shipped ones)"})
    out_dir: str = "benchmarks/dark"


def psnr(image: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of two float images in [0,1] after rounding both to 8 bits."""
    to_u8 = lambda x: np.round(np.clip(x, 0, 1) * 255)  # noqa: E731
    return float(10 * np.log10(255.0**2 / max(np.mean((to_u8(image) - to_u8(truth)) ** 2), 1e-10)))


def run(settings: Settings) -> None:
    torch.set_num_threads(settings.threads)
    network = load_interpolator(settings.weights).eval()
    rng = np.random.default_rng(0)
    shipped_contrast = pair_preprocessing.MIN_PAIR_CONTRAST
    seeds = [VALIDATION_SEED_BASE + SYNTHETIC_SEED_OFFSET + i for i in range(settings.scenes)]
    started = time.perf_counter()

    def noisy(picture: np.ndarray) -> np.ndarray:
        return np.clip(np.round((picture + rng.normal(0, NOISE_8BIT / 255, picture.shape)) * 255) / 255, 0, 1).astype(np.float32)

    def interpolate(image0: np.ndarray, image1: np.ndarray) -> tuple[np.ndarray, float]:
        a, b = torch.from_numpy(image0)[None], torch.from_numpy(image1)[None]
        shift = torch.from_numpy(dominant_translation(image0[None], image1[None]))  # as the backends pass it
        with torch.inference_mode():
            middle = network(a, b, torch.zeros(1, dtype=torch.long), torch.tensor([0.5]), shift)[0].numpy()
            flows = network.flow_estimator(network.pad(a), network.pad(b))
        return middle, float(flows.flow_0to1.abs().mean())

    rows = []
    for brightness in BRIGHTNESS:
        scores: dict[str, list[float]] = {}
        for seed in seeds:
            scene = CelScene(seed, HEIGHT, WIDTH)
            still = scene.render(MOVING_TIMES[0]).numpy() * brightness
            first, last = (scene.render(t).numpy() * brightness for t in MOVING_TIMES)
            middle = scene.render(sum(MOVING_TIMES) / 2).numpy() * brightness
            pairs = {"still": (noisy(still), noisy(still), still), "moving": (noisy(first), noisy(last), middle)}
            for kind, (image0, image1, truth) in pairs.items():
                for method, contrast in (("celflow", shipped_contrast), ("celflow-no-stretch", 0.0)):
                    pair_preprocessing.MIN_PAIR_CONTRAST = contrast
                    output, mean_flow = interpolate(image0, image1)
                    scores.setdefault(f"{method} {kind}", []).append(psnr(output, truth))
                    if kind == "still":
                        scores.setdefault(f"{method} still flow px", []).append(mean_flow)
                scores.setdefault(f"frame mean {kind}", []).append(psnr((image0 + image1) / 2, truth))
        pair_preprocessing.MIN_PAIR_CONTRAST = shipped_contrast
        row = {"brightness": brightness, **{name: round(float(np.mean(values)), 3) for name, values in scores.items()}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    fade_rows = []
    shipped_fade = pair_preprocessing.FADE_MEAN_CHANGE
    changes = {"fade x0.7": lambda picture: picture * 0.7, "flash to white": lambda picture: 0.5 * picture + 0.5}
    for change_name, change in changes.items():
        scores = {}
        for seed in seeds:
            scene = CelScene(seed, HEIGHT, WIDTH)
            first_still = scene.render(MOVING_TIMES[0]).numpy()
            first, last = (scene.render(t).numpy() for t in MOVING_TIMES)
            middle = scene.render(sum(MOVING_TIMES) / 2).numpy()
            pairs = {"still": (noisy(first_still), noisy(change(first_still)), 0.5 * (first_still + change(first_still))),
                     "moving": (noisy(first), noisy(change(last)), 0.5 * (middle + change(middle)))}
            for kind, (image0, image1, truth) in pairs.items():
                for method, threshold in (("celflow", shipped_fade), ("celflow-no-fade", float("inf"))):
                    pair_preprocessing.FADE_MEAN_CHANGE = threshold
                    output, _ = interpolate(image0, image1)
                    scores.setdefault(f"{method} {kind}", []).append(psnr(output, truth))
                scores.setdefault(f"frame mean {kind}", []).append(psnr((image0 + image1) / 2, truth))
        pair_preprocessing.FADE_MEAN_CHANGE = shipped_fade
        row = {"change": change_name, **{name: round(float(np.mean(values)), 3) for name, values in scores.items()}}
        fade_rows.append(row)
        print(json.dumps(row), flush=True)
    results = {"commit": git_commit(), "weights": describe_weights(settings.weights), "seeds": seeds, "noise_8bit": NOISE_8BIT,
               "size": f"{WIDTH}x{HEIGHT}", "seconds": round(time.perf_counter() - started), "rows": rows,
               "fade_rows": fade_rows}
    lines = ["# Dark scenes, fades and flashes: CelFlow with and without its photometric handling", "",
             f"Commit `{results['commit']}`, weights `{results['weights'].get('version', '?')}`, {settings.threads} torch threads, "
             f"{results['seconds']} s. Made by `fpsboost bench dark` (see its --help). {len(seeds)} held-out CelScenes "
             f"at {WIDTH}x{HEIGHT}, noise sigma {NOISE_8BIT:g} 8-bit step; PSNR (dB) of the in-between at t = 0.5; "
             "flow = CelFlow's mean |F_0->1| on the still pairs (px; ideally 0).", "",
             "| brightness | pair | CelFlow (shipped) | CelFlow, no stretch (before) | mean of the two frames |",
             "|---|---|---:|---:|---:|"]
    for row in rows:
        for kind in ("still", "moving"):
            lines.append(f"| x{row['brightness']:g} | {kind} | {row[f'celflow {kind}']:.2f} | {row[f'celflow-no-stretch {kind}']:.2f} | "
                         f"{row[f'frame mean {kind}']:.2f} |")
        lines.append(f"| x{row['brightness']:g} | still: flow px | {row['celflow still flow px']:.2f} | "
                     f"{row['celflow-no-stretch still flow px']:.2f} | 0 |")
    lines += ["", "Fades and flashes (lit; PSNR of the in-between at t = 0.5 against the brightness half way):", "",
              "| change | pair | CelFlow (shipped) | CelFlow, no fade handling (before) | mean of the two frames |",
              "|---|---|---:|---:|---:|"]
    for row in fade_rows:
        for kind in ("still", "moving"):
            lines.append(f"| {row['change']} | {kind} | {row[f'celflow {kind}']:.2f} | {row[f'celflow-no-fade {kind}']:.2f} | "
                         f"{row[f'frame mean {kind}']:.2f} |")
    write_report(settings.out_dir, results, lines)

