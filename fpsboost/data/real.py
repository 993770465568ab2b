"""Real footage for training and evaluation: where it comes from and how it becomes triplets.

Nothing here is committed to the repository or downloaded from a model hub. The one large source,
Big Buck Bunny (1280x720, 24 fps, 14,315 frames of real animation), ships inside the moviepy 2.2.1
source distribution on the package registry; :func:`fetch_big_buck_bunny` asks pip for it once and
keeps the film in the data cache. Any other clip is a path.

A training clip becomes an array of triplets ``[M,3,H,W,3]`` uint8 RGB (frames i, i+1, i+2: the
middle one is the truth at t = 0.5 between the outer two), taken from the first
:data:`REAL_TRAIN_FRACTION` of its frames only; the rest is held out for evaluation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

REAL_TRAIN_FRACTION = 0.8  # first 80 % of a real clip's frames train, the rest are held out
BIG_BUCK_BUNNY = "bbb"  # the name that stands for the fetched film wherever a clip path is asked for
MOVIEPY_SDIST = "moviepy==2.2.1"
BBB_ZIP_MEMBER = "docs/_static/medias/getting_started/moviepy_10_minutes/moviepy_10_minutes.zip"
BBB_VIDEO_MEMBER = "moviepy_10_minutes/resources/bbb.mp4"
CACHE_ENV = "FPSBOOST_CACHE_DIR"
# A triplet whose frames differ by more than this (mean absolute 8-bit difference between neighbours)
# spans a scene cut, and one whose frames differ by less is a still: neither teaches motion.
CUT_DIFFERENCE = 40.0
STILL_DIFFERENCE = 0.5


def data_cache_dir() -> Path:
    """``$FPSBOOST_CACHE_DIR/data`` or ``~/.cache/fpsboost/data``."""
    root = os.environ.get(CACHE_ENV)
    return (Path(root) if root else Path.home() / ".cache" / "fpsboost") / "data"


def fetch_big_buck_bunny(cache_dir: Path | None = None) -> Path:
    """The path of Big Buck Bunny in the data cache, fetched from the moviepy sdist on first use."""
    target = (cache_dir or data_cache_dir()) / "bbb.mp4"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", MOVIEPY_SDIST, "-d", scratch, "-q"]
        result = subprocess.run(command, capture_output=True, text=True)
        archives = list(Path(scratch).glob("moviepy-*.tar.gz"))
        if result.returncode != 0 or not archives:
            raise InputError(f"could not fetch Big Buck Bunny ({' '.join(command[2:-3])}): {result.stderr.strip().splitlines()[-1:] or 'no archive'}")
        with tarfile.open(archives[0]) as sdist:
            member = next((m for m in sdist.getmembers() if m.name.endswith(BBB_ZIP_MEMBER)), None)
            if member is None:
                raise InputError(f"{archives[0].name} has no {BBB_ZIP_MEMBER}")
            with sdist.extractfile(member) as packed, zipfile.ZipFile(packed) as bundle:
                partial = target.with_suffix(".part")
                partial.write_bytes(bundle.read(BBB_VIDEO_MEMBER))
                partial.replace(target)
    return target


def resolve_clip(name: str) -> Path:
    """A clip path, or the fetched film for :data:`BIG_BUCK_BUNNY`."""
    if name == BIG_BUCK_BUNNY:
        return fetch_big_buck_bunny()
    path = Path(name)
    if not path.is_file():
        raise InputError(f"real clip {name}: no such file")
    return path


@dataclass(frozen=True)
class TripletSpec:
    """How a clip's training part becomes triplets: at most ``max_triplets`` of them, spread evenly
    over it, scaled down to at most ``max_width`` pixels wide (keeping the aspect ratio)."""

    max_triplets: int = 1000
    max_width: int = 640
    train_fraction: float = REAL_TRAIN_FRACTION
    length: int = 3  # frames per window: 3 (a pair and its middle), 5 (and each frame's other neighbour)


def _frame_count(container) -> int:
    stream = container.streams.video[0]
    if stream.frames:
        return stream.frames
    return sum(1 for _ in container.demux(stream) if _.size)


def read_triplets(path: Path, spec: TripletSpec) -> np.ndarray:
    """Windows ``[M,length,H,W,3]`` uint8 RGB from the training part of ``path`` (cuts and stills left out)."""
    import av

    with av.open(str(path)) as container:
        total = _frame_count(container)
    length = spec.length
    last_start = int(total * spec.train_fraction) - length
    stride = max(length, -(-(last_start + 1) // spec.max_triplets))
    triplets, window = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        height = None
        for index, frame in enumerate(container.decode(stream)):
            start = index - index % stride
            if start > last_start:
                break
            if index - start >= length:
                continue
            if frame.width > spec.max_width:
                height = height or int(round(frame.height * spec.max_width / frame.width / 2)) * 2
                frame = frame.reformat(width=spec.max_width, height=height)
            window.append(frame.to_ndarray(format="rgb24"))
            if len(window) == length:
                differences = [np.abs(window[i + 1].astype(np.int16) - window[i]).mean() for i in range(length - 1)]
                if STILL_DIFFERENCE < min(differences) and max(differences) < CUT_DIFFERENCE:
                    triplets.append(np.stack(window))
                window = []
    if not triplets:
        raise InputError(f"real clip {path}: no moving triplet in its training part")
    return np.stack(triplets)


def training_triplets(name: str, spec: TripletSpec) -> np.ndarray:
    """:func:`read_triplets` for a clip name, cached in the data cache (decoding the film takes minutes)."""
    path = resolve_clip(name)
    stat = path.stat()
    windows = "" if spec.length == 3 else f"-l{spec.length}"  # triplet caches keep their old names
    key = f"{path.stem}-{stat.st_size}-n{spec.max_triplets}-w{spec.max_width}-f{spec.train_fraction}{windows}.npy"
    cached = data_cache_dir() / "triplets" / key
    if cached.is_file():
        return np.load(cached, mmap_mode="r")
    triplets = read_triplets(path, spec)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".part.npy")
    np.save(partial, triplets)
    partial.replace(cached)
    return np.load(cached, mmap_mode="r")


def read_windows(path: Path, starts: list[int], length: int = 3, max_width: int | None = None) -> dict[int, np.ndarray]:
    """Frames ``start .. start + length - 1`` for each start, ``{start: [length,H,W,3]}`` uint8 RGB,
    decoding the clip once from the beginning and keeping only those frames (a feature film does
    not fit in memory whole)."""
    import av

    wanted: dict[int, list[int]] = {}
    for start in starts:
        for index in range(start, start + length):
            wanted.setdefault(index, []).append(start)
    windows: dict[int, list[np.ndarray]] = {start: [] for start in starts}
    last = max(wanted) if wanted else -1
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        height = None
        for index, frame in enumerate(container.decode(stream)):
            if index > last:
                break
            if index not in wanted:
                continue
            if max_width and frame.width > max_width:
                height = height or int(round(frame.height * max_width / frame.width / 2)) * 2
                frame = frame.reformat(width=max_width, height=height)
            picture = frame.to_ndarray(format="rgb24")
            for start in wanted[index]:
                windows[start].append(picture)
    return {start: np.stack(frames) for start, frames in windows.items() if len(frames) == length}


def spans_cut(window: np.ndarray) -> bool:
    """Whether consecutive frames of ``[N,H,W,3]`` differ by a scene cut's amount (:data:`CUT_DIFFERENCE`)."""
    return any(np.abs(window[i + 1].astype(np.int16) - window[i]).mean() >= CUT_DIFFERENCE for i in range(len(window) - 1))


def heldout_windows(path: Path, heldout_from: float, limit: int, length: int = 3, max_width: int | None = None) -> list[np.ndarray]:
    """Up to ``limit`` evenly spaced windows of ``length`` frames from the part of the clip after
    ``heldout_from`` (a fraction of its frames), leaving out windows that span a scene cut."""
    import av

    with av.open(str(path)) as container:
        total = _frame_count(container)
    first = int(total * heldout_from)
    count = total - length + 1 - first
    if count <= 0 or limit <= 0:
        return []
    evenly = np.unique(np.linspace(first, total - length, min(limit, count)).round().astype(int)).tolist()
    # Spares for windows that span a cut (a film has hundreds): as many again, in between.
    spares = [start for start in np.unique(np.linspace(first, total - length, min(2 * limit, count)).round().astype(int)).tolist()
              if start not in evenly]
    windows = read_windows(path, evenly + spares, length, max_width)
    chosen = [start for start in evenly if start in windows and not spans_cut(windows[start])]
    for start in spares:
        if len(chosen) >= limit:
            break
        if start in windows and not spans_cut(windows[start]):
            chosen.append(start)
    return [windows[start] for start in sorted(chosen)]
