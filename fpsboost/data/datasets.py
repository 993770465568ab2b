"""Training and validation samples for the interpolation network.

Synthetic samples come from :class:`~fpsboost.data.celgen.CelScene` with exact in-betweens and
flows. Real-footage triplets (frames i, i+1, i+2 of a real video; the middle one is the truth at
t = 0.5) come from a video file split into training and held-out frame ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    # Motion from four frames: the frame before image0 and the one after image1 (None where none
    # belongs), each this many pair intervals away.
    before: torch.Tensor | None = None
    after: torch.Tensor | None = None
    distance_before: float = 1.0
    distance_after: float = 1.0


def synthetic_sample(scene: CelScene, rng: np.random.Generator, timesteps: int, gap: int = 1,
                     missing_neighbour_probability: float | None = None) -> Sample:
    """A pair ``gap`` scene frames apart (2: two drawings either side of a hold) and its in-betweens.

    With ``missing_neighbour_probability`` (motion from four frames) also the frames one pair
    interval before and after the pair, each left out with that probability (a cut, the first or
    last pair).
    """
    start = float(rng.uniform(0, SCENE_WINDOW))
    ts = np.sort(rng.uniform(0.05, 0.95, timesteps)).astype(np.float32)
    if timesteps >= 1 and rng.random() < 0.3:
        ts[0] = 0.5
    sample = Sample(
        scene.render(start), scene.render(start + gap),
        torch.stack([scene.render(start + gap * float(t)) for t in ts]), torch.from_numpy(ts),
        scene.flow(start, start + gap), scene.flow(start + gap, start), True,
    )
    if missing_neighbour_probability is None:
        return sample
    keep_before, keep_after = rng.random(2) >= missing_neighbour_probability
    sample.before = scene.render(start - gap) if keep_before else None
    sample.after = scene.render(start + 2 * gap) if keep_after else None
    return sample


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
    if len(window) == 5:
        # Frames 1 and 3 are the pair; 0 and 4 its neighbours, half a pair interval away.
        return Sample(window[1], window[3], window[2:3], torch.tensor([0.5]), zeros, zeros, False, window[0], window[4], 0.5, 0.5)
    return Sample(window[0], window[2], window[1:2], torch.tensor([0.5]), zeros, zeros, False)


def augment(sample: Sample, rng: np.random.Generator) -> Sample:
    """Random horizontal flip, time reversal and colour-channel order."""
    def each_image(sample: Sample, change) -> Sample:
        """The sample with ``change`` applied to every picture it holds."""
        optional = lambda image: None if image is None else change(image)  # noqa: E731
        return replace(sample, image0=change(sample.image0), image1=change(sample.image1), targets=change(sample.targets),
                       before=optional(sample.before), after=optional(sample.after))

    if rng.random() < 0.5:
        negate_x = torch.tensor([-1.0, 1.0]).view(2, 1, 1)
        sample = each_image(sample, lambda x: x.flip(-1))
        sample = replace(sample, flow_0to1=sample.flow_0to1.flip(-1) * negate_x, flow_1to0=sample.flow_1to0.flip(-1) * negate_x)
    if rng.random() < 0.5:
        order = torch.arange(len(sample.timesteps) - 1, -1, -1)
        sample = Sample(sample.image1, sample.image0, sample.targets[order], 1 - sample.timesteps[order],
                        sample.flow_1to0, sample.flow_0to1, sample.has_flow,
                        sample.after, sample.before, sample.distance_after, sample.distance_before)
    permutation = torch.from_numpy(rng.permutation(3))
    return each_image(sample, lambda x: x[permutation] if x.dim() == 3 else x[:, permutation])


class InterpolationStream(IterableDataset):
    """Endless stream of augmented training samples, reproducible from ``seed``.

    Each worker draws scene seeds from its own range below :data:`VALIDATION_SEED_BASE`.
    """

    def __init__(self, seed: int, size: int, timesteps: int, real_clips: list[np.ndarray] | None = None,
                 real_fraction: float = 0.0, style: MotionStyle = TRAINING_STYLE, canvas_scale_max: float = 1.0,
                 two_frame_gap_probability: float = 0.0, missing_neighbour_probability: float | None = None) -> None:
        self.seed, self.size, self.timesteps = seed, size, timesteps
        self.real_clips, self.real_fraction, self.style = real_clips, real_fraction, style
        self.canvas_scale_max = canvas_scale_max
        self.two_frame_gap_probability = two_frame_gap_probability
        # Motion from four frames: synthetic pairs come with their neighbours (None: without).
        self.missing_neighbour_probability = missing_neighbour_probability

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
                    yield augment(synthetic_sample(window, rng, self.timesteps, gap, self.missing_neighbour_probability), rng)


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
        **_neighbours(samples),
    }


def _neighbours(samples: list[Sample]) -> dict[str, torch.Tensor]:
    """The batch's neighbour frames (zeros where a sample has none), which exist, and how far away they are."""
    if all(s.before is None and s.after is None for s in samples):
        return {}
    blank = torch.zeros_like(samples[0].image0)
    return {
        "image_before": torch.stack([blank if s.before is None else s.before for s in samples]),
        "image_after": torch.stack([blank if s.after is None else s.after for s in samples]),
        "has_before": torch.tensor([s.before is not None for s in samples]),
        "has_after": torch.tensor([s.after is not None for s in samples]),
        "distance_before": torch.tensor([s.distance_before for s in samples]).view(-1, 1, 1, 1),
        "distance_after": torch.tensor([s.distance_after for s in samples]).view(-1, 1, 1, 1),
    }


def validation_set(count: int, size: int, timesteps: tuple[float, ...] = (0.25, 0.5, 0.75),
                   style: MotionStyle = MotionStyle(), canvas_scale: float = 1.0, gap: int = 1,
                   neighbours: bool = False) -> list[Sample]:
    """Fixed held-out synthetic samples (seeds from :data:`VALIDATION_SEED_BASE`), ``size`` square.

    With ``canvas_scale`` > 1 the whole scene is ``canvas_scale`` times larger, as full frames at
    that size are (its motion is that many pixels further; a window of it would mostly show the
    inside of enlarged shapes, which validates little). With ``neighbours`` each sample also has the
    frames one pair interval before and after it (motion from four frames).
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
        if neighbours:
            samples[-1].before, samples[-1].after = scene.render(start - gap), scene.render(start + 2 * gap)
    return samples
