"""``fpsboost batch INPUT... --out-dir DIR``: many videos in chunks, in parallel on Ray (the ``batch`` extra)."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn

from .display import one_line, stderr_console
from .upscale import job_choices, job_options

EXIT_SOME_FAILED = 1  # the batch ran, but at least one file failed (each is reported)


@click.command("batch")
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True)
@click.option("--out-dir", required=True, metavar="DIR", help="Outputs go here, at each input's relative path (folders are searched recursively).")
@click.option("--address", metavar="HOST:PORT", help="Join this Ray cluster ('auto': the one this machine belongs to). Default: RAY_ADDRESS, else a local Ray.")
@click.option("--workers", type=int, metavar="N", help="Chunks running at once (default: one per 2 CPU cores, or per --gpus-per-worker GPUs).")
@click.option("--gpus-per-worker", type=float, default=0.0, show_default=True, metavar="G", help="GPUs each worker holds (0: run on CPUs).")
@click.option("--chunk-frames", type=int, metavar="N", help="Source frames per chunk, at least; chunks end at scene cuts (default 1440).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary of every file on stdout at the end.")
@job_options
def batch_command(inputs: tuple[str, ...], out_dir: str, address: str | None, workers: int | None, gpus_per_worker: float,
                  chunk_frames: int | None, as_json: bool, quiet: bool, **values: Any) -> None:
    """Upscale every video of INPUT... (files or folders) into --out-dir, resumably: run the same
    command again after a crash and only the missing chunks are made."""
    from ..batch import BatchRunner, BatchSettings, JobOptions
    from ..chunking import DEFAULT_CHUNK_FRAMES
    from ..pipeline import UpscaleSettings

    choices = job_choices(**values)
    options = JobOptions(UpscaleSettings(factor=choices.factor, fps=choices.fps, tail=choices.tail),
                         choices.model, choices.encode, choices.cadence)
    settings = BatchSettings(out_dir, address, workers, gpus_per_worker, chunk_frames or DEFAULT_CHUNK_FRAMES)
    console = stderr_console()
    bar = RichProgress(TextColumn("[bold]fpsboost batch"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("frames  {task.fields[chunks]} chunks  {task.fields[fps]:6.1f} fps out  ETA"),
                       TimeRemainingColumn(), console=console, transient=True, disable=quiet or not console.is_terminal)

    def show_progress(progress: Any) -> None:
        bar.update(task, completed=progress.frames_done, total=progress.frames_total or None, fps=progress.output_fps,
                   chunks=f"{progress.chunks_done}/{progress.chunks_total}")

    def show_file(result: Any) -> None:
        if result.state == "failed":
            console.print(f"fpsboost: failed: {result.input_path}: {one_line(result.error)}", markup=False, style="red")
        elif not quiet:
            made = f"{result.chunks_run} of {result.chunks} chunks made now" if result.state == "done" else "finished before"
            console.print(f"{result.state}: {result.input_path} -> {result.output_path} ({result.frames_out} frames, {made})", markup=False)

    def warn(message: str) -> None:
        console.print(f"fpsboost: warning: {one_line(message)}", markup=False, style="yellow")

    with bar:
        task = bar.add_task("batch", total=None, fps=0.0, chunks="0/0")
        runner = BatchRunner(list(inputs), options, settings, show_progress, show_file, warn)
        results = runner.run()
    failed = [result for result in results if result.state == "failed"]
    if as_json:
        click.echo(json.dumps({"files": [vars(result) for result in results], "failed": len(failed)}, indent=1))
    if not quiet:
        console.print(f"batch: {len(results) - len(failed)} of {len(results)} files done" + (f", {len(failed)} failed" if failed else ""))
    if failed:
        raise SystemExit(EXIT_SOME_FAILED)
