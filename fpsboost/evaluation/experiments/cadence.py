"""Does re-timing held drawings make anime on twos move smoothly? Measured against exact ground truth.

A procedural cel scene (fpsboost.data.celgen) is drawn "on twos": source frame k at 24 fps shows the
drawing of time 2*floor(k/2), with mild noise like a lossy encode. The clip is upscaled by
``--factor`` twice through the real planner (fpsboost.timing.plan_all):

* naive: every source frame is a key (``--cadence off``), so the holds stay in the output;
* re-timed: keys from :class:`fpsboost.cadence.CadenceAnalyzer` (``--cadence auto``).

Each output frame at time tau is compared with the scene rendered at tau: the smooth motion an
animator drawing every frame would have produced. Scored frames are the in-betweens: output times
that are not drawing times and lie before the last drawing (after it, both methods can only hold).
Interpolators: a linear blend, the trained CelFlow network when its weights exist, and
``exact_motion``, the ceiling of warping and blending: it knows the scene, warps both keys by the
exact motion from the time its keys imply to each key's drawing, and takes per pixel whichever
warp is closer to the scene at that time (an oracle; no real interpolator can choose better).
Two-frame interpolators never see that motion, only the pair's: ``pair_motion_blend`` and
``pair_motion_oracle`` are given the exact flows between their two keys, turn them into flows
from time t under linear motion (as CelFlow does) and blend the two warps by ``(1 - t, t)``, or
take per pixel the warp closer to the truth: the best a pair-flow interpolator can do.

Partial holds (``--sets partial``): the camera pans every source frame (background on ones) while
the characters are drawn on twos. Built from the same scenes: a character layer (celgen's sprites,
``parallax == 1``) keeps the pose (own motion, rotation, scale, wobble) of its held drawing, scene
time ``hold * floor(tau / hold)``, while the camera (pan, zoom, parallax; it carries the characters
too) and the brightness follow the output time tau, as when characters are composited under a
camera move. Scenes whose camera does not move are skipped. Three groups: the scenes' own camera
moves (``--partial-seeds``), a sweep of slow pans (``--sweep-seeds`` x ``--sweep-speeds``, the
farthest background's speed in pixels per frame), and the same sweep dimmed (``--sweep-gains``:
pictures and truths times the gain, the noise as strong as before: a dark scene). Every output frame before the last source frame
is scored against two truths: "as drawn" (camera at tau, characters at their held pose) and
"smooth" (everything at tau, i.e. ``scene.render(tau)``); in-betweens are the output times between
source frames. Re-timing should do no worse than naive (by ``PARTIAL_HOLD_PSNR_TOLERANCE_DB``): the
picture moves every frame, so the analyser should keep every frame a key. Each clip records the
frames it called holds and the share of pixels showing a character.

    nice -n 10 fpsboost bench cadence  (both sets; writes benchmarks/cadence/RESULTS.json)

``--sets partial`` or ``--sets twos`` re-measures one set and keeps the other's stored results
(``--output``: another JSON file instead of OUT_DIR/RESULTS.json). Options that take several values
are repeated: ``--seeds 0 --seeds 1``.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from ...cadence import CadenceAnalyzer, CadenceSettings
from ...data.cadence_clips import EIGHT_BIT_STEP, UINT16_MAX
from ...data.celgen import CelScene, Layer
from ...errors import OptionError
from ...models.blocks import backward_warp
from ...models.interpolator import linear_motion_flows
from ...models.presets import DEFAULT_INTERPOLATOR_WEIGHTS, weights_dir
from ...timing import Keyframe, plan_all
from ..metrics import oracle_blend
from ..report import git_commit, write_report

if TYPE_CHECKING:
    from ...batching import PairNeighbours

SOURCE_RATE = Fraction(24)
SETS = ("twos", "partial")
FLOW_SCALES = ("auto", "1", "0.5", "0.25")

# [3,H,W] float in [0,1] x2, t, span (source frames between the two) -> [3,H,W]
Interpolator = Callable[[np.ndarray, np.ndarray, float, int], np.ndarray]


@dataclass(frozen=True)
class Clip:
    """A full-twos clip: the scene, what each source frame shows and the frames as decoded."""

    scene: CelScene
    drawing_times: list[int]  # scene time shown by each source frame
    frames_uint16: list[np.ndarray]  # [H, W, 3] uint16, what a decoder would give
    frames_float: list[np.ndarray]  # [3, H, W] float32 in [0, 1], what the network gets
    new_drawings: list[int]  # source frames whose clean image differs from the previous one


DRAWING_CHANGE = 2 / 255  # a clean frame differing by more than two 8-bit steps somewhere is a new drawing


def make_clip(seed: int, count: int, height: int, width: int, hold: int, noise_8bit: float) -> Clip:
    """``count`` source frames of scene ``seed``, each drawing held ``hold`` frames, with noise."""
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


def analyse(frames_uint16: list[np.ndarray], mode: str) -> list[Keyframe]:
    """Keys for 24 fps source frames (``[H, W, 3]`` uint16) from the analyser with default settings but ``mode``."""
    analyzer = CadenceAnalyzer(CadenceSettings(mode=mode))
    keys: list[Keyframe] = []
    for index, frame in enumerate(frames_uint16):
        keys.extend(analyzer.push(index, index / SOURCE_RATE, frame))
    return keys + analyzer.finish()


def psnr(image: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of a float image (clipped to [0, 1]) against the truth."""
    mse = float(np.mean((np.clip(image, 0, 1) - truth) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def score(clip: Clip, keys: list[Keyframe], factor: int, interpolate: Interpolator, truth: dict) -> list[float]:
    """PSNR of every scored in-between (see the module docstring), in output order; ``truth``
    caches the scene rendered at each scene time."""
    end = len(clip.frames_float) / SOURCE_RATE
    drawing_set = set(clip.drawing_times)
    last_drawing = max(drawing_set)
    scores = []
    position = {key.index: number for number, key in enumerate(keys)}
    for frame in plan_all(keys, end, SOURCE_RATE * factor):
        scene_time = frame.time * SOURCE_RATE  # exact, in source frame units
        if scene_time in drawing_set or scene_time >= last_drawing:
            continue
        if frame.is_original:
            image = clip.frames_float[frame.key_a]
        else:
            extra = {}
            if getattr(interpolate, "takes_neighbours", False):  # as the job gives them: the drawings either side
                extra = {"neighbours": pair_neighbours(clip, keys, position[frame.key_a])}
            image = interpolate(clip.frames_float[frame.key_a], clip.frames_float[frame.key_b], float(frame.t),
                                frame.key_b - frame.key_a, **extra)
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


def linear_blend(a: np.ndarray, b: np.ndarray, t: float, span: int = 1) -> np.ndarray:
    """The plain cross-fade: ``(1 - t) * a + t * b``."""
    return (1 - t) * a + t * b


_PAIRS = itertools.count()


def pair_neighbours(clip: Clip, keys: list[Keyframe], first: int) -> PairNeighbours:
    """The :class:`~fpsboost.batching.PairNeighbours` of the pair ``keys[first], keys[first + 1]``:
    the keys before and after it, none across a cut or past the ends (as the job's scheduler)."""
    from ...batching import KeyImage, gather_neighbours

    image = lambda number: KeyImage(keys[number].index, keys[number].time, clip.frames_float[keys[number].index], None)  # noqa: E731
    before = image(first - 1) if first > 0 and not keys[first].cut_before else None
    after = image(first + 2) if first + 2 < len(keys) and not keys[first + 2].cut_before else None
    return gather_neighbours([(image(first), image(first + 1))], [(before, after)], stream=next(_PAIRS))


def network_interpolator(weights: Path, flow_scale: str = "auto") -> Interpolator:
    """CelFlow through the pipeline's backend; ``auto`` picks each pair's flow scale from its width
    and the source frames between its keys, as the pipeline does. A network with motion from four
    frames is given each pair's neighbouring drawings."""
    from ...backends.base import ModelSettings, resolve_flow_scale
    from ...backends.torch_backend import TorchBackend

    backend = TorchBackend(ModelSettings(device="cpu", weights=str(weights)))

    def interpolate(a: np.ndarray, b: np.ndarray, t: float, span: int = 1, neighbours=None) -> np.ndarray:
        scale = resolve_flow_scale(flow_scale, a.shape[-1], span)
        extra = {"neighbours": neighbours} if neighbours is not None else {}
        return backend.interpolate(a[None], b[None], np.zeros(1, np.int64), np.array([t], np.float32), scale, **extra)[0]

    interpolate.takes_neighbours = backend.wants_neighbours
    return interpolate


class ExactMotion:
    """The warp-and-blend ceiling for one clip (see the module docstring).

    Called like any :data:`Interpolator`; it recognises its keys by identity among the clip's frames.
    """

    def __init__(self, clip: Clip) -> None:
        self.clip = clip
        self.key_of = {id(frame): index for index, frame in enumerate(clip.frames_float)}

    def key_times(self, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
        """The scene times of the drawings that keys ``a`` and ``b`` show."""
        return tuple(float(self.clip.drawing_times[self.key_of[id(key)]]) for key in (a, b))

    def warps(self, a: np.ndarray, b: np.ndarray, t: float, time_a: float, time_b: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Both keys (``[1,3,H,W]``) warped to the time ``t`` of the way from ``time_a`` to ``time_b``."""
        shown = time_a + t * (time_b - time_a)
        scene = self.clip.scene
        return (backward_warp(torch.from_numpy(a)[None], scene.flow(shown, time_a)[None]),
                backward_warp(torch.from_numpy(b)[None], scene.flow(shown, time_b)[None]))

    def __call__(self, a: np.ndarray, b: np.ndarray, t: float, span: int = 1) -> np.ndarray:
        time_a, time_b = self.key_times(a, b)
        warped_a, warped_b = self.warps(a, b, t, time_a, time_b)
        truth = self.clip.scene.render(time_a + t * (time_b - time_a))[None]
        return oracle_blend(warped_a, warped_b, truth)[0].numpy()


class ExactPairMotion(ExactMotion):
    """A two-frame interpolator given the exact flows between its keys (see the module docstring)."""

    def __init__(self, clip: Clip, oracle_mask: bool) -> None:
        super().__init__(clip)
        self.oracle_mask = oracle_mask

    def warps(self, a: np.ndarray, b: np.ndarray, t: float, time_a: float, time_b: float) -> tuple[torch.Tensor, torch.Tensor]:
        scene = self.clip.scene
        flow_t0, flow_t1 = linear_motion_flows(scene.flow(time_a, time_b)[None], scene.flow(time_b, time_a)[None],
                                               torch.tensor(t).view(1, 1, 1, 1))
        return backward_warp(torch.from_numpy(a)[None], flow_t0), backward_warp(torch.from_numpy(b)[None], flow_t1)

    def __call__(self, a: np.ndarray, b: np.ndarray, t: float, span: int = 1) -> np.ndarray:
        if self.oracle_mask:
            return super().__call__(a, b, t, span)
        time_a, time_b = self.key_times(a, b)
        warped_a, warped_b = self.warps(a, b, t, time_a, time_b)
        return ((1 - t) * warped_a + t * warped_b)[0].numpy()


# -- partial holds: camera on ones, characters on twos ---------------------------------------

CHARACTER_PARALLAX = 1.0  # celgen's sprites (characters) move with the camera fully; backgrounds less, captions not at all
PARTIAL_HOLD_PSNR_TOLERANCE_DB = 0.05  # "no worse than naive": re-timed may lose at most this much


def posed_layer(layer: Layer, pose_time: float) -> Layer:
    """``layer`` with its own motion (position, rotation, scale, wobble) frozen at ``pose_time``;
    the camera's pan and zoom still apply at whatever time the scene is rendered."""
    return dataclasses.replace(
        layer,
        position=layer.position + layer.velocity * pose_time + 0.5 * layer.acceleration * pose_time * pose_time,
        velocity=np.zeros(2), acceleration=np.zeros(2),
        angle=layer.angle + layer.angular_velocity * pose_time, angular_velocity=0.0,
        scale=layer.scale * math.exp(layer.scale_rate * pose_time), scale_rate=0.0,
        deform_phase=layer.deform_phase + layer.deform_speed * pose_time, deform_speed=0.0,
    )


def render_partial(scene: CelScene, camera_time: float, pose_time: float) -> np.ndarray:
    """``[3, H, W]`` float in [0, 1]: the camera (and brightness) at ``camera_time``, the characters
    at their pose of ``pose_time``; equals ``scene.render(t)`` when both times are ``t``."""
    posed = copy.copy(scene)
    posed.layers = [posed_layer(layer, pose_time) if layer.parallax == CHARACTER_PARALLAX else layer for layer in scene.layers]
    return posed.render(camera_time).numpy()


def character_share(scene: CelScene, count: int, hold: int) -> float:
    """Mean share of the pixels (0..1) where a character is visible, over ``count`` source frames:
    a clip whose characters have left the screen is a plain pan, not a partial hold."""
    background = copy.copy(scene)
    background.layers = [layer for layer in scene.layers if layer.parallax != CHARACTER_PARALLAX]
    shares = []
    for k in range(count):
        difference = np.abs(render_partial(scene, float(k), float(hold * (k // hold))) - background.render(float(k)).numpy())
        shares.append(float((difference.max(axis=0) > DRAWING_CHANGE).mean()))
    return float(np.mean(shares))


def camera_moves(scene: CelScene) -> bool:
    """Whether the scene's camera pans or zooms."""
    return bool(np.any(scene.camera_pan != 0) or scene.camera_zoom != 0)


@dataclass(frozen=True)
class PartialHoldClip:
    """A partial-holds clip: the camera on ones, the characters held ``hold`` frames."""

    scene: CelScene
    hold: int  # source frames per character drawing
    frames_uint16: list[np.ndarray]  # [H, W, 3] uint16
    frames_float: list[np.ndarray]  # [3, H, W] float32 in [0, 1]
    gain: float = 1.0  # brightness: every picture (and truth) is the scene's times this

    def pose_time(self, scene_time: Fraction) -> int:
        """Scene time of the character drawing shown at ``scene_time`` (source frame units)."""
        return self.hold * math.floor(scene_time / self.hold)


def make_partial_clip(scene: CelScene, seed: int, count: int, hold: int, noise_8bit: float, gain: float = 1.0) -> PartialHoldClip:
    """Source frame k: camera at k, characters at pose ``hold * floor(k / hold)``, dimmed by ``gain``,
    with fresh noise (from ``seed``) of the same strength at any gain: a dark scene's weaker picture."""
    rng = np.random.default_rng(seed)
    frames_uint16, frames_float = [], []
    for k in range(count):
        clean = render_partial(scene, float(k), float(hold * (k // hold))).transpose(1, 2, 0) * gain * UINT16_MAX
        noisy = np.clip(np.round(clean + rng.normal(0, noise_8bit * EIGHT_BIT_STEP, clean.shape)), 0, UINT16_MAX)
        frame = noisy.astype(np.uint16)
        frames_uint16.append(frame)
        frames_float.append((frame.astype(np.float32) / UINT16_MAX).transpose(2, 0, 1).copy())
    return PartialHoldClip(scene, hold, frames_uint16, frames_float, gain)


@dataclass
class PartialScores:
    """Per-frame PSNR (dB) in output order. ``inbetween_*``: output times between source frames;
    ``all_*``: every output frame before the last source frame (also catches a source frame that
    re-timing no longer shows as itself)."""

    inbetween_as_drawn: list[float] = dataclasses.field(default_factory=list)
    inbetween_smooth: list[float] = dataclasses.field(default_factory=list)
    all_as_drawn: list[float] = dataclasses.field(default_factory=list)
    all_smooth: list[float] = dataclasses.field(default_factory=list)


def score_partial(clip: PartialHoldClip, keys: list[Keyframe], factor: int, interpolate: Interpolator,
                  truths: dict, made: dict) -> PartialScores:
    """Score the output of ``keys`` against both truths. ``truths`` caches rendered truths;
    ``made`` caches this interpolator's in-betweens by (key_a, key_b, t): the interpolators are
    deterministic, so naive and re-timed plans that ask for the same in-between get the same image."""
    last_source = len(clip.frames_float) - 1
    scores = PartialScores()
    for frame in plan_all(keys, len(clip.frames_float) / SOURCE_RATE, SOURCE_RATE * factor):
        scene_time = frame.time * SOURCE_RATE  # exact, in source frame units
        if scene_time >= last_source:
            continue
        if frame.is_original:
            image = clip.frames_float[frame.key_a]
        else:
            request = (frame.key_a, frame.key_b, frame.t)
            if request not in made:
                made[request] = interpolate(clip.frames_float[frame.key_a], clip.frames_float[frame.key_b], float(frame.t),
                                            frame.key_b - frame.key_a)
            image = made[request]
        if scene_time not in truths:
            truths[scene_time] = (render_partial(clip.scene, float(scene_time), float(clip.pose_time(scene_time))) * clip.gain,
                                  clip.scene.render(float(scene_time)).numpy() * clip.gain)
        as_drawn, smooth = (psnr(image, truth) for truth in truths[scene_time])
        scores.all_as_drawn.append(as_drawn)
        scores.all_smooth.append(smooth)
        if scene_time.denominator != 1:
            scores.inbetween_as_drawn.append(as_drawn)
            scores.inbetween_smooth.append(smooth)
    return scores


def far_background_parallax(scene: CelScene) -> float:
    """The parallax of the scene's farthest background layer."""
    return min(layer.parallax for layer in scene.layers if 0 < layer.parallax < CHARACTER_PARALLAX)


def set_background_speed(scene: CelScene, speed_px: float) -> None:
    """Re-scale the camera pan so the farthest background moves ``speed_px`` pixels per frame
    (the pan keeps its direction; a scene without a pan pans right)."""
    pan_speed = float(np.linalg.norm(scene.camera_pan))
    direction = scene.camera_pan / pan_speed if pan_speed > 0 else np.array([1.0, 0.0])
    scene.camera_pan = direction * speed_px / far_background_parallax(scene)


PARTIAL_METRICS = ("inbetween_as_drawn", "inbetween_smooth", "all_as_drawn", "all_smooth")


def measure_partial_clip(settings: Settings, interpolators: dict[str, Interpolator], seed: int,
                         background_speed: float | None, gain: float = 1.0) -> dict | None:
    """One partial-hold clip, naive and re-timed; ``background_speed`` (px per frame) overrides the
    scene's own pan. None when the scene's camera does not move."""
    scene = CelScene(seed, settings.partial_height, settings.partial_width)
    if background_speed is not None:
        set_background_speed(scene, background_speed)
    if not camera_moves(scene):
        print(f"partial holds: seed {seed} skipped (its camera does not move)")
        return None
    clip = make_partial_clip(scene, seed, settings.partial_frames, settings.hold, settings.noise, gain)
    naive_keys, retimed_keys = analyse(clip.frames_uint16, "off"), analyse(clip.frames_uint16, "auto")
    retimed_indices = [key.index for key in retimed_keys]
    holds = [k for k in range(settings.partial_frames) if k not in retimed_indices]
    speed = float(np.linalg.norm(scene.camera_pan)) * far_background_parallax(scene)
    entry: dict = {"seed": seed, "gain": gain, "far_background_px_per_frame": speed, "camera_zoom_per_frame": float(scene.camera_zoom),
                   "character_share": character_share(scene, settings.partial_frames, settings.hold),
                   "holds": holds, "keys_equal_naive": retimed_indices == [key.index for key in naive_keys], "scores": {}}
    truths: dict = {}
    for name, interpolate in interpolators.items():
        made: dict = {}
        naive = score_partial(clip, naive_keys, settings.factor, interpolate, truths, made)
        retimed = score_partial(clip, retimed_keys, settings.factor, interpolate, truths, made)
        line = {metric: {"naive_db": float(np.mean(getattr(naive, metric))), "retimed_db": float(np.mean(getattr(retimed, metric)))}
                for metric in PARTIAL_METRICS}
        entry["scores"][name] = line
        print(f"partial seed {seed:2d} x{gain:<4g} {name:12s} background {speed:5.2f} px/f  characters {entry['character_share']:4.0%}  "
              f"holds {len(holds):2d}  in-betweens "
              f"as drawn: naive {line['inbetween_as_drawn']['naive_db']:6.2f} re-timed {line['inbetween_as_drawn']['retimed_db']:6.2f}  "
              f"smooth: naive {line['inbetween_smooth']['naive_db']:6.2f} re-timed {line['inbetween_smooth']['retimed_db']:6.2f} dB "
              f"({len(naive.inbetween_smooth)} in-betweens)")
    return entry


def summarise_partial(clips: list[dict]) -> dict:
    """Per interpolator and metric: mean naive and re-timed dB over the clips, their difference,
    the worst clip's difference, and whether every clip is no worse than naive."""
    summary: dict = {"clips": len(clips), "frames_called_holds": sum(len(clip["holds"]) for clip in clips),
                     "clips_with_keys_equal_naive": sum(clip["keys_equal_naive"] for clip in clips), "interpolators": {}}
    for name in clips[0]["scores"] if clips else []:
        lines: dict = {}
        for metric in PARTIAL_METRICS:
            naive = [clip["scores"][name][metric]["naive_db"] for clip in clips]
            retimed = [clip["scores"][name][metric]["retimed_db"] for clip in clips]
            lines[metric] = {"naive_db": float(np.mean(naive)), "retimed_db": float(np.mean(retimed)),
                             "retimed_minus_naive_db": float(np.mean(retimed) - np.mean(naive)),
                             "worst_clip_difference_db": float(min(r - n for r, n in zip(retimed, naive)))}
        lines["no_worse"] = all(line["worst_clip_difference_db"] >= -PARTIAL_HOLD_PSNR_TOLERANCE_DB for line in lines.values())
        summary["interpolators"][name] = lines
    return summary


def measure_partial_holds(settings: Settings, interpolators: dict[str, Interpolator]) -> dict:
    """The partial-holds set (see the module docstring): the scenes' own camera moves, then a sweep
    of slow pans on ``--sweep-seeds``; returns its JSON record."""
    groups: dict[str, list[dict]] = {"scene_pans": [], "slow_pan_sweep": [], "dim_slow_pan_sweep": []}
    for seed in settings.partial_seeds:
        entry = measure_partial_clip(settings, interpolators, seed, None)
        if entry is not None:
            groups["scene_pans"].append(entry)
    for seed in settings.sweep_seeds:
        for speed in settings.sweep_speeds:
            entry = measure_partial_clip(settings, interpolators, seed, speed)
            if entry is not None:
                groups["slow_pan_sweep"].append(entry)
    for gain in settings.sweep_gains:
        for seed in settings.sweep_seeds:
            for speed in settings.sweep_speeds:
                entry = measure_partial_clip(settings, interpolators, seed, speed, gain)
                if entry is not None:
                    groups["dim_slow_pan_sweep"].append(entry)
    return {"commit": git_commit(),
            "settings": {"seeds": settings.partial_seeds, "sweep_seeds": settings.sweep_seeds, "sweep_speeds_px_per_frame": settings.sweep_speeds,
                         "sweep_gains": settings.sweep_gains,
                         "frames": settings.partial_frames, "height": settings.partial_height, "width": settings.partial_width,
                         "hold": settings.hold, "factor": settings.factor, "noise": settings.noise, "tolerance_db": PARTIAL_HOLD_PSNR_TOLERANCE_DB},
            "clips": groups, "summary": {group: summarise_partial(clips) for group, clips in groups.items()}}


def print_partial_summary(record: dict) -> None:
    for group, summary in record["summary"].items():
        print(f"partial holds, {group}: {summary['clips']} clips, {summary['frames_called_holds']} source frames called holds, "
              f"re-timed keys = naive keys on {summary['clips_with_keys_equal_naive']} of {summary['clips']} clips")
        for name, lines in summary["interpolators"].items():
            for metric in PARTIAL_METRICS:
                line = lines[metric]
                print(f"  {name:12s} {metric:18s} naive {line['naive_db']:.3f} dB  re-timed {line['retimed_db']:.3f} dB  "
                      f"re-timed - naive {line['retimed_minus_naive_db']:+.3f} dB (worst clip {line['worst_clip_difference_db']:+.3f})")
            print(f"  {name:12s} no worse than naive (every clip and metric >= -{PARTIAL_HOLD_PSNR_TOLERANCE_DB} dB): {lines['no_worse']}")


# -- full twos ----------------------------------------------------------------------------------

def measure_twos(settings: Settings, interpolators: dict[str, Interpolator]) -> dict:
    """The full-twos set (see the module docstring); returns its JSON record."""
    oracles = {"exact_motion": ExactMotion, "pair_motion_blend": lambda clip: ExactPairMotion(clip, oracle_mask=False),
               "pair_motion_oracle": lambda clip: ExactPairMotion(clip, oracle_mask=True)}
    names = [*interpolators, *oracles]
    results: dict[str, dict] = {name: {"naive": [], "retimed": []} for name in names}
    key_check = []
    timing: dict[str, list[float]] = {"naive": [], "retimed": []}
    for seed in settings.seeds:
        clip = make_clip(seed, settings.frames, settings.height, settings.width, settings.hold, settings.noise)
        naive_keys, retimed_keys = analyse(clip.frames_uint16, "off"), analyse(clip.frames_uint16, "auto")
        key_check.append({"seed": seed, "keys": [key.index for key in retimed_keys], "expected": clip.new_drawings,
                          "correct": [key.index for key in retimed_keys] == clip.new_drawings})
        truth: dict = {}
        timing["naive"].append(timing_error(clip, naive_keys, settings.factor))
        timing["retimed"].append(timing_error(clip, retimed_keys, settings.factor))
        for name, interpolate in {**interpolators, **{name: make(clip) for name, make in oracles.items()}}.items():
            naive = score(clip, naive_keys, settings.factor, interpolate, truth)
            retimed = score(clip, retimed_keys, settings.factor, interpolate, truth)
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
    chosen = {key: getattr(settings, key) for key in ("seeds", "frames", "height", "width", "hold", "factor", "noise", "flow_scale")}
    record = {"commit": git_commit(), "settings": {**chosen, "weights": str(settings.weights), "output": str(output_path(settings))},
              "keys": key_check, "summary": summary,
              "timing_error_frames": {mode: float(np.mean(errors)) for mode, errors in timing.items()}}
    for name, line in summary.items():
        print(f"{name:12s} naive {line['naive_db']:.2f} dB  re-timed {line['retimed_db']:.2f} dB  gain {line['gain_db']:+.2f} dB")
    print("timing error (source frames, motion-exact interpolator):", record["timing_error_frames"])
    return record


PARTIAL_KEY = "partial_holds"


@dataclass(frozen=True)
class Settings:
    sets: tuple[str, ...] = field(default=SETS, metadata={
        "help": "which sets to measure (twos, partial; repeatable); the stored results of the others are kept"})
    seeds: tuple[int, ...] = field(default=(0, 1, 2, 3, 4, 6), metadata={"help": "full twos: scene seeds (repeatable)"})
    frames: int = field(default=24, metadata={"help": "source frames per clip (24 fps)"})
    height: int = 144
    width: int = 256
    partial_seeds: tuple[int, ...] = field(default=tuple(range(12)), metadata={
        "help": "partial holds: scene seeds (those whose camera does not move are skipped; repeatable)"})
    sweep_seeds: tuple[int, ...] = field(default=(2, 3, 6), metadata={
        "help": "partial holds: scenes re-run with slow pans of --sweep-speeds (repeatable)"})
    sweep_gains: tuple[float, ...] = field(default=(0.3, 0.12), metadata={
        "help": "partial holds: the slow-pan sweep again with the pictures dimmed by these factors (noise unchanged; repeatable)"})
    sweep_speeds: tuple[float, ...] = field(default=(0.1, 0.2, 0.3, 0.5), metadata={
        "help": "partial holds: farthest-background speeds (px per frame) of the slow-pan sweep (repeatable)"})
    partial_frames: int = 24
    partial_height: int = 108
    partial_width: int = 192
    hold: int = field(default=2, metadata={"help": "frames per drawing: 2 = on twos"})
    factor: int = 2
    noise: float = field(default=1.0, metadata={"help": "noise std in 8-bit steps"})
    threads: int = field(default=1, metadata={"help": "torch CPU threads"})
    flow_scale: str = field(default="auto", metadata={
        "help": "CelFlow's flow scale: auto = per pair, as the pipeline (width x source frames between the keys); or 1, 0.5, 0.25"})
    weights: str = field(default=str(weights_dir() / DEFAULT_INTERPOLATOR_WEIGHTS), metadata={"help": "CelFlow weights (default: the shipped network)"})
    output: str | None = field(default=None, metadata={"help": "the JSON file to update (default: OUT_DIR/RESULTS.json)"})
    out_dir: str = "benchmarks/cadence"


def output_path(settings: Settings) -> Path:
    """The JSON file the run updates: ``--output``, else ``RESULTS.json`` in ``--out-dir``."""
    return Path(settings.output) if settings.output else Path(settings.out_dir) / "RESULTS.json"


def run(settings: Settings) -> None:
    unknown = [name for name in settings.sets if name not in SETS]
    if unknown or not settings.sets:
        raise OptionError(f"--sets wants {' or '.join(SETS)}, got {', '.join(unknown) or 'none'}")
    if settings.flow_scale not in FLOW_SCALES:
        raise OptionError(f"--flow-scale wants one of {', '.join(FLOW_SCALES)}, got {settings.flow_scale!r}")
    torch.set_num_threads(settings.threads)

    interpolators: dict[str, Interpolator] = {"linear_blend": linear_blend}
    weights = Path(settings.weights)
    if weights.is_file():
        interpolators["celflow"] = network_interpolator(weights, settings.flow_scale)
    else:
        print(f"no weights at {weights}: measuring the linear blend only")

    output = output_path(settings)
    stored = json.loads(output.read_text()) if output.is_file() else {}
    # A set kept from the stored file keeps its commit; the machine and command recorded are this run's.
    stored = {key: value for key, value in stored.items() if key not in ("machine", "command")}
    record = measure_twos(settings, interpolators) if "twos" in settings.sets else {k: v for k, v in stored.items() if k != PARTIAL_KEY}
    if "partial" in settings.sets:
        record[PARTIAL_KEY] = measure_partial_holds(settings, interpolators)
        print_partial_summary(record[PARTIAL_KEY])
    elif PARTIAL_KEY in stored:
        record[PARTIAL_KEY] = stored[PARTIAL_KEY]
    write_report(output.parent, record, [f"wrote {output}"], json_name=output.name, markdown_name=None)
