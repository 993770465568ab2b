"""The picture's edges: where content enters or leaves the frame, and the rows the stride pads.

    fpsboost bench edges [--real-dir DIR] [--windows 20] [--pairs 45] [--threads 2]

Found on the held-out fifth of Big Buck Bunny at 1280x720, where the network lost to plain DIS
(38.68 against 38.79 dB): two windows of rolling credits lost about 3 dB each, all of it in the
picture's last 16 rows. Two causes, each measured here on the same items:

* **DIS on the stride-padded pair.** The network pads its input to a multiple of 32 (720 rows
  become 736, replicating the last row), and v2 measured its DIS flows on that padded pair. DIS read
  the replicated strip as still and carried its zero motion into the picture's last rows. Now DIS
  runs on the picture itself and only the flows are padded.
* **Warps whose source leaves the picture.** Where content enters from an edge, one frame's warp
  samples outside it and only repeats its edge row; the learnt blend still gave it weight. The
  in-frame rule (:func:`~fpsboost.models.visibility.keep_in_frame`) hands such pixels to the other
  frame. Applied everywhere it lost 2.2 dB re-timing a pan drawn on twos (``fpsboost bench cadence
  --sets twos``, seed 4); most of that was a false fade (a pan revealing a black border, fixed in
  :func:`~fpsboost.models.pairs.brightness_change`), the rest DIS's motion at the edge. The shipped
  file uses the rule's camera form: only where both warps move with the pair's dominant translation.

Variants of the shipped network (same weights), each given the pair's neighbours and dominant
translation as the job gives them: *before* (flows and accelerations measured on the stride-padded
frames, then cropped, no rule), *DIS on the picture* (no rule), the rule *everywhere* and *where the
camera moves* (as shipped); and the quality table's DIS baseline. Items: the quality table's held-out film
windows (1280x720, t = 0.5) and held-out synthetic pairs (480x270: 270 rows pad to 288; t = 0.25,
0.5, 0.75). PSNR (dB) over the whole frame, over the band within :data:`BAND` pixels of any edge,
and inside it. Writes ``results.json`` and ``RESULTS.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ...data.real import fetch_big_buck_bunny
from ...models.classical_flow import classical_accelerations, classical_pair_flows
from ...models.global_motion import dominant_translation
from ...models.presets import load_interpolator, weights_dir
from ..baselines import DisFlowMethod
from ..metrics import to_u8
from ..report import write_report
from ..speed import limit_threads
from ..test_sets import BBB_FILENAME, REAL_CLIPS, SYNTHETIC_SIZE, Triplet, real_triplets, synthetic_seeds, synthetic_triplet

BAND = 16  # pixels from the picture's edges: the rows a 720-row frame's padding adds, and about a frame's motion
BEFORE, PICTURE, RULE, CAMERA, DIS = ("before: DIS on the stride-padded pair", "DIS on the picture, no rule",
                                      "DIS on the picture + in-frame rule everywhere",
                                      "DIS on the picture + in-frame rule where the camera moves (shipped)",
                                      "DIS baseline (plain blend)")


@dataclass(frozen=True)
class Settings:
    weights: str = field(default=str(weights_dir() / "celflow-v2.safetensors"), metadata={"help": "the network"})
    real_dir: str | None = field(default=None, metadata={"help": "folder holding bbb.mp4 (else the data cache's film)"})
    windows: int = field(default=20, metadata={"help": "held-out film windows"})
    pairs: int = field(default=45, metadata={"help": "held-out synthetic pairs (0: none)"})
    threads: int = 2
    out_dir: str = "benchmarks/edges"


def _chw(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float()[None] / 255


def _stride_padded(measure: Callable[..., torch.Tensor], network, *frames: torch.Tensor) -> torch.Tensor:
    """``measure(*frames)`` on the frames padded as the network pads its input, cropped back: how v2 measured before."""
    height, width = frames[0].shape[-2:]
    return measure(*(network.pad(frame) for frame in frames))[..., :height, :width]


@torch.no_grad()
def _network_frames(network, triplet: Triplet, padded_measurement: bool) -> list[np.ndarray]:
    """The network's in-betweens of one triplet, given its neighbours and translation as the job gives them."""
    a, b = _chw(triplet.frame0), _chw(triplet.frame1)
    before, after = _chw(triplet.before), _chw(triplet.after)
    distance = triplet.distance

    def measure(a, b, before, after):
        flows = classical_pair_flows(a, b)
        return torch.cat([flows, classical_accelerations(flows, a, b, before, after, distance, distance)], dim=1)

    measured = (_stride_padded(measure, network, a, b, before, after) if padded_measurement
                else measure(a, b, before, after))
    timesteps = tuple(triplet.truths)
    shift = torch.from_numpy(dominant_translation(a.numpy(), b.numpy()))
    frames = network(a, b, torch.zeros(len(timesteps), dtype=torch.long), torch.tensor(timesteps), shift,
                     pair_flows=measured[:, :4], pair_accelerations=measured[:, 4:])
    return [to_u8(frame.permute(1, 2, 0).numpy() * 255) for frame in frames]


def _squared_errors(frame: np.ndarray, truth: np.ndarray) -> dict[str, tuple[float, int]]:
    """Sum of squared 8-bit errors and pixel count: whole frame, edge band, inside it."""
    error = ((frame.astype(np.float64) - truth) ** 2).mean(axis=2)
    band = np.ones(error.shape, bool)
    band[BAND:-BAND, BAND:-BAND] = False
    return {"all": (error.sum(), error.size), "edge band": (error[band].sum(), int(band.sum())),
            "inside": (error[~band].sum(), int((~band).sum()))}


def _psnr(per_item: list[dict[str, tuple[float, int]]]) -> dict[str, float]:
    """Mean over items of each region's PSNR (as the quality table averages per-frame PSNR)."""
    regions = per_item[0].keys()
    return {region: round(float(np.mean([10 * np.log10(255.0 ** 2 / max(item[region][0] / item[region][1], 1e-10))
                                         for item in per_item])), 2) for region in regions}


def _items(settings: Settings) -> dict[str, list[Triplet]]:
    items: dict[str, list[Triplet]] = {}
    film_clip = next(clip for clip in REAL_CLIPS if clip.filename == BBB_FILENAME)
    film = Path(settings.real_dir) / BBB_FILENAME if settings.real_dir else None
    film = film if film is not None and film.is_file() else fetch_big_buck_bunny()
    items["Big Buck Bunny, held-out fifth (1280x720)"] = real_triplets(film, film_clip, settings.windows)
    if settings.pairs:
        seeds, _ = synthetic_seeds(settings.pairs, *SYNTHETIC_SIZE)
        items[f"synthetic held-out ({SYNTHETIC_SIZE[0]}x{SYNTHETIC_SIZE[1]})"] = [synthetic_triplet(seed, *SYNTHETIC_SIZE) for seed in seeds]
    return items


def run(settings: Settings) -> None:
    limit_threads(settings.threads)
    network = load_interpolator(settings.weights)
    network.eval()
    dis = DisFlowMethod()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for set_name, triplets in _items(settings).items():
        errors: dict[str, list] = {name: [] for name in (BEFORE, PICTURE, RULE, CAMERA, DIS)}
        for triplet in triplets:
            truths = list(triplet.truths.values())
            drawn = {DIS: dis(triplet.frame0, triplet.frame1, tuple(triplet.truths))}
            for name, padded, rule in ((BEFORE, True, "off"), (PICTURE, False, "off"), (RULE, False, "everywhere"),
                                       (CAMERA, False, "camera")):
                network.synthesizer.in_frame_rule = rule
                drawn[name] = _network_frames(network, triplet, padded)
            for name, frames in drawn.items():
                errors[name] += [_squared_errors(frame, truth) for frame, truth in zip(frames, truths)]
        results[set_name] = {name: _psnr(per_item) for name, per_item in errors.items()} | {"items": len(errors[DIS])}
    lines = ["# The picture's edges: DIS on the picture, and the in-frame rule", "",
             "Made by `fpsboost bench edges` (command, commit and machine in results.json). PSNR in dB, the mean over "
             f"in-betweens; the edge band is the pixels within {BAND} px of any edge of the picture.", ""]
    for set_name, by_variant in results.items():
        lines += [f"## {set_name}: {by_variant['items']} in-betweens", "", "| variant | all | edge band | inside |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {name} | {scores['all']:.2f} | {scores['edge band']:.2f} | {scores['inside']:.2f} |"
                  for name, scores in by_variant.items() if name != "items"]
        lines.append("")
    write_report(settings.out_dir, {"settings": asdict(settings), "band": BAND, "psnr": results}, lines)
