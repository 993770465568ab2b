"""Scrolling credits: white anti-aliased text moving straight up, CelFlow against DIS and a blend.

    fpsboost bench credits [--threads 2] [--weights PATH]

Every episode ends with credits rolling at constant speed. A 480x270 window over a page of 60
lines of DejaVu Sans 16 px (22 px apart) moves up ``speed`` px per frame; the in-between at t = 0.5
of frames ``speed`` apart is scored against the page at the half-way offset (PSNR, 8-bit), three
windows per speed. A pure translation: a flow method that finds it is exact. Not a training
scene: celgen's text is static. Writes results.json and RESULTS.md into ``--out-dir``
(``benchmarks/v2/credits`` holds v2's run: ``--weights weights/celflow-v2.safetensors --out-dir
benchmarks/v2/credits``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ...models.global_motion import dominant_translation
from ...models.presets import load_interpolator
from ..baselines import DisFlowMethod
from ..metrics import psnr_u8
from ..report import describe_weights, git_commit, write_report

HEIGHT, WIDTH = 270, 480
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_SIZE = 16
LINE_SPACING = 22
SPEEDS_PX_PER_FRAME = (2, 4, 6, 8, 16)
WINDOW_TOPS = (50, 120, 200)


@dataclass(frozen=True)
class Settings:
    threads: int = 2
    weights: str | None = field(default=None, metadata={"help": "interpolator weights (default: the shipped ones)"})
    out_dir: str = "benchmarks/credits"
    job_speed: int = field(default=0, metadata={"help": "also run the whole job (fpsboost IN OUT --factor 2, lossless) on "
                                                        "24 frames of the page scrolling this many px a frame (0: not)"})


def credits_page(lines: int = 60) -> np.ndarray:
    """``[H, W]`` float in [0,1]: white credit lines on black."""
    canvas = Image.new("L", (WIDTH, LINE_SPACING * lines + HEIGHT), 0)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.truetype(FONT, FONT_SIZE) if Path(FONT).is_file() else ImageFont.load_default()
    for index in range(lines):
        draw.text((150, 10 + index * LINE_SPACING), f"Key Animator {index:02d}   Tanaka Hiroshi", fill=255, font=font)
    return np.asarray(canvas, np.float32) / 255


def to_u8(image: np.ndarray) -> np.ndarray:
    """``[3,H,W]`` float in [0,1] -> ``[H,W,3]`` uint8."""
    return (np.clip(image.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)


def run(settings: Settings) -> None:
    torch.set_num_threads(settings.threads)
    network = load_interpolator(settings.weights).eval()
    dis = DisFlowMethod()
    page = credits_page()
    started = time.perf_counter()
    rows = []
    for speed in SPEEDS_PX_PER_FRAME:
        scores: dict[str, list[float]] = {"celflow": [], "dis": [], "blend": []}
        for top in WINDOW_TOPS:
            window = lambda y: np.repeat(page[y:y + HEIGHT][None], 3, 0)  # noqa: E731
            first, last, truth = window(top), window(top + speed), window(top + speed // 2)
            shift = torch.from_numpy(dominant_translation(first[None], last[None]))  # as the backends pass it
            with torch.inference_mode():
                middle = network(torch.from_numpy(first)[None], torch.from_numpy(last)[None],
                                 torch.zeros(1, dtype=torch.long), torch.tensor([0.5]), shift)[0].numpy()
            scores["celflow"].append(psnr_u8(to_u8(middle), to_u8(truth)))
            scores["dis"].append(psnr_u8(dis(to_u8(first), to_u8(last), (0.5,))[0], to_u8(truth)))
            scores["blend"].append(psnr_u8(to_u8((first + last) / 2), to_u8(truth)))
        row = {"speed_px_per_frame": speed, **{name: round(float(np.mean(values)), 2) for name, values in scores.items()}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    results = {"commit": git_commit(), "weights": describe_weights(settings.weights), "size": f"{WIDTH}x{HEIGHT}",
               "seconds": round(time.perf_counter() - started), "rows": rows}
    lines = ["# Scrolling credits: in-between PSNR of text moving straight up", "",
             f"Commit `{results['commit']}`, weights `{results['weights'].get('version', '?')}`, {settings.threads} torch threads, "
             f"{results['seconds']} s. Made by `fpsboost bench credits` (see its --help): {WIDTH}x{HEIGHT}, DejaVu Sans "
             f"{FONT_SIZE} px white on black, lines {LINE_SPACING} px apart; in-between at t = 0.5; mean of "
             f"{len(WINDOW_TOPS)} windows.", "",
             "| px per frame | CelFlow | DIS | blend |", "|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['speed_px_per_frame']} | {row['celflow']:.2f} | {row['dis']:.2f} | {row['blend']:.2f} |")
    if settings.job_speed:
        job = through_the_job(settings.job_speed, settings.weights)
        results["job"] = job
        lines += ["", f"Through the job (`fpsboost IN OUT --factor 2 --codec ffv1{' --model ' + settings.weights if settings.weights else ''}`), "
                  f"{JOB_FRAMES} frames scrolling {job['speed_px_per_frame']} px a frame at 24 fps: {job['frames_out']} frames out, "
                  f"in-betweens (the extrapolated tail left out) {job['mean_db']:.2f} dB on average, worst {job['worst_db']:.2f}."]
    write_report(settings.out_dir, results, lines)


JOB_FRAMES = 24


def through_the_job(speed: int, weights: str | None = None) -> dict:
    """Credits through ``fpsboost IN OUT --factor 2`` as a user runs it: :data:`JOB_FRAMES` frames of the
    page scrolling ``speed`` px a frame, written losslessly; each in-between scored against the page
    at the half-way position."""
    import subprocess
    import sys
    import tempfile

    import av

    page = credits_page(JOB_FRAMES * speed // LINE_SPACING + 20)

    def frame(top: int) -> np.ndarray:
        return (np.repeat(page[top:top + HEIGHT, :, None], 3, 2) * 255 + 0.5).astype(np.uint8)

    with tempfile.TemporaryDirectory() as folder:
        source, result = Path(folder) / "credits.mkv", Path(folder) / "out.mkv"
        with av.open(str(source), "w") as container:
            stream = container.add_stream("ffv1", rate=24)
            stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "bgr0"
            for index in range(JOB_FRAMES):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame(index * speed), format="rgb24")))
            container.mux(stream.encode())
        command = [sys.executable, "-m", "fpsboost.cli", str(source), str(result), "--factor", "2", "--codec", "ffv1", "-q"]
        subprocess.run(command + (["--model", weights] if weights else []), check=True)
        with av.open(str(result)) as container:
            out = [decoded.to_ndarray(format="rgb24") for decoded in container.decode(video=0)]
    scores = [psnr_u8(out[index], frame(index * speed // 2)) for index in range(1, 2 * JOB_FRAMES - 2, 2)]
    return {"speed_px_per_frame": speed, "frames_out": len(out), "mean_db": round(float(np.mean(scores)), 2),
            "worst_db": round(float(np.min(scores)), 2)}
