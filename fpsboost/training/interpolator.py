"""Training loop for the interpolation network: seeded, resumable, CPU or CUDA.

    fpsboost train --out runs/celflow --steps 30000 [--real-video bikes.mp4]

Every ``checkpoint_every`` steps the full state (model, optimiser, step) goes to
``<out>/checkpoint.pt`` (tensors only: loaded with ``weights_only=True``); every validation that
improves PSNR also exports ``<out>/best.safetensors`` with its scores in the metadata. The log
is ``<out>/train.log`` (one JSON object a line).

A second stage fine-tunes finished weights in a new run: ``--init-weights best.safetensors``
(the model only; optimiser and schedule start fresh), for example on wider canvases
(``--canvas-scale-max``) so that training sees motion as large in pixels as real frames have.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..data.celgen import TRAINING_STYLE
from ..data.datasets import InterpolationStream, collate, validation_set
from ..data.real import TripletSpec, training_triplets
from ..errors import InputError, OptionError
from ..models.blocks import backward_warp
from ..models.classical_flow import classical_accelerations, classical_pair_flows
from ..models.interpolator import CelFlow, PairFlows
from ..models.visibility import VisibilitySynthesizer
from ..models.presets import PRESETS, read_weights, save_weights
from .common import (append_log, flow_weight_at, image_losses, learning_rate_at, load_checkpoint, optimisation_step, psnr,
                     pyramid_flow_loss, save_checkpoint)
from .settings import TrainSettings

MASK_EPSILON = 1e-4


@dataclass
class Synthesis:
    """What one training forward pass made: the in-betweens, the pair flows, the flows from t to both
    frames (full resolution) and, for v2's synthesis, the learnt weight of frame 0 (else None)."""

    frames: torch.Tensor
    flows: PairFlows
    flow_t0: torch.Tensor
    flow_t1: torch.Tensor
    mask: torch.Tensor | None


def forward_with_flows(model: CelFlow, batch: dict[str, torch.Tensor], train_flow: bool = True) -> Synthesis:
    """Run the network on a training batch (crops already a multiple of the stride)."""
    with torch.set_grad_enabled(train_flow and torch.is_grad_enabled()):
        flows = model.flow_estimator(batch["image0"], batch["image1"], keep_intermediate=train_flow)
    if model.config.four_frame_motion and "image_before" in batch:
        both = torch.cat([flows.flow_0to1, flows.flow_1to0], dim=1).detach()
        flows.acceleration = classical_accelerations(
            both, batch["image0"], batch["image1"], batch["image_before"], batch["image_after"],
            batch["distance_before"], batch["distance_after"], batch["has_before"], batch["has_after"])
    arguments = (batch["image0"], batch["image1"], flows, batch["pair_index"], batch["timesteps"])
    if isinstance(model.synthesizer, VisibilitySynthesizer):
        frames, flow_t0, flow_t1, mask = model.synthesizer(*arguments, return_mask=True)
    else:
        (frames, flow_t0, flow_t1), mask = model.synthesizer(*arguments), None
    return Synthesis(frames, flows, flow_t0, flow_t1, mask)


def visibility_loss(batch: dict[str, torch.Tensor], synthesis: Synthesis, window: int = 0) -> torch.Tensor:
    """Teaches the blend which warp each pixel can trust: binary cross-entropy of the learnt weight of
    frame 0 against the warp that is closer to the truth, weighted by how much the choice matters
    there (the difference of the two warps' errors), so pixels where both warps agree, and where the
    choice would only fit noise, count for nothing.

    With ``window`` the right weight is decided per ``window`` x ``window`` block instead, among three:
    1 (warp 0), 0 (warp 1) or ``1 - t`` (their plain blend), whichever has the least squared error over
    the block, weighted by its lead over the next best. A choice per pixel also fits each pixel's noise
    and resampling blur, which a learnt choice at full resolution did not learn to predict
    (benchmarks/ceiling/RESULTS.md).
    """
    index = batch["pair_index"]
    warped0 = backward_warp(batch["image0"][index], synthesis.flow_t0.detach())
    warped1 = backward_warp(batch["image1"][index], synthesis.flow_t1.detach())
    mask = synthesis.mask.clamp(MASK_EPSILON, 1 - MASK_EPSILON)
    if window:
        t = batch["timesteps"].view(-1, 1, 1, 1).to(mask.dtype)
        plain = (1 - t) * warped0 + t * warped1
        errors = torch.stack([F.avg_pool2d(((candidate - batch["targets"]) ** 2).mean(dim=1, keepdim=True), window)
                              for candidate in (warped0, warped1, plain)])  # [3,Q,1,h,w]
        ranked = errors.sort(dim=0)
        weights_of_frame0 = torch.stack([torch.ones_like(t), torch.zeros_like(t), 1 - t]).expand_as(errors)
        choice = F.interpolate(weights_of_frame0.gather(0, ranked.indices[:1])[0], scale_factor=float(window), mode="nearest")
        weight = F.interpolate(ranked.values[1] - ranked.values[0], scale_factor=float(window), mode="nearest")
    else:
        error0 = (warped0 - batch["targets"]).abs().mean(dim=1, keepdim=True)
        error1 = (warped1 - batch["targets"]).abs().mean(dim=1, keepdim=True)
        weight = (error0 - error1).abs()
        choice = (error0 < error1).to(weight.dtype)
    entropy = -(choice * torch.log(mask) + (1 - choice) * torch.log(1 - mask))
    return (weight * entropy).sum() / weight.sum().clamp(min=MASK_EPSILON)


def training_loss(model: CelFlow, batch: dict[str, torch.Tensor], step: int, settings: TrainSettings) -> tuple[torch.Tensor, dict[str, float]]:
    synthesis = forward_with_flows(model, batch, train_flow=settings.train_parts == "all")
    frames, flows = synthesis.frames, synthesis.flows
    target = batch["targets"]
    reconstruction, gradient = image_losses(frames, target)
    flow_loss = frames.new_zeros(())
    has_flow = batch["has_flow"]
    if has_flow.any():
        flow_loss = pyramid_flow_loss([estimate[has_flow] for estimate in flows.intermediate], batch["flow"][has_flow])
    weight = flow_weight_at(step, settings)
    total = reconstruction + settings.gradient_weight * gradient + weight * flow_loss
    parts = {"l1": reconstruction.item(), "grad": gradient.item(), "flow": flow_loss.item()}
    if settings.visibility_weight > 0 and synthesis.mask is not None:
        visibility = visibility_loss(batch, synthesis, settings.visibility_window)
        total = total + settings.visibility_weight * visibility
        parts["visibility"] = visibility.item()
    return total, {"loss": total.item(), **parts}


@torch.no_grad()
def validate(model: CelFlow, samples: list, device: torch.device) -> dict[str, float]:
    """Mean PSNR of the in-betweens at each validation timestep."""
    model.eval()
    scores: dict[float, list[float]] = {}
    for sample in samples:
        k = len(sample.timesteps)
        image0, image1 = sample.image0[None].to(device), sample.image1[None].to(device)
        extra = {}
        if model.config.four_frame_motion and sample.before is not None:
            pair_flows = classical_pair_flows(image0, image1)
            extra = {"pair_flows": pair_flows, "pair_accelerations": classical_accelerations(
                pair_flows, image0, image1, sample.before[None].to(device), sample.after[None].to(device),
                sample.distance_before, sample.distance_after)}
        output = model(image0, image1, torch.zeros(k, dtype=torch.long, device=device), sample.timesteps.to(device), **extra)
        for t, frame, target in zip(sample.timesteps.tolist(), output.cpu(), sample.targets):
            scores.setdefault(round(t, 3), []).append(psnr(frame, target))
    model.train()
    result = {f"psnr_t{t}": sum(v) / len(v) for t, v in scores.items()}
    result["psnr"] = sum(result.values()) / len(result)
    return result


def _real_training_triplets(settings: TrainSettings) -> list[np.ndarray]:
    """The training parts of every ``--real-video`` clip as triplets; a one-line error if one is unusable."""
    clips = []
    # Motion from four frames trains on five-frame windows: the pair's frames have neighbours too.
    spec = TripletSpec(length=5 if PRESETS[settings.preset].four_frame_motion else 3)
    for name in (part.strip() for part in (settings.real_video or "").split(",")):
        try:
            triplets = training_triplets(name, spec)
        except (av.FFmpegError, ValueError) as error:
            raise InputError(f"cannot read --real-video {name}: not a video file or damaged ({error})") from None
        if min(triplets.shape[2:4]) < settings.crop:
            raise InputError(f"--real-video {name}: its frames ({triplets.shape[3]}x{triplets.shape[2]} after scaling) "
                             f"are smaller than --crop {settings.crop}")
        clips.append(triplets)
    return clips


def _grown_channels(wanted: torch.Size, stored: torch.Size) -> bool:
    """Whether ``stored`` is a convolution's weight (or bias) that ``wanted`` extends by channels only."""
    if len(wanted) == 4 and len(stored) == 4:
        return wanted[2:] == stored[2:] and wanted[0] >= stored[0] and wanted[1] >= stored[1]
    return len(wanted) == 1 and len(stored) == 1 and wanted[0] > stored[0]


def load_matching_weights(model: CelFlow, path: str) -> list[str]:
    """Copy every tensor of ``path`` whose name and shape fit ``model``; return the top-level parts
    that were left as they were (a v2 network starts from v1's flow estimator this way).

    A convolution that has gained input or output channels (appended at the end) keeps its weights
    for the old ones and gets zeros for the new ones, so the network computes what it did and learns
    to use the new inputs and outputs from there.
    """
    source = read_weights(path)  # a bad file: one-line ModelError
    target = model.state_dict()
    fitting = {}
    for name, value in source.items():
        if name not in target:
            continue
        wanted = target[name]
        if wanted.shape == value.shape:
            fitting[name] = value
        elif _grown_channels(wanted.shape, value.shape):
            widened = torch.zeros_like(wanted)
            widened[tuple(slice(0, size) for size in value.shape)] = value
            fitting[name] = widened
    model.load_state_dict(fitting, strict=False)
    return sorted({name.split(".")[0] for name in target if name not in fitting})


def trained_parameters(model: CelFlow, settings: TrainSettings) -> list[nn.Parameter]:
    """The parameters a run updates (``settings.train_parts``); every other one is frozen. For "new",
    those whose name and shape ``settings.init_weights`` lacks (read from the file, so a resumed run
    trains the same ones)."""
    if settings.train_parts == "all":
        parts = dict(model.named_parameters())
    elif settings.train_parts == "synthesizer":
        parts = {name: value for name, value in model.named_parameters() if name.startswith("synthesizer.")}
    else:
        stored = read_weights(settings.init_weights)
        parts = {name: value for name, value in model.named_parameters()
                 if name not in stored or stored[name].shape != value.shape}
        if not parts:
            raise OptionError(f"--train-parts new: {settings.init_weights} already holds every tensor of {settings.preset}")
    for name, value in model.named_parameters():
        value.requires_grad_(name in parts)
    return list(parts.values())


def train(settings: TrainSettings) -> Path:
    """Train (or resume) and return the path of the best exported weights."""
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise OptionError("--device cuda was asked for but no CUDA GPU is available (try --device cpu)")
    device = torch.device("cuda" if settings.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
    real_clips = _real_training_triplets(settings) if settings.real_video else None  # read before anything is written
    out = Path(settings.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_path, checkpoint_path, best_path = out / "train.log", out / "checkpoint.pt", out / "best.safetensors"
    config = PRESETS[settings.preset]
    model = CelFlow(config).to(device)
    trained = trained_parameters(model, settings)
    optimizer = torch.optim.AdamW(trained, lr=settings.learning_rate, weight_decay=1e-4)
    step, best_psnr, seconds = 0, -1.0, 0.0
    fresh_parts: list[str] = []
    if settings.init_weights and not checkpoint_path.exists():
        fresh_parts = load_matching_weights(model, settings.init_weights)
    if checkpoint_path.exists():
        step, best_psnr, seconds = load_checkpoint(checkpoint_path, model, optimizer, device)
        # A resumed run may change the schedule (more steps, another peak rate): log what it uses.
        append_log(log_path, {"event": "resume", "step": step, **asdict(settings)})
    else:
        (out / "settings.json").write_text(json.dumps(asdict(settings), indent=2))
        append_log(log_path, {"event": "start", **asdict(settings), "fresh_parts": fresh_parts})

    # Seeding by the resume step keeps a resumed run from replaying the samples it already saw.
    stream = InterpolationStream(settings.seed * 1_000_003 + step, settings.crop, settings.timesteps_per_pair,
                                 real_clips, settings.real_fraction if real_clips else 0.0,
                                 style=replace(TRAINING_STYLE, moving_text_probability=settings.moving_text_probability,
                                               crossing_probability=settings.crossing_probability),
                                 canvas_scale_max=settings.canvas_scale_max,
                                 two_frame_gap_probability=settings.two_frame_gap_probability,
                                 missing_neighbour_probability=settings.missing_neighbour_probability if config.four_frame_motion else None)
    loader = DataLoader(stream, batch_size=settings.batch_size, collate_fn=collate,
                        num_workers=settings.loader_workers, prefetch_factor=4 if settings.loader_workers else None,
                        persistent_workers=bool(settings.loader_workers))
    validation = {"": validation_set(settings.validation_samples, settings.crop, neighbours=config.four_frame_motion)}
    if settings.canvas_scale_max > 1.0:
        # The same seeds as whole frames that many times larger: the large motion the run trains for.
        validation["wide_"] = validation_set(settings.validation_samples, settings.crop, canvas_scale=settings.canvas_scale_max)
    if settings.two_frame_gap_probability > 0:
        # The same seeds, pairs two frames apart: what re-timing interpolates across a held drawing.
        validation["gap2_"] = validation_set(settings.validation_samples, settings.crop, gap=2)

    def validate_all() -> dict[str, float]:
        """Scores on every validation set, keyed with the set's prefix."""
        return {prefix + key: value for prefix, samples in validation.items()
                for key, value in validate(model, samples, device).items()}

    if settings.init_weights and step == 0:
        # Where a fine-tune starts from, on its own validation sets.
        append_log(log_path, {"step": 0, "validation": {k: round(v, 3) for k, v in validate_all().items()}})
    model.train()
    window_start = time.perf_counter()
    data_iter = iter(loader)
    while step < settings.steps:
        batch = {key: value.to(device) for key, value in next(data_iter).items()}
        loss, parts = training_loss(model, batch, step, settings)
        optimisation_step(optimizer, trained, loss, learning_rate_at(step, settings))
        step += 1
        if step % settings.log_every == 0:
            elapsed = time.perf_counter() - window_start
            seconds += elapsed
            window_start = time.perf_counter()
            append_log(log_path, {"step": step, **{k: round(v, 5) for k, v in parts.items()},
                            "lr": round(learning_rate_at(step, settings), 7), "s_per_step": round(elapsed / settings.log_every, 3),
                            "hours": round(seconds / 3600, 3)})
        if step % settings.validate_every == 0 or step == settings.steps:
            scores = validate_all()
            # The run keeps the weights best on all its validation sets together.
            selection = sum(scores[prefix + "psnr"] for prefix in validation) / len(validation)
            append_log(log_path, {"step": step, "validation": {k: round(v, 3) for k, v in scores.items()}})
            if selection > best_psnr:
                best_psnr = selection
                save_weights(model, best_path, config.to_dict(), f"{settings.preset}-step{step}",
                             {"step": step, "val_psnr": round(best_psnr, 3), "train_hours": round(seconds / 3600, 3)})
        if step % settings.checkpoint_every == 0 or step == settings.steps:
            save_checkpoint(checkpoint_path, model, optimizer, step, best_psnr, seconds)
    return best_path
