"""Option parsing shared by the commands: whole numbers, encoder options, the encode option set."""

from __future__ import annotations

import re
import types
import typing
from dataclasses import fields
from typing import Any, Callable, Sequence

import click

from ..errors import OptionError

_WHOLE_NUMBER = re.compile(r"^\s*\d+\s*$")
DEVICE_CHOICES = ("auto", "cpu", "cuda")


def parse_factor(text: str | None) -> int | None:
    """``--factor`` of the main command: a whole number >= 2 (checked by UpscaleSettings), or None."""
    if text is None:
        return None
    if not _WHOLE_NUMBER.match(text):
        raise OptionError(f"--factor must be a whole number of at least 2, got {text!r} (use --fps for other rates)")
    return int(text)


def parse_whole(text: str | None, name: str, minimum: int) -> int | None:
    """A whole number of at least ``minimum`` given as option ``name``, or None."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise OptionError(f"{name} must be a whole number of at least {minimum}, got {text!r}") from None
    if value < minimum or str(value) != text.strip():
        raise OptionError(f"{name} must be a whole number of at least {minimum}, got {text!r}")
    return value


def parse_encoder_options(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings -> dict (later keys win)."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise OptionError(f"--encoder-option wants KEY=VALUE, got {pair!r}")
        options[key.strip()] = value
    return options


def encode_options(pix_fmt_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The encoder and output options every command that writes a video takes (``--codec`` ... ``--quiet``)."""
    options = [
        click.option("--codec", metavar="NAME", help="Video encoder (default libx264 for .mp4/.mkv/.mov)."),
        click.option("--crf", type=int, metavar="N", help="Constant rate factor for the encoder (quality; lower is better)."),
        click.option("--preset", metavar="NAME", help="Encoder preset, e.g. medium, slow."),
        click.option("--pix-fmt", metavar="FMT", help=pix_fmt_help),
        click.option("--encoder-option", "encoder_options", multiple=True, metavar="KEY=VALUE", help="Passed to the encoder unchanged (repeatable)."),
        click.option("--overwrite", is_flag=True, help="Replace OUT if it exists."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary (warnings and errors still show)."),
    ]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def encode_settings(codec: str | None, crf: int | None, preset: str | None, pix_fmt: str | None,
                    encoder_options: Sequence[str], overwrite: bool):
    """The :class:`~fpsboost.video.writer.EncodeSettings` of :func:`encode_options`' values."""
    from ..video.writer import EncodeSettings

    return EncodeSettings(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt,
                          options=parse_encoder_options(encoder_options), overwrite=overwrite)


def _option_type(annotation: Any) -> tuple[type, bool]:
    """The click type of a settings field and whether it repeats (``tuple[X, ...]``); ``X | None`` is X."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    if typing.get_origin(annotation) is tuple:
        return typing.get_args(annotation)[0], True
    return annotation, False


def settings_options(settings_class: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Expose every field of a settings dataclass as ``--field-name`` (defaults from the dataclass).

    ``bool`` fields become ``--name/--no-name`` flags, ``tuple[X, ...]`` fields repeatable options,
    and ``X | None`` an optional X; a field's ``metadata["help"]`` is its help.
    """
    defaults = settings_class()
    hints = typing.get_type_hints(settings_class)

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for field in reversed(fields(settings_class)):
            default = getattr(defaults, field.name)
            kind, repeated = _option_type(hints[field.name])
            flag = "--" + field.name.replace("_", "-")
            help_text = field.metadata.get("help")
            if kind is bool:
                option = click.option(f"{flag}/--no-{flag[2:]}", field.name, default=default, show_default=True, help=help_text)
            else:
                option = click.option(flag, field.name, type=kind, default=default, multiple=repeated,
                                      show_default=True, help=help_text)
            command = option(command)
        return command

    return decorate
