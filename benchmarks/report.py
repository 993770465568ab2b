"""How the benchmark scripts record a run: ``results.json`` (every number) and ``RESULTS.md`` (the
tables), side by side in one folder; the Markdown is printed too. Scripts run from the repository
root put it on ``sys.path`` and import this as ``benchmarks.report``."""

from __future__ import annotations

import json
from pathlib import Path


def write_report(out_dir: str | Path, results: dict, lines: list[str]) -> None:
    """Write ``results`` as ``results.json`` and ``lines`` as ``RESULTS.md`` into ``out_dir``, and print the lines."""
    out = Path(out_dir)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "RESULTS.md").write_text("\n".join(lines + [""]))
    print("\n".join(lines))
