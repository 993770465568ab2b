"""fpsboost: frame-rate upscaling for animation with our own flow-based interpolation network."""

__version__ = "0.1.0"

from .errors import FpsboostError

__all__ = ["FpsboostError", "__version__"]
