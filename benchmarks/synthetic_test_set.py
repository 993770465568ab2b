"""What the benchmarks on the quality table's held-out synthetic pairs share: arguments and setup.

Used by ``benchmarks/flow/run.py`` and ``benchmarks/ceiling/run.py`` (run from the repository root;
each puts the root on ``sys.path``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import torch

from fpsboost.evaluate import QualitySettings, synthetic_seeds
from fpsboost.models.interpolator import CelFlow
from fpsboost.models.presets import load_interpolator

WIDTH, HEIGHT = 480, 270  # the quality table's synthetic frame size
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM  # the quality table's classical baseline


@dataclass
class SyntheticTestSet:
    args: argparse.Namespace  # weights, pairs, threads, out
    network: CelFlow
    dis: Any  # cv2.DISOpticalFlow
    seeds: list[int]
    notes: list[str]  # splits left short, from synthetic_seeds


def open_synthetic_test_set(description: str, out_dir: Path, default_threads: int) -> SyntheticTestSet:
    """Parse the shared arguments, pin the thread counts and load the network, DIS and the seeds."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None, help="interpolator weights (default: the shipped ones)")
    parser.add_argument("--pairs", type=int, default=45)
    parser.add_argument("--threads", type=int, default=default_threads)
    parser.add_argument("--out", default=str(out_dir))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    seeds, notes = synthetic_seeds(QualitySettings(synthetic_pairs=args.pairs, width=WIDTH, height=HEIGHT))
    return SyntheticTestSet(args, load_interpolator(args.weights).eval(), cv2.DISOpticalFlow_create(DIS_PRESET), seeds, notes)
