"""Helpers for the pipeline and CLI tests: clip writers, decoders, a reference backend."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np

from fpsboost.backends import InterpolationBackend
from fpsboost.data.clips import mux_stereo, sine_wave
from fpsboost.models.interpolator import CelFlowConfig

from helpers_video import AUDIO_RATE

NTSC_FILM = Fraction(24000, 1001)
# A network small enough to run the pipeline tests in seconds on 2 cores (untrained: these tests
# check timing, streams and pixels that do not depend on what the network learned).
TINY_CONFIG = CelFlowConfig(flow_scales=(4, 2, 1), flow_widths=(12, 12, 12), flow_depths=(1, 1, 1), synth_width=12, synth_depth=1)


class LinearBlendBackend(InterpolationBackend):
    """Cross-fade ``(1 - t) * frame0 + t * frame1``: an interpolator whose output is known exactly,
    so tests can check which pair and which t the pipeline asked for, pixel by pixel."""

    name = "blend"
    device = "cpu"
    default_batch_size = 2

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []  # (pairs, timesteps) per call
        self.flow_scales: list[str | None] = []  # the flow_scale each call asked for

    def interpolate(self, frames0: np.ndarray, frames1: np.ndarray, pair_index: np.ndarray, timesteps: np.ndarray,
                    flow_scale: str | None = None) -> np.ndarray:
        self.calls.append((frames0.shape[0], timesteps.shape[0]))
        self.flow_scales.append(flow_scale)
        t = timesteps.astype(np.float64)[:, None, None, None]
        blend = (1 - t) * frames0[pair_index].astype(np.float64) + t * frames1[pair_index].astype(np.float64)
        return blend.astype(np.float32)


def write_frames(
    path: Path,
    pictures: Sequence[np.ndarray],
    times: Sequence[Fraction],
    rate: Fraction,
    codec: str = "ffv1",
    pix_fmt: str = "yuv420p",
    source_format: str = "rgb24",
    audio_seconds: Fraction | None = None,
) -> Path:
    """Encode ``pictures`` ([H,W,3] arrays in ``source_format``) at exact ``times`` (seconds)."""
    time_base = Fraction(1, math.lcm(rate.numerator, 1000))
    height, width = pictures[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.time_base = time_base
        stream.time_base = time_base
        audio = None
        if audio_seconds is not None:
            audio = container.add_stream("aac", rate=AUDIO_RATE)
            audio.codec_context.layout = "stereo"
        for picture, time in zip(pictures, times):
            frame = av.VideoFrame.from_ndarray(picture, format=source_format).reformat(format=pix_fmt)
            frame.pts = round(Fraction(time) / time_base)
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio is not None:
            mux_stereo(container, audio, sine_wave(audio_seconds))
    return path


def add_subtitles(video: Path, output: Path, srt_text: str) -> Path:
    """Copy ``video`` into Matroska ``output`` with an SRT subtitle track (pure PyAV, no ffmpeg)."""
    srt = output.with_suffix(".srt")
    srt.write_text(srt_text, encoding="utf-8")
    with av.open(str(video)) as source, av.open(str(srt)) as subtitles, av.open(str(output), "w") as result:
        mapping = {}
        for stream in [*source.streams, *subtitles.streams]:
            mapping[(id(stream.container), stream.index)] = result.add_stream_from_template(stream)
        for container in (source, subtitles):
            for packet in container.demux():
                if packet.dts is None:
                    continue
                packet.stream = mapping[(id(container), packet.stream.index)]
                result.mux(packet)
    return output


@dataclass
class VideoFrames:
    """A decoded video stream: exact times (s), pictures, and the stream's own duration (s)."""

    times: list[Fraction]
    pictures: list[np.ndarray]
    rate: Fraction
    pix_fmt: str


def read_video(path: Path, picture_format: str = "rgb24", planes: bool = False) -> VideoFrames:
    """Every frame of the first video stream, with ``pts * time_base`` times.

    ``planes=True`` returns the raw Y plane ([H,W] uint16 for >8-bit formats) instead of RGB.
    """
    times, pictures = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            times.append(Fraction(frame.pts) * stream.time_base)
            if planes:
                dtype = np.uint16 if frame.format.components[0].bits > 8 else np.uint8
                plane = frame.planes[0]
                view = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // dtype().itemsize)
                pictures.append(view[:, : plane.width].copy())
            else:
                pictures.append(frame.to_ndarray(format=picture_format))
        return VideoFrames(times, pictures, Fraction(stream.average_rate or 0), stream.codec_context.format.name)


def stream_durations(path: Path) -> dict[str, Fraction]:
    """End minus start of each stream type's packets (seconds), from the packets themselves."""
    spans: dict[str, list[Fraction]] = {}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.pts is None:
                continue
            start = Fraction(packet.pts) * packet.time_base
            end = start + Fraction(packet.duration or 0) * packet.time_base
            low, high = spans.get(packet.stream.type, [start, end])
            spans[packet.stream.type] = [min(low, start), max(high, end)]
    return {kind: high - low for kind, (low, high) in spans.items()}


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if error == 0 else 10 * math.log10(peak * peak / error)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_planes(
    path: Path, frames: Sequence[Sequence[np.ndarray]], times: Sequence[Fraction], rate: Fraction,
    codec: str = "ffv1", pix_fmt: str = "yuv420p10le",
) -> Path:
    """Encode frames given as raw planes (e.g. Y, U, V of ``pix_fmt``, uint16 for >8 bits) at exact times."""
    time_base = Fraction(1, math.lcm(rate.numerator, 1000))
    height, width = frames[0][0].shape
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.time_base = time_base
        stream.time_base = time_base
        for planes, time in zip(frames, times):
            frame = av.VideoFrame(width, height, pix_fmt)
            for plane, values in zip(frame.planes, planes):
                view = np.frombuffer(plane, values.dtype).reshape(plane.height, plane.line_size // values.dtype.itemsize)
                view[:, : plane.width] = values
            frame.pts = round(Fraction(time) / time_base)
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
