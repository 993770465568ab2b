"""Make ``sample.mp4``: a 2-second procedural cel-animation clip with a scene cut and audio.

Run from the repository root: ``python tests/data/make_sample.py``. The clip is 320x180 at
24000/1001 fps (48 frames), drawn "on twos" (every drawing shown for two frames) with a scene cut
halfway, H.264 in MP4 with a stereo AAC tone that changes pitch at the cut. It is the Quick-start
input in README.md and is small enough to ship in the repository. The pictures (and which frames
show a new drawing) are :mod:`fpsboost.data.sample_clip`'s.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from fpsboost.data.sample_clip import CUT_FRAME, FRAMES, HEIGHT, RATE, WIDTH, render_frames

AUDIO_RATE = 48_000
TONES_HZ = (440.0, 660.0)  # one per shot, so a drifting audio track is easy to hear
CRF = 26
OUTPUT = Path(__file__).resolve().parent / "sample.mp4"


def write_clip(path: Path, pictures: list[np.ndarray]) -> None:
    time_base = Fraction(1, RATE.numerator)
    duration = FRAMES / RATE
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=RATE, options={"crf": str(CRF), "preset": "slow", "tune": "animation"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.codec_context.time_base = time_base
        video.time_base = time_base
        audio = container.add_stream("aac", rate=AUDIO_RATE)
        audio.codec_context.layout = "stereo"
        for index, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
            frame.pts = round(Fraction(index) / RATE / time_base)
            frame.time_base = time_base
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        samples = int(duration * AUDIO_RATE)
        seconds = np.arange(samples) / AUDIO_RATE
        cut_second = float(CUT_FRAME / RATE)
        pitch = np.where(seconds < cut_second, TONES_HZ[0], TONES_HZ[1])
        tone = (0.2 * np.sin(2 * np.pi * pitch * seconds)).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = tone[start:start + 1024]
            frame = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))


if __name__ == "__main__":
    write_clip(OUTPUT, render_frames())
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size // 1024} KiB)")
