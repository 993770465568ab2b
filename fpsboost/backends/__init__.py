"""Inference backends behind one interface; :func:`create_backend` picks one from settings."""

from __future__ import annotations

from .base import InterpolationBackend, ModelSettings

BACKENDS = ("auto", "torch", "onnx")
# Measured side by side on an idle 2-core CPU (benchmarks/backends/RESULTS.md): PyTorch was
# 1.1-2.0x faster than onnxruntime at 480p and 720p. On CUDA torch stays the default until a GPU run
# says otherwise.
CPU_DEFAULT_BACKEND = "torch"
CUDA_DEFAULT_BACKEND = "torch"


def resolve_backend_name(settings: ModelSettings) -> str:
    """``auto`` -> the faster backend for the device (an ONNX model path means ``onnx``)."""
    if settings.backend != "auto":
        return settings.backend
    if settings.onnx_path:
        return "onnx"
    if settings.precision in ("bf16", "mixed"):
        return "torch"  # the ONNX export is fp32 or fp16 only
    if settings.device == "cuda":
        return CUDA_DEFAULT_BACKEND
    if settings.device == "auto":
        import torch

        if torch.cuda.is_available():
            return CUDA_DEFAULT_BACKEND
    return CPU_DEFAULT_BACKEND


def create_backend(settings: ModelSettings) -> InterpolationBackend:
    """Build the backend named by ``settings.backend`` (``auto``, ``torch`` or ``onnx``)."""
    from ..errors import OptionError

    name = resolve_backend_name(settings)
    if name == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(settings)
    if name == "onnx":
        from .onnx_backend import OnnxBackend

        return OnnxBackend(settings)
    raise OptionError(f"unknown backend {settings.backend!r}: use {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "InterpolationBackend", "ModelSettings", "create_backend", "resolve_backend_name"]
