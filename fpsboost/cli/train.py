"""``fpsboost train`` and ``fpsboost train-extrapolator``: every field of the run's settings is an option."""

from __future__ import annotations

from typing import Any

import click

from ..training.settings import ExtrapolatorTrainSettings, TrainSettings
from .options import settings_options


@click.command("train")
@settings_options(TrainSettings)
def train_command(**values: Any) -> None:
    """Train the interpolation network (resumes from OUT_DIR/checkpoint.pt if present)."""
    from ..training.interpolator import train

    best = train(TrainSettings(**values))
    click.echo(f"best weights: {best}")


@click.command("train-extrapolator")
@settings_options(ExtrapolatorTrainSettings)
def train_extrapolator_command(**values: Any) -> None:
    """Train the extrapolation network CelCast (resumes from OUT_DIR/checkpoint.pt if present)."""
    from ..training.extrapolator import train

    best = train(ExtrapolatorTrainSettings(**values))
    click.echo(f"best weights: {best}")
