"""fpsboost: frame-rate upscaling for animation with our own flow-based interpolation network.

``upscale_file(input, output, factor=2)`` runs the whole job; ``Interpolator`` runs the network
on numpy frames. Names are imported on first use, so ``import fpsboost`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

from .errors import FpsboostError, InputError, ModelError, OptionError, OutputError

_LAZY_EXPORTS = {
    "upscale_file": ".api",
    "Interpolator": ".api",
    "UpscaleSummary": ".pipeline",
    "UpscaleSettings": ".pipeline",
    "Progress": ".pipeline",
    "ModelSettings": ".backends",
    "EncodeSettings": ".video.writer",
    "CadenceSettings": ".cadence",
    "parse_rate": ".timing",
}

__all__ = [
    "FpsboostError", "InputError", "ModelError", "OptionError", "OutputError", "__version__", *_LAZY_EXPORTS,
]


def __getattr__(name: str) -> Any:
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fpsboost' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
