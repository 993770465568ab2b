"""Whole generated videos: shots of procedural cel animation joined by hard cuts, drawn on ones,
twos or threes, with a tone as audio. For tests and benchmarks of the job (``fpsboost batch``'s
chunks split at the cuts), where every frame must be reproducible from a seed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .celgen import CelScene

AUDIO_RATE = 48_000
TONE_HZ = 440.0
AUDIO_FRAME_SAMPLES = 1024


@dataclass(frozen=True)
class ShotSpec:
    """``frames`` source frames of scene ``seed``, each drawing held ``hold`` frames (1: on ones)."""

    seed: int
    frames: int
    hold: int = 2


def write_cel_video(path: str | Path, shots: list[ShotSpec], width: int = 96, height: int = 64,
                    rate: Fraction = Fraction(24000, 1001), codec: str = "libx264", audio: bool = True,
                    options: dict[str, str] | None = None) -> Path:
    """Write the shots one after another into ``path`` at ``rate`` (constant), with a stereo tone as
    long as the video when ``audio``. Returns ``path``."""
    path = Path(path)
    rate = Fraction(rate)
    time_base = Fraction(1, math.lcm(rate.numerator, 1000))
    total = sum(shot.frames for shot in shots)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = stream.time_base = time_base
        tone = None
        if audio:
            tone = container.add_stream("aac", rate=AUDIO_RATE)
            tone.codec_context.layout = "stereo"
        index = 0
        for shot in shots:
            scene = CelScene(shot.seed, height, width)
            drawings: dict[int, np.ndarray] = {}
            for frame_in_shot in range(shot.frames):
                drawing = frame_in_shot - frame_in_shot % shot.hold
                if drawing not in drawings:
                    picture = scene.render(float(drawing)).numpy().transpose(1, 2, 0)
                    drawings = {drawing: (np.clip(picture, 0, 1) * 255).round().astype(np.uint8)}
                frame = av.VideoFrame.from_ndarray(drawings[drawing], format="rgb24").reformat(format="yuv420p")
                frame.pts, frame.time_base = round(Fraction(index) / rate / time_base), time_base
                container.mux(stream.encode(frame))
                index += 1
        container.mux(stream.encode(None))
        if tone is not None:
            mux_stereo(container, tone, sine_wave(Fraction(total) / rate))
    return path


def sine_wave(seconds: Fraction, hz: float | np.ndarray = TONE_HZ) -> np.ndarray:
    """``seconds`` of a sine at ``hz`` (a number, or one per sample) and amplitude 0.2, at :data:`AUDIO_RATE`."""
    times = np.arange(int(Fraction(seconds) * AUDIO_RATE)) / AUDIO_RATE
    return (0.2 * np.sin(2 * np.pi * hz * times)).astype(np.float32)


def mux_stereo(container: av.container.OutputContainer, stream: av.stream.Stream, wave: np.ndarray) -> None:
    """Encode ``wave`` (float32 samples at :data:`AUDIO_RATE`) on both channels of ``stream``, then flush it."""
    for start in range(0, len(wave), AUDIO_FRAME_SAMPLES):
        part = wave[start:start + AUDIO_FRAME_SAMPLES]
        frame = av.AudioFrame.from_ndarray(np.stack([part, part]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
