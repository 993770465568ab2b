"""Tiny test clips made with PyAV: known frame times, colour tags, audio and subtitle streams."""

from __future__ import annotations

import math
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np

from fpsboost.data.clips import AUDIO_RATE, mux_stereo, sine_wave

FFMPEG = shutil.which("ffmpeg")


def pattern_rgb24(index: int, width: int, height: int) -> np.ndarray:
    """[H, W, 3] uint8 picture that changes with ``index``: diagonal ramps plus a moving square."""
    y, x = np.mgrid[0:height, 0:width]
    red = (x * 255 // max(width - 1, 1) + index * 7) % 256
    green = (y * 255 // max(height - 1, 1)) % 256
    blue = ((x + y + index * 3) * 2) % 256
    picture = np.stack([red, green, blue], axis=-1).astype(np.uint8)
    side = max(4, min(width, height) // 4)
    left = (index * 3) % max(width - side, 1)
    picture[height // 4 : height // 4 + side, left : left + side] = (250, 250, 20)
    return picture


def gradient_yuv_planes(width: int, height: int, bits: int, index: int = 0) -> list[np.ndarray]:
    """Limited-range 4:4:4 planes: a luma ramp over ~750 10-bit levels and gentle chroma ramps.

    Kept inside the RGB gamut (no clipping), so a trip through RGB can return the same samples.
    """
    step = 1 << (bits - 8)
    ramp = np.linspace(32 * step, 220 * step, width).round().astype(np.int64)
    luma = np.tile(ramp, (height, 1)) + index
    chroma = np.tile(np.linspace(122 * step, 134 * step, width).round().astype(np.int64), (height, 1))
    dtype = np.uint16 if bits > 8 else np.uint8
    return [luma.astype(dtype), chroma.astype(dtype), chroma[:, ::-1].astype(dtype).copy()]


def _fill_planes(frame: av.VideoFrame, planes: Sequence[np.ndarray]) -> None:
    for plane, values in zip(frame.planes, planes):
        item = values.dtype.itemsize
        view = np.frombuffer(plane, values.dtype).reshape(plane.height, plane.line_size // item)
        view[:, : plane.width] = values[: plane.height, : plane.width]


def make_clip(
    path: Path,
    frames: int = 12,
    width: int = 64,
    height: int = 48,
    rate: Fraction = Fraction(24),
    pix_fmt: str = "yuv420p",
    codec: str = "libx264",
    audio: bool = False,
    audio_codec: str = "aac",
    audio_language: str | None = "jpn",
    times: Sequence[Fraction] | None = None,
    options: dict[str, str] | None = None,
    colour_tags: dict[str, int] | None = None,
    ten_bit_gradient: bool = False,
) -> Path:
    """Write a clip; ``times`` (seconds) makes it variable-frame-rate. Returns ``path``."""
    path = Path(path)
    frame_times = list(times) if times is not None else [Fraction(i) / rate for i in range(frames)]
    time_base = Fraction(1, math.lcm(Fraction(rate).numerator, 1000))
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.time_base = time_base
        stream.time_base = time_base
        for key, value in (colour_tags or {}).items():
            setattr(stream.codec_context, key, value)
        audio_stream = None
        if audio:
            audio_stream = container.add_stream(audio_codec, rate=AUDIO_RATE)
            audio_stream.codec_context.layout = "stereo"
            if audio_language:
                audio_stream.metadata["language"] = audio_language
        for index, time in enumerate(frame_times):
            if ten_bit_gradient or av.VideoFormat(pix_fmt).components[0].bits > 8 and not pix_fmt.startswith("gbr"):
                frame = av.VideoFrame(width, height, pix_fmt)
                bits = av.VideoFormat(pix_fmt).components[0].bits
                full = gradient_yuv_planes(width, height, bits, index)
                sub_h, sub_w = frame.planes[1].height, frame.planes[1].width
                step_y, step_x = -(-height // sub_h), -(-width // sub_w)
                _fill_planes(frame, [full[0], full[1][::step_y, ::step_x], full[2][::step_y, ::step_x]])
            else:
                frame = av.VideoFrame.from_ndarray(pattern_rgb24(index, width, height), format="rgb24")
                frame = frame.reformat(format=pix_fmt)
            frame.pts = round(Fraction(time) / time_base)
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio_stream is not None:
            end = frame_times[-1] + (frame_times[-1] - frame_times[-2] if len(frame_times) > 1 else 1 / rate)
            _write_tone(container, audio_stream, end)
    return path


def _write_tone(container: av.container.OutputContainer, stream: av.stream.Stream, seconds: Fraction) -> None:
    mux_stereo(container, stream, sine_wave(seconds))


def add_subtitles_with_ffmpeg(
    video: Path, output: Path, srt_text: str, language: str = "eng", codec: str = "srt", attachment: Path | None = None
) -> Path:
    """Mux an SRT (or, with codec="ass", an ASS) subtitle track into a copy of ``video`` using /usr/bin/ffmpeg.

    ``attachment`` is added as a font attachment (Matroska only).
    """
    if FFMPEG is None:
        raise RuntimeError("ffmpeg not installed")
    srt = output.with_suffix(".srt")
    srt.write_text(srt_text, encoding="utf-8")
    command = [
        FFMPEG, "-v", "error", "-y", "-i", str(video), "-i", str(srt),
        "-map", "0", "-map", "1", "-c", "copy", "-c:s", codec,
        "-metadata:s:s:0", f"language={language}", "-metadata:s:s:0", "title=Signs",
    ]
    if attachment is not None:
        command += ["-attach", str(attachment), "-metadata:s:t:0", "mimetype=font/ttf"]
    command.append(str(output))
    subprocess.run(command, check=True)
    return output


def ffprobe_streams(path: Path) -> str:
    """ffprobe's view of ``path`` (used only as an independent checker in tests)."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return ""
    result = subprocess.run(
        [ffprobe, "-v", "error", "-show_streams", "-show_format", str(path)],
        capture_output=True, text=True, check=True,
    )
    return result.stdout
