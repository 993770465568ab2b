"""Hold detection through real encoders: how often does a lossy codec break a held drawing?

The sample clip's clean pictures (``tests/data/make_sample.py``: 48 frames at 23.976 fps drawn on
twos, a scene cut at frame 24; 24 drawings, 24 held frames) are scaled (Lanczos) to each size,
encoded by ffmpeg with each encoder and CRF, decoded by the pipeline's reader and analysed with
the default :class:`~fpsboost.cadence.CadenceSettings`, as ``fpsboost --cadence auto`` does. Counted
against the truth: *missed holds* (held frames called drawings: each is a stutter, the motion
stops for one output interval), *false holds* (new drawings called held) and whether the cut is
found. Each file is analysed twice: with the default settings and with the cadence prior off
(``cadence_hold_share=0``, the block rule alone). Needs ffmpeg with libx264 and libx265 on the PATH.

Run:  nice -n 10 .venv/bin/python benchmarks/cadence/codec_holds.py   (about 2 minutes; prints a
markdown table)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from fpsboost.cadence import CadenceAnalyzer, CadenceSettings
from fpsboost.video.reader import VideoReader

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from helpers_cadence import sample_drawing_starts, sample_generator  # noqa: E402

# (label, ffmpeg encoder arguments)
ENCODERS = {
    "x264 8-bit": ["-c:v", "libx264", "-pix_fmt", "yuv420p"],
    "x265 8-bit": ["-c:v", "libx265", "-pix_fmt", "yuv420p", "-x265-params", "log-level=error"],
    "x265 10-bit": ["-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=error"],
}
SIZES = ((320, 180), (640, 360), (1280, 720))
CRFS = (18, 23, 28, 32)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crfs", type=int, nargs="+", default=list(CRFS))
    args = parser.parse_args()
    generator = sample_generator()
    pictures = generator.render_frames()
    rate = f"{generator.RATE.numerator}/{generator.RATE.denominator}"
    drawings = set(sample_drawing_starts(generator))
    held = set(range(generator.FRAMES)) - drawings
    print(f"{len(drawings)} drawings, {len(held)} held frames, cut at frame {generator.CUT_FRAME}\n")
    variants = {"default settings": CadenceSettings(), "cadence prior off": CadenceSettings(cadence_hold_share=0)}
    tables = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as folder:
        for size in SIZES:
            for label, encoder in ENCODERS.items():
                cells: dict[str, list[str]] = {name: [] for name in variants}
                cuts_found: dict[str, int] = {name: 0 for name in variants}
                for crf in args.crfs:
                    path = Path(folder) / f"{size[0]}-{label.replace(' ', '')}-{crf}.mkv"
                    encode(pictures, rate, size, encoder, crf, path)
                    for name, settings in variants.items():
                        keys, cuts = analyse(path, settings)
                        missed = sorted(held & set(keys))
                        false_holds = sorted(drawings - set(keys))
                        cells[name].append(f"{len(missed)} / {len(false_holds)}" + (f" ({', '.join(map(str, missed))})" if missed else ""))
                        cuts_found[name] += generator.CUT_FRAME in cuts
                for name in variants:
                    tables[name].append(f"| {size[0]}x{size[1]} | {label} | " + " | ".join(cells[name])
                                        + f" | {cuts_found[name]} of {len(args.crfs)} |")
                print(f"{size[0]}x{size[1]} {label} done", file=sys.stderr, flush=True)
    for name, rows in tables.items():
        print(f"\n{name}:\n")
        print("| size | encoder | " + " | ".join(f"CRF {crf}: missed / false holds" for crf in args.crfs) + " | cut found |")
        print("|---|---|" + "---|" * len(args.crfs) + "---|")
        print("\n".join(rows))

if __name__ == "__main__":
    main()
