"""Rolling credits through the whole job: ``python benchmarks/v2/credits/job_check.py [PX_PER_FRAME]``.

Writes 24 frames of the credits bench's page (``fpsboost bench credits``) scrolling PX_PER_FRAME (4) a
frame at 24 fps, losslessly, runs ``fpsboost IN OUT --factor 2 --codec ffv1`` on it and scores each
in-between (the tail excluded) against the page at the half-way position. Run from the repository root.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np

from fpsboost.evaluation.experiments.credits import HEIGHT, WIDTH, credits_page

FRAMES = 24


def main(speed: int) -> None:
    page = credits_page(80)

    def frame(top: int) -> np.ndarray:
        return (np.repeat(page[top:top + HEIGHT, :, None], 3, 2) * 255 + 0.5).astype(np.uint8)

    with tempfile.TemporaryDirectory() as folder:
        source, result = Path(folder) / "credits.mkv", Path(folder) / "out.mkv"
        with av.open(str(source), "w") as container:
            stream = container.add_stream("ffv1", rate=24)
            stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "bgr0"
            for index in range(FRAMES):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame(index * speed), format="rgb24")))
            container.mux(stream.encode())
        subprocess.run(["fpsboost", str(source), str(result), "--factor", "2", "--codec", "ffv1", "-q"], check=True)
        with av.open(str(result)) as container:
            out = [decoded.to_ndarray(format="rgb24") for decoded in container.decode(video=0)]
    scores = []
    for index in range(1, 2 * FRAMES - 2, 2):  # the in-betweens; the last frame is the extrapolated tail
        error = np.mean((out[index].astype(float) - frame(index * speed // 2).astype(float)) ** 2)
        scores.append(10 * np.log10(255**2 / max(error, 1e-10)))
    print(f"{len(out)} frames; in-betweens {np.mean(scores):.2f} dB on average, worst {np.min(scores):.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
