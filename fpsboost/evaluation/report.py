"""How an experiment records a run: which commit, machine and weights it measured, and its files.

Every experiment writes ``results.json`` (every number, with ``commit``, ``machine`` and the command
that made it) and ``RESULTS.md`` (the tables) into its folder under ``benchmarks/``, and prints the
tables. :func:`write_report` is the one writer.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

FFMPEG = "/usr/bin/ffmpeg"


def git_commit() -> str:
    """The measured commit (``+dirty`` when tracked files differ from it), or ``unknown``."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def describe_weights(weights: str | None) -> dict:
    """Path and metadata (version, step, ...) of the weights measured, or the error reading them."""
    from ..errors import ModelError
    from ..models.presets import DEFAULT_INTERPOLATOR_WEIGHTS, read_metadata, weights_dir

    path = Path(weights) if weights else weights_dir() / DEFAULT_INTERPOLATOR_WEIGHTS
    try:
        metadata = read_metadata(path)
    except ModelError as error:
        return {"path": str(path), "error": str(error)}
    return {"path": str(path), **{key: value for key, value in metadata.items() if key != "config"}}


def machine_info(device: str) -> dict:
    """CPU, cores, memory, GPU, library versions and the load average (another job may share the CPU)."""
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "device": device, "load_average_start": load_average(),
    }
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        info["memory_gib"] = round(pages / 1024**3, 1)
    except (ValueError, OSError):
        pass
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    if Path(FFMPEG).exists():
        version = subprocess.run([FFMPEG, "-version"], capture_output=True, text=True).stdout.split("\n")[0]
        info["ffmpeg"] = version
    return info


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (another job may share the CPU), or None."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def command_line() -> str:
    """The command that is running, as typed (``fpsboost bench ...``)."""
    program = Path(sys.argv[0]).name
    return shlex.join([program if program == "fpsboost" else sys.argv[0], *sys.argv[1:]])


def write_report(out_dir: str | Path, results: dict, lines: list[str], device: str = "cpu",
                 json_name: str = "results.json", markdown_name: str | None = "RESULTS.md") -> Path:
    """Write ``results`` (with ``commit``, ``machine`` and ``command`` added where missing) as JSON and
    ``lines`` as Markdown (``markdown_name`` None: none) into ``out_dir``, and print the lines.
    Returns the JSON file's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Experiments that quote their commit in the tables bring it along; it is not asked of git twice.
    results = {"commit": results.get("commit") or git_commit(), "machine": results.get("machine") or machine_info(device),
               "command": results.get("command") or command_line(), **results}
    (out / json_name).write_text(json.dumps(results, indent=1) + "\n")
    if markdown_name is not None:
        (out / markdown_name).write_text("\n".join(lines + [""]))
    print("\n".join(lines))
    return out / json_name
