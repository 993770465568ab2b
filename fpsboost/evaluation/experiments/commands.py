"""What the end-to-end experiments (``e2e``, ``batch``) share: they time whole ``fpsboost`` commands,
each in its own process, on clips made once in a scratch folder (``--work``). Not an experiment."""

from __future__ import annotations

import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

RATE = Fraction(24000, 1001)  # the clips' frame rate (23.976 fps)


def fpsboost_command() -> list[str]:
    """``fpsboost`` as a command line of this Python (the checkout's package, whatever is on PATH)."""
    return [sys.executable, "-m", "fpsboost.cli"]


def work_folder(work: str) -> Path:
    """The scratch folder ``--work``, created if missing (clips made there are kept for later runs)."""
    folder = Path(work)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def timed(command: list[str], stderr: int | None = None) -> float:
    """Wall seconds of ``command`` run to completion (its stdout discarded; ``stderr``: where its
    stderr goes, e.g. ``subprocess.DEVNULL``; None: this process's). A failure raises."""
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=stderr)
    return time.perf_counter() - started
