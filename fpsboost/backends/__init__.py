"""Inference backends behind one interface; :func:`create_backend` picks one from settings."""

from __future__ import annotations

from .base import InterpolationBackend, ModelSettings


def create_backend(settings: ModelSettings) -> InterpolationBackend:
    """Build the backend named by ``settings.backend`` (``torch`` or ``onnx``)."""
    from ..errors import OptionError

    if settings.backend == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(settings)
    if settings.backend == "onnx":
        from .onnx_backend import OnnxBackend  # noqa: F401  (added by the ONNX work)

        return OnnxBackend(settings)
    raise OptionError(f"unknown backend {settings.backend!r}: use torch or onnx")


__all__ = ["InterpolationBackend", "ModelSettings", "create_backend"]
