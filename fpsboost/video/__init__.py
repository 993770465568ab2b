"""Video input and output: probe/decode with exact timestamps, encode/remux with atomic rename."""

from .reader import ColourInfo, DecodedFrame, VideoInfo, VideoReader, probe
from .writer import EncodeSettings, VideoWriter

__all__ = ["ColourInfo", "DecodedFrame", "EncodeSettings", "VideoInfo", "VideoReader", "VideoWriter", "probe"]
