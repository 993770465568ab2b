"""Extrapolation quality: PSNR and SSIM per step after the last frame, network vs baselines.

    nice -n 10 fpsboost bench extrapolation [--weights PATH] [--synthetic 16] [--recursive]

Sets:
* ``synthetic``: held-out CelScene sequences (seeds from BENCHMARK_SEED_BASE = 10_500_000; training
  draws seeds below 10_000_000 and picks checkpoints on 10_000_000..10_000_015), context frames
  t-2, t-1, t, truth at t+1..t+8;
* ``synthetic-subframe``: the same scenes at t+0.25, 0.5, 0.75: the interval after the last frame
  that the main job fills when it raises the rate (hold vs extrapolate);
* ``real``: /work/cache/bikes.mp4, windows inside its held-out last 20 % of frames (never trained on);
* ``real-subframe``: the same footage with context frames 4 apart and truth at the 3 frames after
  the last: horizons 0.25, 0.5, 0.75 of a drawing interval, the main job's ``--tail`` case;
* robustness (``--robustness``, default on): the default method and the two baselines on three
  more synthetic sets, t+1..t+8: the training validation seeds (where the continuation's settings
  were chosen) and two fresh held-out ranges (ROBUSTNESS_SEED_BASES), so that a lead on the one
  benchmark set is not mistaken for a lead.

Methods: ``celflow-projected`` (the default motion of ``fpsboost extrapolate``: the trained
interpolation network's flow F_t->t-1 from ``--interpolator`` (default: the shipped interpolator),
read at run time, continued linearly and projected forward, fastest pixel wins; no separately
trained part), ``celcast`` (the extrapolation network, one pass per horizon), ``celcast-recursive``
(only with ``--recursive``: the same weights fed their own one-step predictions), ``repeat-last``
(hold the last frame), ``dis-linear`` (OpenCV
DIS flow from the last frame to the one before, F_t->t-1; the frame k steps ahead is the last
frame backward-warped by k * F_t->t-1, i.e. by the negated forward motion, which assumes the
motion at a future pixel equals the motion at the same pixel now), ``dis-projected`` (diagnostic,
not a product path: the same DIS flow through celflow-projected's continuation and projection, to
separate what the flow costs from what the projection does).
Writes results.json (with the commit) and RESULTS.md into ``--out-dir``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from ...data.datasets import VALIDATION_SEED_BASE, load_video_frames
from ...data.real import REAL_TRAIN_FRACTION
from ...extrapolation import Extrapolator
from ...models.blocks import backward_warp
from ...models.extrapolator import DEFAULT_EXTRAPOLATOR_WEIGHTS, extrapolated_flow, trajectory_displacement
from ...models.presets import DEFAULT_INTERPOLATOR_WEIGHTS, read_metadata, weights_dir
from ...training.extrapolator import BENCHMARK_SEED_BASE, heldout_sequence
from ..report import git_commit, write_report

STEPS = tuple(float(k) for k in range(1, 9))
SUBFRAME_STEPS = (0.25, 0.5, 0.75)
SUBFRAME_STRIDE = 4  # real footage: context 4 frames apart, so frames 1..3 after the last are the sub-frame horizons
REAL_VIDEO = "/work/cache/bikes.mp4"
CONTEXT = 3
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
SSIM_SIGMA = 1.5  # Gaussian window, as in Wang et al. 2004 (11x11)
SSIM_WINDOW = 11
ROBUSTNESS_SEED_BASES = {"validation (settings chosen here)": VALIDATION_SEED_BASE, "fresh 10,700,000+": 10_700_000,
                         "fresh 10,800,000+": 10_800_000}
ROBUSTNESS_METHODS = ("celflow-projected", "repeat-last", "dis-linear")
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2

Frames = list[np.ndarray]  # [3,H,W] float32 in [0,1]
Method = Callable[[Frames, tuple[float, ...]], Frames]


@dataclass(frozen=True)
class Settings:
    weights: str | None = field(default=None, metadata={"help": "extrapolator weights (default: weights/extrapolator-v1.safetensors)"})
    synthetic: int = field(default=16, metadata={"help": "held-out synthetic sequences"})
    size: int = field(default=160, metadata={"help": "synthetic frame side (pixels)"})
    real_video: str = REAL_VIDEO
    real_windows: int = 6
    interpolator: str | None = field(default=None, metadata={
        "help": f"interpolator weights for celflow-projected (default: the shipped weights/{DEFAULT_INTERPOLATOR_WEIGHTS})"})
    recursive: bool = field(default=False, metadata={"help": "also measure celcast-recursive on synthetic"})
    threads: int = 1
    robustness: bool = field(default=True, metadata={"help": "measure the three extra synthetic seed sets"})
    out_dir: str = "benchmarks/extrapolation"


def repeat_last(context: Frames, horizons: tuple[float, ...]) -> Frames:
    """Baseline: hold the last frame."""
    return [context[-1]] * len(horizons)


def _gray_u8(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(to_u8(frame), cv2.COLOR_RGB2GRAY)


def dis_flow_to_previous(context: Frames) -> np.ndarray:
    """OpenCV DIS flow ``F_t->t-1`` ``[H,W,2]``: where each pixel of the last frame was one frame before."""
    dis = cv2.DISOpticalFlow_create(DIS_PRESET)
    return dis.calc(_gray_u8(context[-1]), _gray_u8(context[-2]), None)


def dis_linear(context: Frames, horizons: tuple[float, ...]) -> Frames:
    """Classical baseline: DIS flow F_t->t-1, last frame backward-warped by k times it."""
    last = context[-1]
    flow = dis_flow_to_previous(context)
    height, width = last.shape[1:]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    image = np.ascontiguousarray(last.transpose(1, 2, 0))
    out = []
    for k in horizons:
        warped = cv2.remap(image, xs + k * flow[..., 0], ys + k * flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out.append(warped.transpose(2, 0, 1))
    return out


def dis_projected(context: Frames, horizons: tuple[float, ...]) -> Frames:
    """Diagnostic: DIS flow F_t->t-1 through celflow-projected's continuation and projection.

    Same motion model as the default, other flow: the gap between this and celflow-projected is
    what the flow's accuracy costs, the gap between this and dis-linear what the projection does.
    """
    flow = torch.from_numpy(dis_flow_to_previous(context).transpose(2, 0, 1))[None].float()
    image = torch.from_numpy(context[-1])[None]
    out = []
    for k in horizons:
        displacement = trajectory_displacement(flow, None, torch.tensor(float(k)).view(1, 1, 1, 1))
        out.append(backward_warp(image, extrapolated_flow(displacement))[0].clamp(0, 1).numpy())
    return out


def network(extrapolator: Extrapolator, mode: str) -> Method:
    """The extrapolator as a method, predicting in ``mode`` (direct or recursive)."""
    def predict(context: Frames, horizons: tuple[float, ...]) -> Frames:
        return list(extrapolator.predict(context, horizons, mode=mode))

    return predict


def psnr_u8(prediction: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of two [H,W,3] uint8 images (peak 255)."""
    error = np.mean((prediction.astype(np.float64) - truth.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / max(error, 1e-10))


def ssim(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Mean SSIM of two [H,W,3] uint8 images over RGB (Gaussian window, reflected borders)."""
    x, y = prediction.astype(np.float32) / 255, truth.astype(np.float32) / 255
    blur = lambda image: cv2.GaussianBlur(image, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA)  # noqa: E731
    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y, covariance = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2, blur(x * y) - mu_x * mu_y
    value = ((2 * mu_x * mu_y + SSIM_C1) * (2 * covariance + SSIM_C2)) / ((mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2))
    return float(value.mean())


def to_u8(frame: np.ndarray) -> np.ndarray:
    """[3,H,W] float in [0,1] -> [H,W,3] uint8."""
    return (np.clip(frame.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)


def synthetic_windows(count: int, size: int, horizons: tuple[float, ...], seed_base: int = BENCHMARK_SEED_BASE
                      ) -> list[tuple[Frames, Frames]]:
    """Context and truth frames of ``count`` held-out CelScene sequences from ``seed_base``."""
    windows = []
    for i in range(count):
        sample = heldout_sequence(seed_base + i, size, horizons)
        windows.append(([frame.numpy() for frame in sample.context], [frame.numpy() for frame in sample.targets]))
    return windows


def real_windows(path: str, count: int, stride: int = 1, ahead: tuple[int, ...] = tuple(int(k) for k in STEPS)
                 ) -> list[tuple[Frames, Frames]]:
    """Context frames ``stride`` apart + the frames ``ahead`` of the last, all inside the held-out
    last 20 % of the clip. ``stride`` 4 with ``ahead`` 1, 2, 3 measures horizons 0.25, 0.5, 0.75
    (a drawing interval of 4 frames: the main job's tail at ``--factor 4``)."""
    frames = load_video_frames(path)
    first = int(len(frames) * REAL_TRAIN_FRACTION)
    span = stride * (CONTEXT - 1)
    lasts = np.linspace(first + span, len(frames) - 1 - max(ahead), count).round().astype(int)
    chw = lambda index: frames[index].transpose(2, 0, 1).astype(np.float32) / 255  # noqa: E731
    return [([chw(last - span + stride * i) for i in range(CONTEXT)], [chw(last + k) for k in ahead]) for last in lasts]


def score(windows: list[tuple[Frames, Frames]], horizons: tuple[float, ...], methods: dict[str, Method]) -> dict:
    """Mean PSNR (dB) and SSIM per method per horizon, and seconds per window."""
    result: dict = {}
    for name, method in methods.items():
        psnrs = np.zeros((len(windows), len(horizons)))
        ssims = np.zeros_like(psnrs)
        started = time.perf_counter()
        for w, (context, targets) in enumerate(windows):
            for h, (prediction, target) in enumerate(zip(method(context, horizons), targets)):
                psnrs[w, h] = psnr_u8(to_u8(prediction), to_u8(target))
                ssims[w, h] = ssim(to_u8(prediction), to_u8(target))
        result[name] = {
            "psnr": {f"{k:g}": round(float(v), 3) for k, v in zip(horizons, psnrs.mean(0))},
            "ssim": {f"{k:g}": round(float(v), 4) for k, v in zip(horizons, ssims.mean(0))},
            "seconds_per_window": round((time.perf_counter() - started) / len(windows), 3),
        }
    return result


def table(title: str, scores: dict, metric: str, digits: int) -> list[str]:
    """A Markdown table of ``metric`` per method per horizon, the best per column in bold."""
    horizons = list(next(iter(scores.values()))[metric].keys())
    best = {k: max(s[metric][k] for s in scores.values()) for k in horizons}
    lines = [f"**{title}** ({metric.upper()})", "", "| method | " + " | ".join(f"t+{k}" for k in horizons) + " |",
             "|---|" + "---|" * len(horizons)]
    for name, s in scores.items():
        cells = [f"**{s[metric][k]:.{digits}f}**" if s[metric][k] == best[k] else f"{s[metric][k]:.{digits}f}" for k in horizons]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def targets(results: dict, methods: tuple[str, ...] = ("celflow-projected", "celcast")) -> list[str]:
    """The issue's targets, checked step by step for each of ``methods``; and the new default vs the old."""
    lines = []
    synthetic, real = results["sets"]["synthetic"], results["sets"].get("real")

    def above(scores: dict, method: str, other: str, steps: list[str]) -> list[str]:
        return [k for k in steps if scores[method]["psnr"][k] > scores[other]["psnr"][k]]

    def listed(steps: list[str]) -> str:
        return ", ".join("t+" + k for k in steps) or "none"

    all_steps = list(synthetic["repeat-last"]["psnr"])
    for method in methods:
        for baseline in ("repeat-last", "dis-linear"):
            wins = above(synthetic, method, baseline, all_steps)
            lines.append(f"- {method}: synthetic, PSNR above {baseline} at {len(wins)}/{len(all_steps)} steps ({listed(wins)})")
        if real:
            wins = above(real, method, "repeat-last", ["1", "2", "3", "4"])
            lines.append(f"- {method}: real, PSNR above repeat-last at {len(wins)}/4 of steps 1..4 ({listed(wins)})")
    for name, scores in (("synthetic", synthetic), ("real", real)):
        if scores:
            wins = above(scores, methods[0], methods[1], all_steps)
            lines.append(f"- {methods[0]} vs {methods[1]}, {name}: PSNR higher at {len(wins)}/{len(all_steps)} steps ({listed(wins)})")
    for name in ("synthetic-subframe", "real-subframe"):
        scores = results["sets"].get(name)
        if scores:  # the main job's --tail: extrapolate (methods[0]) against hold (repeat-last)
            gains = [scores[methods[0]]["psnr"][k] - scores["repeat-last"]["psnr"][k] for k in scores["repeat-last"]["psnr"]]
            lines.append(f"- --tail extrapolate vs hold, {name}: PSNR {' / '.join(f'{g:+.2f}' for g in gains)} dB "
                         f"at t+{' / '.join(scores['repeat-last']['psnr'])}")
    return lines


def robustness_lines(robustness: dict) -> list[str]:
    """The default method's PSNR margin over each baseline per step, on each extra seed set."""
    if not robustness:
        return []
    lines = ["**Robustness: celflow-projected minus each baseline, PSNR dB, on other synthetic sets**", "",
             "| set | baseline | " + " | ".join(f"t+{k:g}" for k in STEPS) + " |", "|---|---|" + "---|" * len(STEPS)]
    for name, scores in robustness.items():
        ours = scores["celflow-projected"]["psnr"]
        for baseline in ROBUSTNESS_METHODS[1:]:
            margins = [ours[k] - scores[baseline]["psnr"][k] for k in ours]
            lines.append(f"| {name} | {baseline} | " + " | ".join(f"{m:+.2f}" for m in margins) + " |")
    return lines + [""]


def shown(path: Path) -> str:
    """``path`` relative to the current folder (the repository root) where it lies inside it."""
    path, here = path.resolve(), Path.cwd().resolve()
    return str(path.relative_to(here) if path.is_relative_to(here) else path)


def run(settings: Settings) -> None:
    torch.set_num_threads(settings.threads)
    cv2.setNumThreads(settings.threads)

    extrapolator = Extrapolator(settings.weights, device="cpu", motion="celcast")
    continuation = Extrapolator(settings.interpolator, device="cpu", motion="interpolator")
    methods = {"celflow-projected": network(continuation, "direct"), "celcast": network(extrapolator, "direct"),
               "celcast-recursive": network(extrapolator, "recursive"), "repeat-last": repeat_last, "dis-linear": dis_linear, "dis-projected": dis_projected}
    if not settings.recursive:
        del methods["celcast-recursive"]
    commit = git_commit()
    weights = Path(settings.weights) if settings.weights else weights_dir() / DEFAULT_EXTRAPOLATOR_WEIGHTS
    interpolator = Path(settings.interpolator) if settings.interpolator else weights_dir() / DEFAULT_INTERPOLATOR_WEIGHTS

    results: dict = {"commit": commit, "weights": shown(weights),
                     "weights_metadata": {k: v for k, v in read_metadata(weights).items() if k != "config"},
                     "interpolator_weights": shown(interpolator),
                     "interpolator_metadata": {k: v for k, v in read_metadata(interpolator).items() if k != "config"},
                     "synthetic": {"sequences": settings.synthetic, "size": settings.size, "seeds_from": BENCHMARK_SEED_BASE},
                     "real": {"video": settings.real_video, "windows": settings.real_windows, "held_out_from_fraction": REAL_TRAIN_FRACTION},
                     "device": "cpu", "threads": settings.threads, "sets": {}}
    print("synthetic ...", flush=True)
    windows = synthetic_windows(settings.synthetic, settings.size, STEPS)
    results["sets"]["synthetic"] = score(windows, STEPS, methods)
    print("synthetic sub-frame ...", flush=True)
    windows = synthetic_windows(settings.synthetic, settings.size, SUBFRAME_STEPS)
    results["sets"]["synthetic-subframe"] = score(windows, SUBFRAME_STEPS, {k: v for k, v in methods.items() if k != "celcast-recursive"})
    if settings.real_video and Path(settings.real_video).is_file():
        print("real ...", flush=True)
        # The recursive variant is measured on synthetic only (CPU time on 640x272 frames).
        results["sets"]["real"] = score(real_windows(settings.real_video, settings.real_windows), STEPS,
                                        {k: v for k, v in methods.items() if k != "celcast-recursive"})
        print("real sub-frame ...", flush=True)
        windows = real_windows(settings.real_video, settings.real_windows, stride=SUBFRAME_STRIDE, ahead=(1, 2, 3))
        results["sets"]["real-subframe"] = score(windows, SUBFRAME_STEPS,
                                                 {k: v for k, v in methods.items() if k != "celcast-recursive"})

    if settings.robustness:
        print("robustness ...", flush=True)
        results["robustness"] = {}
        for name, base in ROBUSTNESS_SEED_BASES.items():
            windows = synthetic_windows(settings.synthetic, settings.size, STEPS, base)
            results["robustness"][name] = {"seeds_from": base, **score(windows, STEPS, {k: methods[k] for k in ROBUSTNESS_METHODS})}

    lines = ["# Extrapolation benchmark", "",
             f"Commit `{commit}`, weights `{results['weights']}` ({results['weights_metadata'].get('version', '?')}) for celcast, "
             f"`{results['interpolator_weights']}` ({results['interpolator_metadata'].get('version', '?')}, "
             f"step {results['interpolator_metadata'].get('step', '?')}) for celflow-projected, "
             f"CPU, {settings.threads} thread(s). Made by `fpsboost bench extrapolation`; numbers in `results.json`.", "",
             f"Synthetic: {settings.synthetic} held-out CelScene sequences ({settings.size}x{settings.size}, seeds from {BENCHMARK_SEED_BASE}); "
             f"real: {settings.real_windows} windows of {Path(settings.real_video).name} inside its held-out last 20 %. "
             "Context t-2, t-1, t; scores at t+k. Best per column in bold.", ""]
    for name, title in (("synthetic", "Synthetic, whole steps"), ("synthetic-subframe", "Synthetic, sub-frame tail (hold vs extrapolate)"),
                        ("real", "Real footage (bikes.mp4, held out)"),
                        ("real-subframe", "Real footage, sub-frame tail (context 4 frames apart; hold vs extrapolate)")):
        if name in results["sets"]:
            lines += table(title, results["sets"][name], "psnr", 2) + table(title, results["sets"][name], "ssim", 4)
    lines += robustness_lines(results.get("robustness", {}))
    lines += ["## Targets", ""] + targets(results)
    write_report(settings.out_dir, results, lines)
