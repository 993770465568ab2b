"""Hold detection through real encoders: how often does a lossy codec break a held drawing?

    nice -n 10 fpsboost bench cadence-codec-holds [--crfs 18 --crfs 23 ...]   (about 2 minutes)

The sample clip's clean pictures (:mod:`fpsboost.data.sample_clip`, as ``tests/data/sample.mp4``
shows them: 48 frames at 23.976 fps drawn on twos, a scene cut at frame 24; 24 drawings, 24 held
frames) are scaled (Lanczos) to each size, encoded by ffmpeg with each encoder and CRF, decoded by
the pipeline's reader and analysed with the default :class:`~fpsboost.cadence.CadenceSettings`, as
``fpsboost --cadence auto`` does. Counted against the truth: *missed holds* (held frames called
drawings: each is a stutter, the motion stops for one output interval), *false holds* (new
drawings called held) and whether the cut is found. Each file is analysed twice: with the default
settings and with the cadence prior off (``cadence_hold_share=0``, the block rule alone). Needs
ffmpeg with libx264 and libx265 on the PATH. Prints a markdown table per variant; records the
counts in ``codec_holds.json`` in ``--out-dir``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ...cadence import CadenceAnalyzer, CadenceSettings
from ...data import sample_clip
from ...video.reader import VideoReader
from ..report import write_report

# (label, ffmpeg encoder arguments)
ENCODERS = {
    "x264 8-bit": ["-c:v", "libx264", "-pix_fmt", "yuv420p"],
    "x265 8-bit": ["-c:v", "libx265", "-pix_fmt", "yuv420p", "-x265-params", "log-level=error"],
    "x265 10-bit": ["-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=error"],
}
SIZES = ((320, 180), (640, 360), (1280, 720))
CRFS = (18, 23, 28, 32)
JSON_NAME = "codec_holds.json"


def encode(pictures: list, rate: str, size: tuple[int, int], encoder: list[str], crf: int, path: Path) -> None:
    """Pipe ``[H, W, 3]`` uint8 pictures through ffmpeg into ``path``."""
    height, width = pictures[0].shape[:2]
    command = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-r", rate, "-i", "-", "-vf", f"scale={size[0]}:{size[1]}:flags=lanczos", *encoder,
               "-crf", str(crf), str(path)]
    subprocess.run(command, input=b"".join(picture.tobytes() for picture in pictures), check=True)


def analyse(path: Path, settings: CadenceSettings) -> tuple[list[int], list[int]]:
    """Key indices and the indices of keys that start a new shot."""
    analyzer = CadenceAnalyzer(settings)
    keys = []
    with VideoReader(path) as reader:
        for frame in reader:
            keys.extend(analyzer.push(frame.index, frame.time, frame.rgb))
    keys.extend(analyzer.finish())
    return [key.index for key in keys], [key.index for key in keys if key.cut_before]


@dataclass(frozen=True)
class Settings:
    crfs: tuple[int, ...] = field(default=CRFS, metadata={"help": "CRFs to encode at (repeatable)"})
    out_dir: str = "benchmarks/cadence"


def run(settings: Settings) -> None:
    generator = sample_clip
    pictures = generator.render_frames()
    rate = f"{generator.RATE.numerator}/{generator.RATE.denominator}"
    drawings = set(generator.drawing_starts())
    held = set(range(generator.FRAMES)) - drawings
    print(f"{len(drawings)} drawings, {len(held)} held frames, cut at frame {generator.CUT_FRAME}\n")
    variants = {"default settings": CadenceSettings(), "cadence prior off": CadenceSettings(cadence_hold_share=0)}
    tables = {name: [] for name in variants}
    records: dict[str, list[dict]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as folder:
        for size in SIZES:
            for label, encoder in ENCODERS.items():
                cells: dict[str, list[str]] = {name: [] for name in variants}
                cuts_found: dict[str, int] = {name: 0 for name in variants}
                for crf in settings.crfs:
                    path = Path(folder) / f"{size[0]}-{label.replace(' ', '')}-{crf}.mkv"
                    encode(pictures, rate, size, encoder, crf, path)
                    for name, cadence in variants.items():
                        keys, cuts = analyse(path, cadence)
                        missed = sorted(held & set(keys))
                        false_holds = sorted(drawings - set(keys))
                        cells[name].append(f"{len(missed)} / {len(false_holds)}" + (f" ({', '.join(map(str, missed))})" if missed else ""))
                        cuts_found[name] += generator.CUT_FRAME in cuts
                        records[name].append({"size": list(size), "encoder": label, "crf": crf, "missed_holds": missed,
                                              "false_holds": false_holds, "cut_found": generator.CUT_FRAME in cuts})
                for name in variants:
                    tables[name].append(f"| {size[0]}x{size[1]} | {label} | " + " | ".join(cells[name])
                                        + f" | {cuts_found[name]} of {len(settings.crfs)} |")
                print(f"{size[0]}x{size[1]} {label} done", file=sys.stderr, flush=True)
    for name, rows in tables.items():
        print(f"\n{name}:\n")
        print("| size | encoder | " + " | ".join(f"CRF {crf}: missed / false holds" for crf in settings.crfs) + " | cut found |")
        print("|---|---|" + "---|" * len(settings.crfs) + "---|")
        print("\n".join(rows))
    results = {"drawings": len(drawings), "held_frames": len(held), "cut_frame": generator.CUT_FRAME, "crfs": list(settings.crfs),
               "encodes": records}
    write_report(settings.out_dir, results, [f"wrote {Path(settings.out_dir) / JSON_NAME}"], json_name=JSON_NAME, markdown_name=None)
