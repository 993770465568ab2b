"""What only a CUDA machine can check: does the GPU draw the frames the CPU draws, in each precision?

    fpsboost bench gpu --real-dir DIR [--out-dir benchmarks/gpu]

CelFlow runs through the torch backend on the CPU in fp32 (the reference) and on CUDA in fp32,
fp16 and bf16 (and through onnxruntime's CUDA provider in fp32 and fp16 where onnxruntime-gpu is
installed), on the evaluation's held-out synthetic pairs (:mod:`fpsboost.evaluation.test_sets`'
seeds, 480x270, t = 0.25, 0.5, 0.75) and on real triplets from its held-out clips. For each
configuration: PSNR against the truth, and PSNR and the largest 8-bit difference against the CPU's
frames. Prints the table and writes ``agreement.json``.

Speed and memory on the GPU are ``fpsboost bench --device cuda`` (its 2160p rows are 4K); this
experiment is only about the pixels.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..baselines import NetworkMethod
from ..metrics import psnr_u8
from ..report import write_report
from ..test_sets import QUALITY_TIMESTEPS, REAL_CLIPS, Triplet, real_triplets, synthetic_seeds, synthetic_triplet

CONFIGURATIONS = (  # (backend, device, precision); the first is the reference
    ("torch", "cpu", "fp32"),
    ("torch", "cuda", "fp32"),
    ("torch", "cuda", "fp16"),
    ("torch", "cuda", "bf16"),
    ("onnx", "cuda", "fp32"),
    ("onnx", "cuda", "fp16"),
)


@dataclass(frozen=True)
class Settings:
    real_dir: str | None = field(default=None, metadata={"help": "folder with the evaluation's real clips (bikes.mp4, ...)"})
    synthetic_pairs: int = field(default=15, metadata={"help": "held-out synthetic pairs (a multiple of 3)"})
    real_triplets: int = field(default=6, metadata={"help": "triplets per real clip"})
    out_dir: str = "benchmarks/gpu"


def run(settings: Settings) -> None:
    started = time.perf_counter()
    seeds, _ = synthetic_seeds(settings.synthetic_pairs)
    sets: dict[str, list[Triplet]] = {"synthetic": [synthetic_triplet(seed, 480, 270) for seed in seeds]}
    if settings.real_dir:
        for clip in REAL_CLIPS:
            path = Path(settings.real_dir) / clip.filename
            if path.is_file():
                sets[clip.filename] = real_triplets(path, clip, settings.real_triplets)
    print(f"data ready in {time.perf_counter() - started:.0f} s: "
          + ", ".join(f"{name} {len(triplets)}" for name, triplets in sets.items()), flush=True)

    rows, notes = [], []
    reference: dict[str, list[list[np.ndarray]]] = {}
    for backend_name, device, precision in CONFIGURATIONS:
        label = f"{backend_name} {device} {precision}"
        try:
            method = NetworkMethod(None, device, precision, backend_name)  # the evaluation's own method
        except Exception as error:  # a missing provider or GPU is a note, not a failure
            notes.append(f"{label} skipped: {error}")
            print(notes[-1], flush=True)
            continue
        for set_name, triplets in sets.items():
            outputs = [method(triplet.frame0, triplet.frame1, tuple(sorted(triplet.truths))) for triplet in triplets]
            if not reference.get(set_name):
                reference[set_name] = outputs
            truth_psnr, versus_psnr, versus_max = [], [], 0
            for triplet, frames, reference_frames in zip(triplets, outputs, reference[set_name]):
                for time_, frame, reference_frame in zip(sorted(triplet.truths), frames, reference_frames):
                    truth_psnr.append(psnr_u8(frame, triplet.truths[time_]))
                    difference = np.abs(frame.astype(np.int16) - reference_frame.astype(np.int16))
                    versus_max = max(versus_max, int(difference.max()))
                    if difference.any():
                        versus_psnr.append(psnr_u8(frame, reference_frame))
            identical = len(truth_psnr) - len(versus_psnr)
            rows.append({"backend": backend_name, "device": device, "precision": precision, "set": set_name,
                         "frames": len(truth_psnr), "psnr_vs_truth": round(float(np.mean(truth_psnr)), 3),
                         "psnr_vs_cpu_fp32": round(float(np.mean(versus_psnr)), 2) if versus_psnr else None,
                         "identical_to_cpu_fp32": identical, "max_diff_vs_cpu_fp32": versus_max,
                         "describe": method.backend.describe()})
            print(json.dumps(rows[-1]), flush=True)

    lines = ["", "| backend | device | precision | set | frames | PSNR vs truth | PSNR vs CPU fp32 (differing frames) "
             "| frames identical to CPU | largest 8-bit difference |", "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['backend']} | {row['device']} | {row['precision']} | {row['set']} | {row['frames']} "
                     f"| {row['psnr_vs_truth']:.2f} | {row['psnr_vs_cpu_fp32'] or '-'} | {row['identical_to_cpu_fp32']} "
                     f"| {row['max_diff_vs_cpu_fp32']} |")
    lines += [f"* {note}" for note in notes]
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    write_report(settings.out_dir, {"timesteps": QUALITY_TIMESTEPS, "rows": rows, "notes": notes,
                                    "wall_s": round(time.perf_counter() - started, 1)},
                 lines, device=device, json_name="agreement.json", markdown_name=None)
