"""Does re-timing held drawings make anime on twos move smoothly? Measured against exact ground truth.

A procedural cel scene (fpsboost.data.celgen) is drawn "on twos": source frame k at 24 fps shows the
drawing of time 2*floor(k/2), with mild noise like a lossy encode. The clip is upscaled by
``--factor`` twice through the real planner (fpsboost.timing.plan_all):

* naive: every source frame is a key (``--cadence off``), so the holds stay in the output;
* re-timed: keys from :class:`fpsboost.cadence.CadenceAnalyzer` (``--cadence auto``).

Each output frame at time tau is compared with the scene rendered at tau: the smooth motion an
animator drawing every frame would have produced. Scored frames are the in-betweens: output times
that are not drawing times and lie before the last drawing (after it, both methods can only hold).
Interpolators: a linear blend, and the trained CelFlow network when its weights exist.

Run:  .venv/bin/python benchmarks/cadence/run.py  (writes benchmarks/cadence/RESULTS.json)
"""

from __future__ import annotations

import argparse
import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

from fpsboost.cadence import CadenceAnalyzer, CadenceSettings
from fpsboost.data.celgen import CelScene
from fpsboost.timing import Keyframe, plan_all

SOURCE_RATE = Fraction(24)
UINT16_MAX = 65535
EIGHT_BIT_STEP = 257
HERE = Path(__file__).resolve().parent

Interpolator = Callable[[np.ndarray, np.ndarray, float], np.ndarray]  # [3,H,W] float in [0,1] x2, t -> [3,H,W]


@dataclass(frozen=True)
class Clip:
    scene: CelScene
    drawing_times: list[int]  # scene time shown by each source frame
    frames_uint16: list[np.ndarray]  # [H, W, 3] uint16, what a decoder would give
    frames_float: list[np.ndarray]  # [3, H, W] float32 in [0, 1], what the network gets
    new_drawings: list[int]  # source frames whose clean image differs from the previous one


DRAWING_CHANGE = 2 / 255  # a clean frame differing by more than two 8-bit steps somewhere is a new drawing


def make_clip(seed: int, count: int, height: int, width: int, hold: int, noise_8bit: float) -> Clip:
    scene = CelScene(seed, height, width)
    rng = np.random.default_rng(seed)
    drawing_times = [hold * (k // hold) for k in range(count)]
    rendered = {time: scene.render(float(time)).numpy() for time in set(drawing_times)}
    frames_uint16, frames_float = [], []
    for time in drawing_times:
        clean = rendered[time].transpose(1, 2, 0) * UINT16_MAX
        noisy = np.clip(np.round(clean + rng.normal(0, noise_8bit * EIGHT_BIT_STEP, clean.shape)), 0, UINT16_MAX)
        frame = noisy.astype(np.uint16)
        frames_uint16.append(frame)
        frames_float.append((frame.astype(np.float32) / UINT16_MAX).transpose(2, 0, 1).copy())
    new_drawings = [0] + [k for k in range(1, count) if np.abs(rendered[drawing_times[k]] - rendered[drawing_times[k - 1]]).max() > DRAWING_CHANGE]
    return Clip(scene, drawing_times, frames_uint16, frames_float, new_drawings)


def analyse(clip: Clip, mode: str) -> list[Keyframe]:
    analyzer = CadenceAnalyzer(CadenceSettings(mode=mode))
    keys: list[Keyframe] = []
    for index, frame in enumerate(clip.frames_uint16):
        keys.extend(analyzer.push(index, index / SOURCE_RATE, frame))
    return keys + analyzer.finish()


def psnr(image: np.ndarray, truth: np.ndarray) -> float:
    mse = float(np.mean((np.clip(image, 0, 1) - truth) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def score(clip: Clip, keys: list[Keyframe], factor: int, interpolate: Interpolator, truth: dict) -> list[float]:
    """PSNR of every scored in-between (see the module docstring), in output order; ``truth``
    caches the scene rendered at each scene time."""
    end = len(clip.frames_float) / SOURCE_RATE
    drawing_set = set(clip.drawing_times)
    last_drawing = max(drawing_set)
    scores = []
    for frame in plan_all(keys, end, SOURCE_RATE * factor):
        scene_time = frame.time * SOURCE_RATE  # exact, in source frame units
        if scene_time in drawing_set or scene_time >= last_drawing:
            continue
        if frame.is_original:
            image = clip.frames_float[frame.key_a]
        else:
            image = interpolate(clip.frames_float[frame.key_a], clip.frames_float[frame.key_b], float(frame.t))
        if scene_time not in truth:
            truth[scene_time] = clip.scene.render(float(scene_time)).numpy()
        scores.append(psnr(image, truth[scene_time]))
    return scores


def timing_error(clip: Clip, keys: list[Keyframe], factor: int) -> float:
    """Mean |pose time shown - output time| over the scored in-betweens, in source frames, for an
    interpolator that is exact in motion (it shows the pose at the time its two keys imply)."""
    end = len(clip.frames_float) / SOURCE_RATE
    drawing_set, last_drawing = set(clip.drawing_times), max(clip.drawing_times)
    errors = []
    for frame in plan_all(keys, end, SOURCE_RATE * factor):
        scene_time = frame.time * SOURCE_RATE
        if scene_time in drawing_set or scene_time >= last_drawing:
            continue
        shown = Fraction(clip.drawing_times[frame.key_a])
        if not frame.is_original:
            shown += frame.t * (clip.drawing_times[frame.key_b] - clip.drawing_times[frame.key_a])
        errors.append(abs(float(shown - scene_time)))
    return float(np.mean(errors))


def linear_blend(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return (1 - t) * a + t * b


def network_interpolator(weights: Path) -> Interpolator:
    from fpsboost.backends.base import ModelSettings
    from fpsboost.backends.torch_backend import TorchBackend

    backend = TorchBackend(ModelSettings(device="cpu", weights=str(weights)))

    def interpolate(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        return backend.interpolate(a[None], b[None], np.zeros(1, np.int64), np.array([t], np.float32))[0]

    return interpolate


def commit_measured() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "fpsboost/cadence.py", "fpsboost/timing.py"],
                           capture_output=True, text=True, cwd=HERE.parents[1]).stdout.strip()
    return head + ("+uncommitted cadence/timing changes" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 6])
    parser.add_argument("--frames", type=int, default=24, help="source frames per clip (24 fps)")
    parser.add_argument("--height", type=int, default=144)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--hold", type=int, default=2, help="frames per drawing: 2 = on twos")
    parser.add_argument("--factor", type=int, default=2)
    parser.add_argument("--noise", type=float, default=1.0, help="noise std in 8-bit steps")
    parser.add_argument("--weights", type=Path, default=HERE.parents[1] / "weights" / "celflow-s-v1.safetensors")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.json")
    args = parser.parse_args()

    interpolators: dict[str, Interpolator] = {"linear_blend": linear_blend}
    if args.weights.is_file():
        interpolators["celflow"] = network_interpolator(args.weights)
    else:
        print(f"no weights at {args.weights}: measuring the linear blend only")

    results: dict[str, dict] = {name: {"naive": [], "retimed": []} for name in interpolators}
    key_check = []
    timing: dict[str, list[float]] = {"naive": [], "retimed": []}
    for seed in args.seeds:
        clip = make_clip(seed, args.frames, args.height, args.width, args.hold, args.noise)
        naive_keys, retimed_keys = analyse(clip, "off"), analyse(clip, "auto")
        key_check.append({"seed": seed, "keys": [key.index for key in retimed_keys], "expected": clip.new_drawings,
                          "correct": [key.index for key in retimed_keys] == clip.new_drawings})
        truth: dict = {}
        timing["naive"].append(timing_error(clip, naive_keys, args.factor))
        timing["retimed"].append(timing_error(clip, retimed_keys, args.factor))
        for name, interpolate in interpolators.items():
            naive = score(clip, naive_keys, args.factor, interpolate, truth)
            retimed = score(clip, retimed_keys, args.factor, interpolate, truth)
            results[name]["naive"].append(float(np.mean(naive)))
            results[name]["retimed"].append(float(np.mean(retimed)))
            print(f"seed {seed} {name:12s} naive {np.mean(naive):6.2f} dB  re-timed {np.mean(retimed):6.2f} dB  "
                  f"({len(retimed)} in-betweens)  keys correct: {key_check[-1]['correct']}")

    summary = {
        name: {
            "naive_db": float(np.mean(scores["naive"])),
            "retimed_db": float(np.mean(scores["retimed"])),
            "gain_db": float(np.mean(scores["retimed"]) - np.mean(scores["naive"])),
            "per_seed_gain_db": [r - n for r, n in zip(scores["retimed"], scores["naive"])],
        }
        for name, scores in results.items()
    }
    record = {"commit": commit_measured(), "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "keys": key_check, "summary": summary,
              "timing_error_frames": {mode: float(np.mean(errors)) for mode, errors in timing.items()}}
    args.output.write_text(json.dumps(record, indent=1) + "\n")
    for name, line in summary.items():
        print(f"{name:12s} naive {line['naive_db']:.2f} dB  re-timed {line['retimed_db']:.2f} dB  gain {line['gain_db']:+.2f} dB")
    print("timing error (source frames, motion-exact interpolator):", record["timing_error_frames"])


if __name__ == "__main__":
    main()
