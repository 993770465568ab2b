"""Where the pan rule's thresholds come from: the global shift of held frames against pans.

:func:`fpsboost.cadence.global_shift` measures, between a run's key and a later frame, the
least-squares translation of the blurred thumbnail (length in thumbnail pixels) and the share of
the squared difference it explains. The analyser calls a would-be hold a pan when the length is at
least ``CadenceSettings.pan_shift_px`` *and* the share at least ``PAN_EXPLAINED_SHARE``.

* Held frames (must stay holds): the same drawing with fresh noise (8-bit sigma 1 and 3), JPEG
  round trips (quality 50-90) and re-quantised 8x8 blocks (half of them one code value off), each
  for 8 cel scenes at full brightness and dark (x0.12); the held frames of tests/data/sample.mp4
  (x264, CRF 26) against their drawing's key; the held frames of the full-twos benchmark clips.
* Pans (should be keys): benchmark scenes 2, 3, 6 with the camera re-timed so the farthest
  background moves 0.1-0.5 px per frame, characters on twos, noise sigma 1; also dimmed (x0.3,
  x0.12), where the same shift explains less against the same noise. Source frame 1 against
  key frame 0 (the characters keep their pose): the first frame the rule can catch.

Also checks that the full-twos benchmark clips still get exactly one key per real drawing.

    nice -n 10 fpsboost bench cadence-pan-shift   (about a minute)

Prints each group's range of shifts and explained shares and how many it calls pans; records them
in ``pan_shift.json`` in ``--out-dir``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from ...cadence import (PAN_EXPLAINED_SHARE, SLOW_PAN_EXPLAINED_SHARE, SLOW_PAN_SHIFT_PX, CadenceSettings, GlobalShift,
                        frame_signature, global_shift, is_pan)
from ...data import sample_clip
from ...data.cadence_clips import EIGHT_BIT_STEP, UINT16_MAX, cel_frames, requantise_blocks
from ...data.celgen import CelScene
from ...video.reader import VideoReader
from ..report import write_report
from .cadence import analyse, make_clip, render_partial, set_background_speed

HELD_SEEDS = range(8)
HELD_SIZE = (96, 128)
HELD_FRAMES = 5
DARK = 0.12
DIM = 0.3
NOISE_LEVELS_8BIT = (1.0, 3.0)
JPEG_QUALITIES = (50, 60, 70, 80, 90)
REQUANTISED_SHARE = 0.5
PAN_SEEDS = (2, 3, 6)
PAN_SPEEDS_PX = (0.1, 0.2, 0.3, 0.5)
PAN_SIZE = (108, 192)
TWOS_SEEDS = (0, 1, 2, 3, 4, 6)
TWOS_SIZE = (144, 256)
TWOS_FRAMES = 24
JSON_NAME = "pan_shift.json"


def jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    """A uint16 frame through an 8-bit JPEG round trip at ``quality``."""
    ok, encoded = cv2.imencode(".jpg", np.round(frame / EIGHT_BIT_STEP).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR).astype(np.uint16) * EIGHT_BIT_STEP


def describe(name: str, shifts: list[GlobalShift], settings: CadenceSettings) -> dict:
    """Print a group's range of shifts, explained shares and pans called; return them as a record."""
    lengths = [shift.length for shift in shifts]
    explained = [shift.explained for shift in shifts]
    pans = sum(is_pan(shift, settings.pan_shift_px) for shift in shifts)
    print(f"{name:46s} pairs {len(shifts):4d}  shift px {min(lengths):.3f}-{max(lengths):.3f}  "
          f"explained {min(explained):.2f}-{max(explained):.2f}  called pans {pans}")
    return {"group": name, "pairs": len(shifts), "shift_px": [min(lengths), max(lengths)],
            "explained": [min(explained), max(explained)], "called_pans": pans}


def held_shifts(sample_video: Path) -> dict[str, list[GlobalShift]]:
    """Held frames' shifts against their drawing's key, by kind of damage (see the module docstring)."""
    groups: dict[str, list[GlobalShift]] = {}
    for brightness, light in ((1.0, "bright"), (DARK, "dark")):
        for noise in NOISE_LEVELS_8BIT:
            for seed in HELD_SEEDS:
                frames = cel_frames(CelScene(seed, *HELD_SIZE), [3.0] * HELD_FRAMES, noise_8bit=noise, seed=seed, brightness=brightness)
                variants = {
                    "noise": frames,
                    "JPEG": [jpeg(frame, JPEG_QUALITIES[k % len(JPEG_QUALITIES)]) for k, frame in enumerate(frames)],
                    "requantised": [requantise_blocks(frame, REQUANTISED_SHARE, k) for k, frame in enumerate(frames)],
                }
                for kind, variant in variants.items():
                    signatures = [frame_signature(frame) for frame in variant]
                    groups.setdefault(f"held, {light}, {kind}", []).extend(global_shift(signatures[0], other) for other in signatures[1:])
    starts = set(sample_clip.drawing_starts())
    with VideoReader(sample_video) as reader:
        sample = [frame.rgb for frame in reader]
    groups["held, sample.mp4 (x264 CRF 26)"] = held_against_drawings(sample, starts)
    with tempfile.TemporaryDirectory() as folder:
        for brightness, light in ((DIM, "dimmed x0.3"), (DARK, "dark x0.12")):
            path = Path(folder) / f"sample-{light}.mp4"
            reencode([(frame * brightness).round().astype(np.uint16) for frame in sample], path)
            with VideoReader(path) as reader:
                frames = [frame.rgb for frame in reader]
            groups[f"held, sample.mp4 {light}, x264 CRF 26 again"] = held_against_drawings(frames, starts)
    return groups


def held_against_drawings(frames: list[np.ndarray], starts: set[int]) -> list[GlobalShift]:
    """Each held frame's shift against the first frame of its drawing (``starts``: drawing starts)."""
    shifts, key = [], None
    for index, frame in enumerate(frames):
        signature = frame_signature(frame)
        if index in starts:
            key = signature
        else:
            shifts.append(global_shift(key, signature))
    return shifts


def reencode(frames_uint16: list[np.ndarray], path: Path) -> None:
    """Write ``[H,W,3]`` uint16 RGB frames with x264 (CRF 26, yuv420p), as a dark anime encode would be."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24, options={"crf": "26"})
        stream.height, stream.width = frames_uint16[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for frame in frames_uint16:
            picture = av.VideoFrame.from_ndarray((frame >> 8).astype(np.uint8), format="rgb24")
            container.mux(stream.encode(picture))
        container.mux(stream.encode(None))


def twos_check() -> tuple[list[GlobalShift], int]:
    """Held frames' shifts in the full-twos clips of ``fpsboost bench cadence``, and how many clips
    get exactly one key per real drawing."""
    shifts, exact = [], 0
    for seed in TWOS_SEEDS:
        clip = make_clip(seed, TWOS_FRAMES, *TWOS_SIZE, 2, 1.0)
        signatures = [frame_signature(frame) for frame in clip.frames_uint16]
        for k, time in enumerate(clip.drawing_times):
            if k not in clip.new_drawings:
                key = max(start for start in clip.new_drawings if start < k)
                shifts.append(global_shift(signatures[key], signatures[k]))
        keys = [key.index for key in analyse(clip.frames_uint16, "auto")]
        exact += keys == clip.new_drawings
    return shifts, exact


def pan_shifts(brightness: float) -> dict[str, list[GlobalShift]]:
    """Source frame 1 against key frame 0: the camera moved, the characters (on twos) did not."""
    groups: dict[str, list[GlobalShift]] = {}
    for speed in PAN_SPEEDS_PX:
        for seed in PAN_SEEDS:
            scene = CelScene(seed, *PAN_SIZE)
            set_background_speed(scene, speed)
            rng = np.random.default_rng(seed)
            signatures = []
            for k in range(2):
                clean = render_partial(scene, float(k), 0.0).transpose(1, 2, 0) * brightness * UINT16_MAX
                noisy = np.clip(np.round(clean + rng.normal(0, EIGHT_BIT_STEP, clean.shape)), 0, UINT16_MAX).astype(np.uint16)
                signatures.append(frame_signature(noisy))
            groups[f"pan {speed:.1f} px/f x{brightness:g}, seed {seed}"] = [global_shift(*signatures)]
    return groups


@dataclass(frozen=True)
class Settings:
    sample: str = field(default=sample_clip.SAMPLE_VIDEO, metadata={"help": "the shipped sample clip (tests/data/make_sample.py)"})
    out_dir: str = "benchmarks/cadence"


def run(settings: Settings) -> None:
    torch.set_num_threads(1)
    cadence = CadenceSettings()
    rows = []
    print(f"rule: shift >= {cadence.pan_shift_px} px and explained >= {PAN_EXPLAINED_SHARE}, "
          f"or shift >= {SLOW_PAN_SHIFT_PX} px and explained >= {SLOW_PAN_EXPLAINED_SHARE}")
    for name, shifts in held_shifts(Path(settings.sample)).items():
        rows.append(describe(name, shifts, cadence))
    shifts, exact = twos_check()
    rows.append(describe("held, full-twos benchmark clips", shifts, cadence))
    print(f"full-twos benchmark clips with one key per real drawing: {exact} of {len(TWOS_SEEDS)}")
    for brightness in (1.0, DIM, DARK):
        for name, shifts in pan_shifts(brightness).items():
            rows.append(describe(name, shifts, cadence))
    rule = {"pan_shift_px": cadence.pan_shift_px, "pan_explained_share": PAN_EXPLAINED_SHARE,
            "slow_pan_shift_px": SLOW_PAN_SHIFT_PX, "slow_pan_explained_share": SLOW_PAN_EXPLAINED_SHARE}
    results = {"rule": rule, "groups": rows, "twos_clips_one_key_per_drawing": exact, "twos_clips": len(TWOS_SEEDS)}
    write_report(settings.out_dir, results, [f"wrote {Path(settings.out_dir) / JSON_NAME}"], json_name=JSON_NAME, markdown_name=None)
