"""What the cadence prior costs: characters on twos with a small element moving on ones.

    nice -n 10 fpsboost bench cadence-prior-cost   (about 1 minute; prints a markdown table)

The prior (``CadenceSettings.cadence_hold_share``) forgives small changes at frames where the
shot's cadence expects a hold, because a low-rate codec redraws held edges a little off
(``fpsboost bench cadence-codec-holds``). A real element animated on ones whose step is that small
is forgiven too: the frame is then held and re-timed like the characters. Here: a CelScene drawn
on twos (144x256, 24 frames at 24 fps, noise 1 8-bit step) with a small anti-aliased dot (radius
2.5 px) added that moves on ones, upscaled x2 through the planner with CelFlow (the pipeline's
backend, flow scale auto), prior on and off. Scored: every output frame before the last source
frame, against two truths, as in ``fpsboost bench cadence``'s partial holds: *as drawn*
(characters held at their drawing, the dot where it is at the output time) and *smooth*
(``scene.render(tau)`` plus the dot at tau: what an animator drawing every frame would have made).
Records the table in ``prior_cost.json`` in ``--out-dir``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ...cadence import CadenceAnalyzer, CadenceSettings
from ...data.celgen import CelScene
from ...models.presets import DEFAULT_INTERPOLATOR_WEIGHTS, weights_dir
from ...timing import plan_all
from ..report import write_report
from .cadence import network_interpolator, psnr

HEIGHT, WIDTH, FRAMES, HOLD = 144, 256, 24, 2
SOURCE_RATE, OUTPUT_RATE = Fraction(24), Fraction(48)
DOT_RADIUS_PX, DOT_START, NOISE_8BIT = 2.5, (40.0, 100.0), 1.0
SEEDS = (1, 3)
DOTS = ((1.0, 0.15), (3.0, 0.15), (1.0, 0.05))  # (px per frame, brightness added)
JSON_NAME = "prior_cost.json"


def dot(time: float, speed_px: float, brightness: float) -> np.ndarray:
    """``[1, H, W]`` float: the anti-aliased dot where it is at ``time``, its brightness added."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    distance = np.hypot(xs - (DOT_START[0] + speed_px * time), ys - DOT_START[1])
    return (np.clip(DOT_RADIUS_PX - distance, 0, 1) * brightness)[None].astype(np.float32)


@dataclass(frozen=True)
class Settings:
    weights: str = field(default=str(weights_dir() / DEFAULT_INTERPOLATOR_WEIGHTS), metadata={"help": "CelFlow weights (default: the shipped network)"})
    out_dir: str = "benchmarks/cadence"


def run(settings: Settings) -> None:
    torch.set_num_threads(2)
    interpolate = network_interpolator(Path(settings.weights))
    rows = []
    print("| seed | dot px/frame, brightness | frames called holds (prior off -> on) | as drawn dB (off -> on) | smooth dB (off -> on) |")
    print("|---|---|---|---|---|")
    for seed in SEEDS:
        scene = CelScene(seed, HEIGHT, WIDTH)
        drawings = {time: scene.render(float(time)).numpy() for time in range(0, FRAMES, HOLD)}
        for speed, brightness in DOTS:
            def as_drawn(time: float) -> np.ndarray:
                return np.clip(drawings[HOLD * int(time // HOLD)] + dot(time, speed, brightness), 0, 1)

            def smooth(time: float) -> np.ndarray:
                return np.clip(scene.render(time).numpy() + dot(time, speed, brightness), 0, 1)

            rng = np.random.default_rng(seed)
            sources = [np.clip(as_drawn(k) + rng.normal(0, NOISE_8BIT / 255, (3, HEIGHT, WIDTH)), 0, 1).astype(np.float32)
                       for k in range(FRAMES)]
            decoded = [(frame.transpose(1, 2, 0) * 65535).round().astype(np.uint16) for frame in sources]
            cells = {}
            for share in (0.0, CadenceSettings().cadence_hold_share):
                analyzer, keys = CadenceAnalyzer(CadenceSettings(cadence_hold_share=share)), []
                for index, frame in enumerate(decoded):
                    keys.extend(analyzer.push(index, Fraction(index) / SOURCE_RATE, frame))
                scores = []
                for planned in plan_all(keys, FRAMES / SOURCE_RATE, OUTPUT_RATE):
                    time = float(planned.time * SOURCE_RATE)
                    if time >= FRAMES - 1:
                        continue
                    image = sources[planned.key_a] if planned.is_original else interpolate(
                        sources[planned.key_a], sources[planned.key_b], float(planned.t), planned.key_b - planned.key_a)
                    scores.append((psnr(image, as_drawn(time)), psnr(image, smooth(time))))
                cells[share] = (analyzer.summary().held_frames, *np.mean(scores, axis=0))
            off, on = cells[0.0], cells[CadenceSettings().cadence_hold_share]
            print(f"| {seed} | {speed:g}, {brightness:g} | {off[0]} -> {on[0]} | {off[1]:.2f} -> {on[1]:.2f} | {off[2]:.2f} -> {on[2]:.2f} |",
                  flush=True)
            rows.append({"seed": seed, "dot_px_per_frame": speed, "dot_brightness": brightness,
                         **{label: {"frames_called_holds": int(cell[0]), "as_drawn_db": float(cell[1]), "smooth_db": float(cell[2])}
                            for label, cell in (("prior_off", off), ("prior_on", on))}})
    results = {"weights": settings.weights, "size": [WIDTH, HEIGHT], "frames": FRAMES, "hold": HOLD, "noise_8bit": NOISE_8BIT,
               "dot_radius_px": DOT_RADIUS_PX, "cadence_hold_share": CadenceSettings().cadence_hold_share, "rows": rows}
    write_report(settings.out_dir, results, [f"wrote {Path(settings.out_dir) / JSON_NAME}"], json_name=JSON_NAME, markdown_name=None)
