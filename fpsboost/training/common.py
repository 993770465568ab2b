"""Losses, schedules and the log shared by both trainers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable, Protocol

import torch

CHARBONNIER_EPSILON = 1e-3


class Schedule(Protocol):
    """The settings fields the schedules read (both trainers' settings have them)."""

    steps: int
    learning_rate: float
    final_learning_rate: float
    warmup_steps: int
    flow_weight: float
    flow_weight_decay_steps: int
    flow_weight_floor: float


def charbonnier(difference: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(difference * difference + CHARBONNIER_EPSILON**2).mean()


def image_gradients(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return image[..., :, 1:] - image[..., :, :-1], image[..., 1:, :] - image[..., :-1, :]


def learning_rate_at(step: int, settings: Schedule) -> float:
    """Linear warm-up, then cosine decay to ``final_learning_rate`` at ``steps``."""
    if step < settings.warmup_steps:
        return settings.learning_rate * (step + 1) / settings.warmup_steps
    progress = min((step - settings.warmup_steps) / max(settings.steps - settings.warmup_steps, 1), 1.0)
    return settings.final_learning_rate + 0.5 * (settings.learning_rate - settings.final_learning_rate) * (1 + math.cos(math.pi * progress))


def flow_weight_at(step: int, settings: Schedule) -> float:
    """Flow supervision guides early training, then fades so the photometric loss decides."""
    fade = max(0.0, 1.0 - step / settings.flow_weight_decay_steps)
    return settings.flow_weight_floor + (settings.flow_weight - settings.flow_weight_floor) * fade


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> float:
    mse = torch.mean((prediction.clamp(0, 1) - target) ** 2).item()
    return 10 * math.log10(1.0 / max(mse, 1e-10))


def append_log(path: Path, record: dict) -> None:
    """Append one JSON record to a training log and echo it."""
    with path.open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    print(json.dumps(record), flush=True)


GRADIENT_CLIP_NORM = 1.0


def optimisation_step(optimizer: torch.optim.Optimizer, parameters: Iterable[torch.Tensor], loss: torch.Tensor,
                      learning_rate: float) -> None:
    """One optimiser step on ``loss`` at ``learning_rate``, gradients clipped to norm GRADIENT_CLIP_NORM."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, GRADIENT_CLIP_NORM)
    optimizer.step()


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int, best_psnr: float,
                    seconds: float) -> None:
    """The full training state (tensors only: resumed with ``weights_only=True``), written atomically."""
    temporary = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "best_psnr": best_psnr, "seconds": seconds}, temporary)
    temporary.replace(path)


def image_losses(frames: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Charbonnier error, L1 error of the image gradients)`` of predicted frames against the truth."""
    (pred_dx, pred_dy), (true_dx, true_dy) = image_gradients(frames), image_gradients(target)
    return charbonnier(frames - target), (pred_dx - true_dx).abs().mean() + (pred_dy - true_dy).abs().mean()


def pyramid_flow_loss(levels: list[torch.Tensor], truth: torch.Tensor) -> torch.Tensor:
    """Charbonnier error of every level's flow against the exact flow, each coarser level weighted half."""
    loss = truth.new_zeros(())
    for level, estimate in enumerate(levels):
        loss = loss + 0.5 ** (len(levels) - 1 - level) * charbonnier(estimate - truth)
    return loss


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    device: torch.device | str = "cpu") -> tuple[int, float, float]:
    """Restore what :func:`save_checkpoint` wrote into ``model`` and ``optimizer``; returns
    ``(step, best_psnr, seconds)``."""
    state = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return int(state["step"]), float(state["best_psnr"]), float(state["seconds"])

