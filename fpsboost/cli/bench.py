"""``fpsboost bench [EXPERIMENT]``: speed and memory beside the anchors, the quality table, and every
recorded experiment (the work is in :mod:`fpsboost.evaluation`)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ..errors import OptionError
from ..evaluation.experiments import EXPERIMENTS, Experiment, find_experiment, load_experiment
from ..evaluation.speed import (RESOLUTIONS, RSS_LONG_MULTIPLE, BenchSettings, extrapolation_results, frame_size, limit_threads,
                                markdown_report, plot_report, print_report, quick_settings, run_bench, speed_targets)
from .options import DEVICE_CHOICES, settings_options


QUALITY_COMMAND = "quality"


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


class ExperimentGroup(click.Group):
    """``fpsboost bench`` alone measures speed; ``fpsboost bench NAME`` runs a named experiment.

    Experiment commands are built from their ``Settings`` when asked for, so the help lists them
    from :data:`~fpsboost.evaluation.experiments.EXPERIMENTS` without importing any.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [QUALITY_COMMAND, *(experiment.name for experiment in EXPERIMENTS)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == QUALITY_COMMAND:
            return quality_command
        try:
            return experiment_command(find_experiment(name))
        except OptionError:
            return None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(QUALITY_COMMAND, "The quality table: the network against DIS, minterpolate, blend and duplicate.")]
        rows += [(experiment.name, f"{experiment.summary} [{experiment.results}]") for experiment in EXPERIMENTS]
        with formatter.section("Experiments (fpsboost bench NAME --help)"):
            formatter.write_dl(rows)


def experiment_command(experiment: Experiment) -> click.Command:
    """A click command whose options are the fields of the experiment's ``Settings``."""
    module = load_experiment(experiment)

    def run(**values: Any) -> None:
        module.run(module.Settings(**values))

    command = settings_options(module.Settings)(run)
    return click.command(experiment.name, help=module.__doc__, short_help=experiment.summary)(command)


@click.group("bench", cls=ExperimentGroup, invoke_without_command=True)
@click.option("--quick", is_flag=True, help="A seconds-long run on tiny clips (CI).")
@click.option("--quality", is_flag=True, help="Also measure in-between quality against the baselines.")
@click.option("--speed/--no-speed", default=True, show_default=True, help="Measure speed and memory.")
@click.option("--real-dir", type=click.Path(file_okay=False), help="Folder with the real test clips (see fpsboost/evaluation/test_sets.py).")
@click.option("--model", "weights", type=click.Path(dir_okay=False), help="Weights to measure (default: the shipped model).")
@click.option("--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True)
@click.option("--resolutions", help=f"Comma-separated, from {', '.join(RESOLUTIONS)}.")
@click.option("--backends", help="Comma-separated: torch, onnx.")
@click.option("--batch-sizes", help="Comma-separated pairs per network call, e.g. 1,2,4.")
@click.option("--precisions", help="Comma-separated: fp32, mixed, bf16, fp16 (each where the device has it).")
@click.option("--repeats", type=int, help="Timed rounds per network configuration.")
@click.option("--clip-frames", type=int, help="Input frames of each end-to-end clip.")
@click.option("--e2e-repeats", type=int, help="Runs of each end-to-end job.")
@click.option("--rss-frames", type=int, help=f"Frames of the short memory clip (the long one has {RSS_LONG_MULTIPLE}x).")
@click.option("--pairs", "synthetic_pairs", type=int, help="Synthetic pairs in the quality test.")
@click.option("--include-quality", "quality_json", type=click.Path(exists=True, dir_okay=False),
              help="Put a quality report measured separately (fpsboost bench quality --json) into this report.")
@click.option("--reuse", "reuse_json", type=click.Path(exists=True, dir_okay=False),
              help="Measure nothing: re-render a previous --json report (with --include-quality, add a quality report).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the full results as JSON.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False), help="Write the tables as Markdown.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Write a PNG: throughput vs resolution, quality bars.")
@click.option("--threads", type=int, help="CPU threads for torch, OpenCV and onnxruntime (default: theirs). "
              "On a CPU shared with another busy job, 1 avoids threads waiting on each other.")
@click.option("--note", help="A line about the machine for the Markdown report (e.g. a job sharing the CPU).")
@click.pass_context
def bench_command(ctx: click.Context, quick: bool, quality: bool, speed: bool, real_dir: str | None, weights: str | None, device: str,
                  resolutions: str | None, backends: str | None, batch_sizes: str | None, precisions: str | None,
                  repeats: int | None, clip_frames: int | None, e2e_repeats: int | None, rss_frames: int | None,
                  quality_json: str | None, reuse_json: str | None,
                  synthetic_pairs: int | None, json_path: str | None, markdown_path: str | None,
                  plot_path: str | None, threads: int | None, note: str | None) -> None:
    """Speed, memory and quality of fpsboost beside RIFE-shaped and ffmpeg minterpolate anchors;
    with an experiment's name, that experiment (recorded under benchmarks/)."""
    if ctx.invoked_subcommand is not None:
        return
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
        unknown = set(overrides["precisions"]) - {"fp32", "mixed", "bf16", "fp16"}
        if unknown:
            raise OptionError(f"unknown precision {sorted(unknown)[0]!r}: use fp32, mixed, bf16 or fp16")
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
            raise OptionError(f"{quality_json} is not a quality report from fpsboost bench quality --json")
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


@click.command(QUALITY_COMMAND)
@click.option("--real-dir", type=click.Path(file_okay=False),
              help="Folder with bikes.mp4, carphone_pristine.mp4, bigbuckbunny.mp4 (see fpsboost/evaluation/test_sets.py).")
@click.option("--weights", type=click.Path(dir_okay=False), help="Weights to measure (default: the shipped model).")
@click.option("--pairs", type=int, help="Synthetic pairs (default 45, equal thirds per motion split).")
@click.option("--size", help="Synthetic WxH (default 480x270).")
@click.option("--real-triplets", type=int, help="At most this many triplets per real clip (default 20).")
@click.option("--threads", type=int, help="CPU threads for torch and OpenCV (default: theirs).")
@click.option("--compare", multiple=True, metavar="NAME=WEIGHTS",
              help="Another network measured side by side in the same run (repeatable).")
@click.option("--compare-precision", multiple=True, type=click.Choice(["mixed", "bf16"]),
              help="The measured network also at this CPU precision, side by side (it runs fp32 itself; repeatable).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the report as JSON.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False), help="Write the tables as Markdown.")
def quality_command(real_dir: str | None, weights: str | None, pairs: int | None, size: str | None, real_triplets: int | None,
                    threads: int | None, compare: tuple[str, ...], compare_precision: tuple[str, ...],
                    json_path: str | None, markdown_path: str | None) -> None:
    """In-between quality against ground truth: the network and the baselines on the held-out test sets
    (recorded in benchmarks/quality.md)."""
    from ..evaluation.quality import QualitySettings, record_quality

    pairs_compared = tuple(tuple(item.split("=", 1)) for item in compare)
    if any(len(item) != 2 or not all(item) for item in pairs_compared):
        raise OptionError("--compare wants NAME=WEIGHTS")
    pairs_compared += tuple((precision, None, precision) for precision in compare_precision)
    chosen: dict[str, Any] = {"real_dir": real_dir, "weights": weights, "compare": pairs_compared}
    if size is not None:
        try:
            chosen["width"], chosen["height"] = (int(value) for value in size.lower().split("x"))
        except ValueError:
            raise OptionError(f"--size wants WIDTHxHEIGHT, got {size!r}") from None
    for name, value in (("synthetic_pairs", pairs), ("real_triplets", real_triplets)):
        if value is not None:
            if value < 1:
                raise OptionError("--pairs and --real-triplets must be at least 1")
            chosen[name] = value
    limit_threads(threads)
    settings = QualitySettings(**chosen)
    record_quality(settings, json_path, markdown_path, progress=lambda message: click.echo(message, err=True))
