"""``fpsboost train`` and ``fpsboost train-extrapolator``: every field of the run's settings is an option."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Callable

import click

from ..training.settings import ExtrapolatorTrainSettings, TrainSettings


def settings_options(settings_class: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Expose every field of a settings dataclass as ``--field-name`` (defaults from the dataclass)."""
    defaults = settings_class()

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for field in reversed(fields(settings_class)):
            default = getattr(defaults, field.name)
            kind = type(default) if default is not None else str
            command = click.option("--" + field.name.replace("_", "-"), field.name, type=kind, default=default,
                                   show_default=True)(command)
        return command

    return decorate


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
