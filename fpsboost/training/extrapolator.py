"""Training loop for the extrapolation network (CelCast): seeded, resumable, time-capped.

    nice -n 10 fpsboost train-extrapolator --out-dir runs/extrapolator \
        --real-video /work/cache/bikes.mp4 --max-minutes 45

Samples are three context frames (t-2, t-1, t) and the truth at K horizons t+tau (tau in
(0, MAX_HORIZON], half of them whole frames). Synthetic samples come from
:class:`~fpsboost.data.celgen.CelScene` with exact flows, which supervise the motion estimator and
the extrapolated flow early on; real samples are windows of a real video's first 80 % of frames.
Structure as in :mod:`fpsboost.training.interpolator`: ``<out>/checkpoint.pt`` (tensors only) every
``checkpoint_every`` steps, ``<out>/best.safetensors`` on every validation improvement,
``<out>/train.log`` one JSON object a line. A run stops at ``steps`` or after ``max_minutes`` of
training time summed over resumes, whichever comes first.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.celgen import CelScene
from ..data.datasets import VALIDATION_SEED_BASE, load_video_frames
from ..data.real import REAL_TRAIN_FRACTION
from ..models.extrapolator import CelCast, CelCastConfig, save_extrapolator
from .common import (append_log, charbonnier, flow_weight_at, image_losses, learning_rate_at, load_checkpoint,
                     optimisation_step, psnr, pyramid_flow_loss, save_checkpoint)
from .settings import ExtrapolatorTrainSettings

MAX_HORIZON = 8.0  # frames after the last context frame
MIN_HORIZON = 0.05
CONTEXT_FRAMES = 3
SCENE_WINDOW = 6.0  # the last context frame lies anywhere in [2, 2 + SCENE_WINDOW)
SAMPLES_PER_SCENE = 2  # scene construction costs as much as several renders: reuse each scene
REAL_MAX_HORIZON = 4  # real footage: whole frames 1..4 ahead (its motion is less predictable)
VALIDATION_HORIZONS = (1.0, 2.0, 4.0, 8.0)
# Seeds the training run validates on (picking its best checkpoint); the benchmark uses seeds from
# BENCHMARK_SEED_BASE on, which neither training nor checkpoint selection ever saw.
TRAIN_VALIDATION_SEED_BASE = VALIDATION_SEED_BASE
BENCHMARK_SEED_BASE = VALIDATION_SEED_BASE + 500_000


@dataclass
class ExtrapolationSample:
    """Context ``[C,3,H,W]`` oldest first, truth ``[K,3,H,W]`` at ``tau`` ``[K]`` frames after the last.

    ``motion_flows`` ``[C-1,2,H,W]``: ``F_t->t-1``, ``F_t-1->t-2``; ``future_flows`` ``[K,2,H,W]``:
    ``F_t+tau->t`` (zeros when ``has_flow`` is False, as for real footage).
    """

    context: torch.Tensor
    targets: torch.Tensor
    tau: torch.Tensor
    motion_flows: torch.Tensor
    future_flows: torch.Tensor
    has_flow: bool


def sample_horizons(rng: np.random.Generator, count: int) -> np.ndarray:
    """Half whole frames 1..MAX_HORIZON, half any real horizon in (MIN_HORIZON, MAX_HORIZON]."""
    whole = rng.integers(1, int(MAX_HORIZON) + 1, count).astype(np.float32)
    real = rng.uniform(MIN_HORIZON, MAX_HORIZON, count).astype(np.float32)
    return np.where(rng.random(count) < 0.5, whole, real)


def synthetic_sample(scene: CelScene, last_time: float, taus: np.ndarray) -> ExtrapolationSample:
    context_times = [last_time - (CONTEXT_FRAMES - 1 - i) for i in range(CONTEXT_FRAMES)]
    context = torch.stack([scene.render(t) for t in context_times])
    motion = torch.stack([scene.flow(context_times[i], context_times[i - 1]) for i in range(CONTEXT_FRAMES - 1, 0, -1)])
    targets = torch.stack([scene.render(last_time + float(tau)) for tau in taus])
    future = torch.stack([scene.flow(last_time + float(tau), last_time) for tau in taus])
    return ExtrapolationSample(context, targets, torch.from_numpy(np.asarray(taus, np.float32)), motion, future, True)


def real_sample(frames: np.ndarray, rng: np.random.Generator, crop: int, count: int) -> ExtrapolationSample:
    """A window of a real clip: frames i-2..i as context, i+k (k in 1..REAL_MAX_HORIZON) as truth."""
    last = int(rng.integers(CONTEXT_FRAMES - 1, len(frames) - REAL_MAX_HORIZON))
    steps = np.sort(rng.choice(np.arange(1, REAL_MAX_HORIZON + 1), size=count, replace=count > REAL_MAX_HORIZON))
    height, width = frames.shape[1:3]
    top = int(rng.integers(0, max(height - crop, 0) + 1))
    left = int(rng.integers(0, max(width - crop, 0) + 1))

    def take(index: int) -> torch.Tensor:
        return torch.from_numpy(frames[index, top:top + crop, left:left + crop]).permute(2, 0, 1).float() / 255

    context = torch.stack([take(last - CONTEXT_FRAMES + 1 + i) for i in range(CONTEXT_FRAMES)])
    targets = torch.stack([take(last + int(k)) for k in steps])
    size = context.shape[-2:]
    return ExtrapolationSample(context, targets, torch.from_numpy(steps.astype(np.float32)),
                               torch.zeros(CONTEXT_FRAMES - 1, 2, *size), torch.zeros(count, 2, *size), False)


def augment(sample: ExtrapolationSample, rng: np.random.Generator) -> ExtrapolationSample:
    """Random horizontal flip and colour-channel order (time cannot be reversed here)."""
    context, targets, motion, future = sample.context, sample.targets, sample.motion_flows, sample.future_flows
    if rng.random() < 0.5:
        negate_x = torch.tensor([-1.0, 1.0]).view(1, 2, 1, 1)
        context, targets = context.flip(-1), targets.flip(-1)
        motion, future = motion.flip(-1) * negate_x, future.flip(-1) * negate_x
    permutation = torch.from_numpy(rng.permutation(3))
    return ExtrapolationSample(context[:, permutation], targets[:, permutation], sample.tau, motion, future, sample.has_flow)


def sample_stream(settings: ExtrapolatorTrainSettings, seed: int, real_frames: np.ndarray | None):
    """Endless augmented samples; scene seeds stay below :data:`VALIDATION_SEED_BASE`."""
    rng = np.random.default_rng(seed)
    while True:
        scene = CelScene(int(rng.integers(0, VALIDATION_SEED_BASE)), settings.crop, settings.crop)
        for _ in range(SAMPLES_PER_SCENE):
            if real_frames is not None and rng.random() < settings.real_fraction:
                sample = real_sample(real_frames, rng, settings.crop, settings.horizons_per_context)
            else:
                last_time = float(rng.uniform(CONTEXT_FRAMES - 1, CONTEXT_FRAMES - 1 + SCENE_WINDOW))
                sample = synthetic_sample(scene, last_time, sample_horizons(rng, settings.horizons_per_context))
            yield augment(sample, rng)


def collate(samples: list[ExtrapolationSample]) -> dict[str, torch.Tensor]:
    """Stack samples; ``context_index`` maps each query (target) to its context."""
    return {
        "context": torch.stack([s.context for s in samples]),
        "targets": torch.cat([s.targets for s in samples]),
        "tau": torch.cat([s.tau for s in samples]),
        "context_index": torch.cat([torch.full((len(s.tau),), i, dtype=torch.long) for i, s in enumerate(samples)]),
        # Motion flows ordered like the network's pairs: all F_t->t-1 first, then all F_t-1->t-2.
        "motion_flows": torch.stack([s.motion_flows for s in samples]).transpose(0, 1).reshape(-1, 2, *samples[0].context.shape[-2:]),
        "future_flows": torch.cat([s.future_flows for s in samples]),
        "has_flow": torch.tensor([s.has_flow for s in samples]),
    }


def heldout_sequence(seed: int, size: int | tuple[int, int], horizons: tuple[float, ...]) -> ExtrapolationSample:
    """A fixed held-out synthetic sample (``seed`` >= :data:`VALIDATION_SEED_BASE`)."""
    height, width = (size, size) if isinstance(size, int) else size
    scene = CelScene(seed, height, width)
    last_time = float(CONTEXT_FRAMES - 1 + seed % 4)
    return synthetic_sample(scene, last_time, np.asarray(horizons, np.float32))


def training_loss(model: CelCast, batch: dict[str, torch.Tensor], step: int,
                  settings: ExtrapolatorTrainSettings) -> tuple[torch.Tensor, dict[str, float]]:
    output = model.run(batch["context"], batch["context_index"], batch["tau"])
    frames, target = output.frames, batch["targets"]
    reconstruction, gradient = image_losses(frames, target)
    flow_loss = frames.new_zeros(())
    has_flow = batch["has_flow"]
    if has_flow.any():
        pairs_with_flow = has_flow.repeat(CONTEXT_FRAMES - 1)
        flow_loss = pyramid_flow_loss([estimate[pairs_with_flow] for estimate in output.motion_levels],
                                      batch["motion_flows"][pairs_with_flow])
        queries_with_flow = has_flow[batch["context_index"]]
        flow_loss = flow_loss + charbonnier(output.future_flow[queries_with_flow] - batch["future_flows"][queries_with_flow])
    total = reconstruction + settings.gradient_weight * gradient + flow_weight_at(step, settings) * flow_loss
    return total, {"loss": total.item(), "l1": reconstruction.item(), "grad": gradient.item(), "flow": flow_loss.item()}


@torch.no_grad()
def validate(model: CelCast, samples: list[ExtrapolationSample]) -> dict[str, float]:
    """Mean PSNR at each validation horizon."""
    model.eval()
    scores: dict[float, list[float]] = {}
    for sample in samples:
        output = model(sample.context[None], torch.zeros(len(sample.tau), dtype=torch.long), sample.tau)
        for tau, frame, target in zip(sample.tau.tolist(), output, sample.targets):
            scores.setdefault(tau, []).append(psnr(frame, target))
    model.train()
    result = {f"psnr_tau{tau:g}": sum(v) / len(v) for tau, v in scores.items()}
    result["psnr"] = sum(result.values()) / len(result)
    return result


def train(settings: ExtrapolatorTrainSettings) -> Path:
    """Train (or resume) and return the path of the best exported weights."""
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    out = Path(settings.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_path, checkpoint_path, best_path = out / "train.log", out / "checkpoint.pt", out / "best.safetensors"
    model = CelCast(CelCastConfig())
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=1e-4)
    step, best_psnr, seconds = 0, -1.0, 0.0
    if checkpoint_path.exists():
        step, best_psnr, seconds = load_checkpoint(checkpoint_path, model, optimizer)
        append_log(log_path, {"event": "resume", "step": step, **asdict(settings)})
    else:
        (out / "settings.json").write_text(json.dumps(asdict(settings), indent=2))
        append_log(log_path, {"event": "start", **asdict(settings)})

    real_frames = None
    if settings.real_video:
        frames = load_video_frames(settings.real_video)
        real_frames = frames[: int(len(frames) * REAL_TRAIN_FRACTION)]
    # Seeding by the resume step keeps a resumed run from replaying the samples it already saw.
    stream = sample_stream(settings, settings.seed * 1_000_003 + step, real_frames)
    validation = [heldout_sequence(TRAIN_VALIDATION_SEED_BASE + i, settings.crop, VALIDATION_HORIZONS)
                  for i in range(settings.validation_samples)]

    def out_of_time() -> bool:
        return seconds + (time.perf_counter() - window_start) >= settings.max_minutes * 60

    model.train()
    window_start = time.perf_counter()
    finished = False
    while not finished:
        batch = collate([next(stream) for _ in range(settings.batch_size)])
        loss, parts = training_loss(model, batch, step, settings)
        optimisation_step(optimizer, model.parameters(), loss, learning_rate_at(step, settings))
        step += 1
        finished = step >= settings.steps or out_of_time()
        if step % settings.log_every == 0 or finished:
            elapsed = time.perf_counter() - window_start
            seconds += elapsed
            window_start = time.perf_counter()
            append_log(log_path, {"step": step, **{k: round(v, 5) for k, v in parts.items()},
                            "lr": round(learning_rate_at(step, settings), 7), "s_per_step": round(elapsed / settings.log_every, 3),
                            "accel_gain": round(model.acceleration_gain.item(), 4), "hours": round(seconds / 3600, 3)})
        if step % settings.validate_every == 0 or finished:
            scores = validate(model, validation)
            append_log(log_path, {"step": step, "validation": {k: round(v, 3) for k, v in scores.items()}})
            if scores["psnr"] > best_psnr:
                best_psnr = scores["psnr"]
                save_extrapolator(model, best_path, f"celcast-step{step}",
                                  {"step": step, "val_psnr": round(best_psnr, 3), "train_hours": round(seconds / 3600, 3)})
        if step % settings.checkpoint_every == 0 or finished:
            save_checkpoint(checkpoint_path, model, optimizer, step, best_psnr, seconds)
    return best_path

