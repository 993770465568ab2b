"""The package as a user installs it: a wheel built from this repository, installed into a fresh
virtual environment in a folder outside the checkout, runs the main job, ``extrapolate`` and
``bench --quick`` with the network it carries."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import av
import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
SAMPLE = REPOSITORY / "tests" / "data" / "sample.mp4"


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``bin/`` of a new virtual environment holding only the wheel; its dependencies (torch, av, ...)
    come from the test environment through a .pth file, so nothing is downloaded or rebuilt."""
    root = tmp_path_factory.mktemp("installed")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(REPOSITORY), "-w", str(root / "dist")], root)
    wheel = next((root / "dist").glob("fpsboost-*.whl"))
    _run([sys.executable, "-m", "venv", str(root / "venv")], root)
    python = root / "venv" / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], root).stdout.strip()
    Path(purelib, "fpsboost-test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], root)
    return root / "venv" / "bin"


def test_the_wheel_carries_the_network_and_imports_from_the_environment(installed: Path, tmp_path: Path) -> None:
    probe = "import fpsboost, json; from fpsboost.models.presets import weights_dir; print(json.dumps([fpsboost.__file__, str(weights_dir())]))"
    package, weights = json.loads(_run([str(installed / "python"), "-c", probe], tmp_path).stdout)
    venv = installed.parent
    assert Path(package).is_relative_to(venv) and Path(weights).is_relative_to(venv)
    assert not Path(package).is_relative_to(REPOSITORY)
    assert (Path(weights) / "celflow-v2.safetensors").is_file()


def test_the_installed_command_runs_the_main_job_and_extrapolate(installed: Path, tmp_path: Path) -> None:
    _run([str(installed / "fpsboost"), str(SAMPLE), "out.mp4", "--factor", "2", "-q"], tmp_path)
    _run([str(installed / "fpsboost"), "extrapolate", str(SAMPLE), "more.mp4", "--steps", "2", "-q"], tmp_path)
    with av.open(str(SAMPLE)) as source:
        frames_in = sum(1 for _ in source.decode(video=0))
    with av.open(str(tmp_path / "out.mp4")) as output:
        assert sum(1 for _ in output.decode(video=0)) == 2 * frames_in
    with av.open(str(tmp_path / "more.mp4")) as output:
        assert sum(1 for _ in output.decode(video=0)) == frames_in + 2


def test_the_installed_bench_runs_quick(installed: Path, tmp_path: Path) -> None:
    _run([str(installed / "fpsboost"), "bench", "--quick", "--no-speed", "--quality", "--json", "report.json"], tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["quality"]["rows"]
