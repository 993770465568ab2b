"""Training and validation samples for the interpolation network.

Synthetic samples come from :class:`~fpsboost.data.celgen.CelScene` with exact in-betweens and
flows. Real-footage triplets (frames i, i+1, i+2 of a real video; the middle one is the truth at
t = 0.5) come from a video file split into training and held-out frame ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .celgen import TRAINING_STYLE, CelScene, MotionStyle

VALIDATION_SEED_BASE = 10_000_000  # seeds >= this are never used for training
SCENE_WINDOW = 6.0  # training pairs start anywhere in [0, SCENE_WINDOW) frames of a scene
SAMPLES_PER_SCENE = 4  # scene construction costs more than a render: reuse each scene


@dataclass
class Sample:
    """One pair and K timesteps. Images ``[3,H,W]`` in [0,1]; flows ``[2,H,W]`` in pixels."""

    image0: torch.Tensor
    image1: torch.Tensor
    targets: torch.Tensor  # [K,3,H,W]
    timesteps: torch.Tensor  # [K]
    flow_0to1: torch.Tensor
    flow_1to0: torch.Tensor
    has_flow: bool


def synthetic_sample(scene: CelScene, rng: np.random.Generator, timesteps: int, gap: int = 1) -> Sample:
    """A pair ``gap`` scene frames apart (2: two drawings either side of a hold) and its in-betweens."""
    start = float(rng.uniform(0, SCENE_WINDOW))
    ts = np.sort(rng.uniform(0.05, 0.95, timesteps)).astype(np.float32)
    if timesteps >= 1 and rng.random() < 0.3:
        ts[0] = 0.5
    return Sample(
        scene.render(start), scene.render(start + gap),
        torch.stack([scene.render(start + gap * float(t)) for t in ts]), torch.from_numpy(ts),
        scene.flow(start, start + gap), scene.flow(start + gap, start), True,
    )


def load_video_frames(path: str | Path, max_frames: int | None = None) -> np.ndarray:
    """All frames of a (small) video as ``[N,H,W,3]`` uint8 RGB."""
    import av

    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if max_frames and len(frames) >= max_frames:
                break
    return np.stack(frames)


def real_triplet(clips: list[np.ndarray], rng: np.random.Generator, crop: int) -> Sample:
    """A random triplet of a random clip (``[M,3,H,W,3]`` each, :mod:`fpsboost.data.real`): frames 0
    and 2 with frame 1 as the truth at t = 0.5, randomly cropped to ``crop``. Clips are drawn in
    proportion to their triplet counts."""
    counts = np.array([len(clip) for clip in clips], dtype=np.float64)
    clip = clips[int(rng.choice(len(clips), p=counts / counts.sum()))]
    index = int(rng.integers(0, len(clip)))
    height, width = clip.shape[2:4]
    top = int(rng.integers(0, max(height - crop, 0) + 1))
    left = int(rng.integers(0, max(width - crop, 0) + 1))
    window = torch.from_numpy(np.ascontiguousarray(clip[index, :, top:top + crop, left:left + crop])).permute(0, 3, 1, 2).float() / 255
    zeros = torch.zeros(2, *window.shape[2:])
    return Sample(window[0], window[2], window[1:2], torch.tensor([0.5]), zeros, zeros, False)


def augment(sample: Sample, rng: np.random.Generator) -> Sample:
    """Random horizontal flip, time reversal and colour-channel order."""
    if rng.random() < 0.5:
        flip = lambda x: x.flip(-1)  # noqa: E731
        negate_x = torch.tensor([-1.0, 1.0]).view(2, 1, 1)
        sample = Sample(flip(sample.image0), flip(sample.image1), flip(sample.targets), sample.timesteps,
                        flip(sample.flow_0to1) * negate_x, flip(sample.flow_1to0) * negate_x, sample.has_flow)
    if rng.random() < 0.5:
        order = torch.arange(len(sample.timesteps) - 1, -1, -1)
        sample = Sample(sample.image1, sample.image0, sample.targets[order], 1 - sample.timesteps[order],
                        sample.flow_1to0, sample.flow_0to1, sample.has_flow)
    permutation = torch.from_numpy(rng.permutation(3))
    return Sample(sample.image0[permutation], sample.image1[permutation], sample.targets[:, permutation],
                  sample.timesteps, sample.flow_0to1, sample.flow_1to0, sample.has_flow)


class InterpolationStream(IterableDataset):
    """Endless stream of augmented training samples, reproducible from ``seed``.

    Each worker draws scene seeds from its own range below :data:`VALIDATION_SEED_BASE`.
    """

    def __init__(self, seed: int, size: int, timesteps: int, real_clips: list[np.ndarray] | None = None,
                 real_fraction: float = 0.0, style: MotionStyle = TRAINING_STYLE, canvas_scale_max: float = 1.0,
                 two_frame_gap_probability: float = 0.0) -> None:
        self.seed, self.size, self.timesteps = seed, size, timesteps
        self.real_clips, self.real_fraction, self.style = real_clips, real_fraction, style
        self.canvas_scale_max = canvas_scale_max
        self.two_frame_gap_probability = two_frame_gap_probability

    def __iter__(self):
        info = get_worker_info()
        worker = info.id if info else 0
        rng = np.random.default_rng([self.seed, worker])
        torch.set_num_threads(1)
        while True:
            scene_seed = int(rng.integers(0, VALIDATION_SEED_BASE))
            # Without a wider canvas no extra random numbers are drawn, so old runs replay exactly.
            wide = self.canvas_scale_max > 1.0
            canvas = int(round(self.size * rng.uniform(1.0, self.canvas_scale_max))) if wide else self.size
            scene = CelScene(scene_seed, canvas, canvas, self.style)
            for _ in range(SAMPLES_PER_SCENE):
                if self.real_clips and rng.random() < self.real_fraction:
                    yield augment(real_triplet(self.real_clips, rng, self.size), rng)
                else:
                    window = scene
                    if wide:
                        left, top = rng.integers(0, canvas - self.size + 1, size=2)
                        window = scene.window(int(left), int(top), self.size, self.size)
                    # As with the canvas: no extra random numbers unless asked for, so old runs replay exactly.
                    gap = 2 if self.two_frame_gap_probability and rng.random() < self.two_frame_gap_probability else 1
                    yield augment(synthetic_sample(window, rng, self.timesteps, gap), rng)


def collate(samples: list[Sample]) -> dict[str, torch.Tensor]:
    """Stack samples with K timesteps each into flat query tensors (pair_index maps query -> pair)."""
    pair_index = torch.cat([torch.full((len(s.timesteps),), i, dtype=torch.long) for i, s in enumerate(samples)])
    return {
        "image0": torch.stack([s.image0 for s in samples]),
        "image1": torch.stack([s.image1 for s in samples]),
        "targets": torch.cat([s.targets for s in samples]),
        "timesteps": torch.cat([s.timesteps for s in samples]),
        "pair_index": pair_index,
        "flow": torch.stack([torch.cat([s.flow_0to1, s.flow_1to0]) for s in samples]),
        "has_flow": torch.tensor([s.has_flow for s in samples]),
    }


def validation_set(count: int, size: int, timesteps: tuple[float, ...] = (0.25, 0.5, 0.75),
                   style: MotionStyle = MotionStyle(), canvas_scale: float = 1.0, gap: int = 1) -> list[Sample]:
    """Fixed held-out synthetic samples (seeds from :data:`VALIDATION_SEED_BASE`), ``size`` square.

    With ``canvas_scale`` > 1 the whole scene is ``canvas_scale`` times larger, as full frames at
    that size are (its motion is that many pixels further; a window of it would mostly show the
    inside of enlarged shapes, which validates little).
    """
    samples = []
    size = int(round(size * canvas_scale))
    for i in range(count):
        scene = CelScene(VALIDATION_SEED_BASE + i, size, size, style)
        ts = torch.tensor(timesteps)
        start = float(i % 4)
        samples.append(Sample(scene.render(start), scene.render(start + gap),
                              torch.stack([scene.render(start + gap * float(t)) for t in ts]), ts,
                              scene.flow(start, start + gap), scene.flow(start + gap, start), True))
    return samples
