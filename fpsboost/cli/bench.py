"""``fpsboost bench``: speed, memory and quality beside the anchors (the work is in :mod:`fpsboost.bench`)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ..bench import (RESOLUTIONS, RSS_LONG_MULTIPLE, BenchSettings, extrapolation_results, frame_size, markdown_report,
                     plot_report, print_report, quick_settings, run_bench, speed_targets)
from ..errors import OptionError
from .options import DEVICE_CHOICES


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@click.command("bench")
@click.option("--quick", is_flag=True, help="A seconds-long run on tiny clips (CI).")
@click.option("--quality", is_flag=True, help="Also measure in-between quality against the baselines.")
@click.option("--speed/--no-speed", default=True, show_default=True, help="Measure speed and memory.")
@click.option("--real-dir", type=click.Path(file_okay=False), help="Folder with the real test clips (see fpsboost/evaluate.py).")
@click.option("--model", "weights", type=click.Path(dir_okay=False), help="Weights to measure (default: the shipped model).")
@click.option("--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True)
@click.option("--resolutions", help=f"Comma-separated, from {', '.join(RESOLUTIONS)}.")
@click.option("--backends", help="Comma-separated: torch, onnx.")
@click.option("--batch-sizes", help="Comma-separated pairs per network call, e.g. 1,2,4.")
@click.option("--precisions", help="Comma-separated: fp32, bf16, fp16 (each where the device has it).")
@click.option("--repeats", type=int, help="Timed rounds per network configuration.")
@click.option("--clip-frames", type=int, help="Input frames of each end-to-end clip.")
@click.option("--e2e-repeats", type=int, help="Runs of each end-to-end job.")
@click.option("--rss-frames", type=int, help=f"Frames of the short memory clip (the long one has {RSS_LONG_MULTIPLE}x).")
@click.option("--pairs", "synthetic_pairs", type=int, help="Synthetic pairs in the quality test.")
@click.option("--include-quality", "quality_json", type=click.Path(exists=True, dir_okay=False),
              help="Put a quality report measured separately (python -m fpsboost.evaluate --json) into this report.")
@click.option("--reuse", "reuse_json", type=click.Path(exists=True, dir_okay=False),
              help="Measure nothing: re-render a previous --json report (with --include-quality, add a quality report).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the full results as JSON.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False), help="Write the tables as Markdown.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Write a PNG: throughput vs resolution, quality bars.")
@click.option("--threads", type=int, help="CPU threads for torch, OpenCV and onnxruntime (default: theirs). "
              "On a CPU shared with another busy job, 1 avoids threads waiting on each other.")
@click.option("--note", help="A line about the machine for the Markdown report (e.g. a job sharing the CPU).")
def bench_command(quick: bool, quality: bool, speed: bool, real_dir: str | None, weights: str | None, device: str,
                  resolutions: str | None, backends: str | None, batch_sizes: str | None, precisions: str | None,
                  repeats: int | None, clip_frames: int | None, e2e_repeats: int | None, rss_frames: int | None,
                  quality_json: str | None, reuse_json: str | None,
                  synthetic_pairs: int | None, json_path: str | None, markdown_path: str | None,
                  plot_path: str | None, threads: int | None, note: str | None) -> None:
    """Speed, memory and quality of fpsboost beside RIFE-shaped and ffmpeg minterpolate anchors."""
    if threads is not None and threads < 1:
        raise OptionError("--threads must be at least 1")
    settings = BenchSettings(device=device, weights=weights, speed=speed, quality=quality, real_dir=real_dir, threads=threads)
    if quick:
        settings = quick_settings(settings)
    overrides: dict[str, Any] = {}
    if resolutions:
        overrides["resolutions"] = _split(resolutions)
        for name in overrides["resolutions"]:
            frame_size(name)
    if backends:
        overrides["backends"] = _split(backends)
        unknown = set(overrides["backends"]) - {"torch", "onnx"}
        if unknown:
            raise OptionError(f"unknown backend {sorted(unknown)[0]!r}: use torch or onnx")
    if batch_sizes:
        try:
            overrides["batch_sizes"] = tuple(int(value) for value in _split(batch_sizes))
        except ValueError:
            raise OptionError(f"--batch-sizes wants whole numbers like 1,2,4, got {batch_sizes!r}") from None
        if not overrides["batch_sizes"] or min(overrides["batch_sizes"]) < 1:
            raise OptionError("--batch-sizes must be whole numbers >= 1")
    if precisions:
        overrides["precisions"] = _split(precisions)
        unknown = set(overrides["precisions"]) - {"fp32", "bf16", "fp16"}
        if unknown:
            raise OptionError(f"unknown precision {sorted(unknown)[0]!r}: use fp32, bf16 or fp16")
    for name, value, minimum in (("repeats", repeats, 1), ("clip_frames", clip_frames, 2),
                                 ("e2e_repeats", e2e_repeats, 1), ("rss_frames", rss_frames, 2)):
        if value is not None:
            if value < minimum:
                raise OptionError(f"--{name.replace('_', '-')} must be at least {minimum}")
            overrides[name] = value
    if synthetic_pairs is not None:
        if synthetic_pairs < 1:
            raise OptionError("--pairs must be at least 1")
        overrides["synthetic_pairs"] = synthetic_pairs
    settings = replace(settings, **overrides)
    if not settings.speed and not settings.quality:
        raise OptionError("nothing to measure: --no-speed needs --quality")
    if quality_json and settings.quality:
        raise OptionError("give either --quality (measure now) or --include-quality (measured before), not both")
    if plot_path:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise OptionError("--plot needs matplotlib: pip install 'fpsboost[plot]' (or pip install matplotlib)") from None
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    if reuse_json:
        report = json.loads(Path(reuse_json).read_text())
        if "machine" not in report or "commit" not in report:
            raise OptionError(f"{reuse_json} is not a report from fpsboost bench --json")
        if "network" in report:
            report["targets"] = speed_targets(report)
    else:
        report = run_bench(settings, progress=lambda message: console.print(f"[dim]bench: {message}[/]"))
        report["command"] = " ".join(["fpsboost", *sys.argv[1:]])
    if note:
        report["machine_note"] = note
    if quality_json:
        quality = json.loads(Path(quality_json).read_text())
        if "rows" not in quality or "targets" not in quality:
            raise OptionError(f"{quality_json} is not a quality report from python -m fpsboost.evaluate --json")
        report["quality"] = quality
        report["quality_source"] = quality_json
        report["extrapolation"] = extrapolation_results()
    print_report(report)
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=1, default=str) + "\n")
    if markdown_path:
        Path(markdown_path).write_text(markdown_report(report))
    if plot_path:
        plot_report(report, plot_path)
