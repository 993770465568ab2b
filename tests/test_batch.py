"""``fpsboost batch`` on a real local Ray (2 CPUs): equal to the single job, resumable after a killed
run, a bad file among good ones, several chunks split at cuts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from click.testing import CliRunner

from fpsboost.cli import main
from fpsboost.data.clips import ShotSpec, write_cel_video

from helpers_pipeline import read_video, stream_durations

ray = pytest.importorskip("ray", reason="fpsboost batch needs the batch extra (Ray)")

SHOTS = [ShotSpec(1, 26, 2), ShotSpec(2, 18, 1), ShotSpec(3, 20, 3), ShotSpec(4, 16, 2)]  # three cuts
LOSSLESS = ("--codec", "ffv1")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module's in-process runs (the batch command joins it)."""
    os.environ.setdefault("RAY_worker_niceness", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def run_cli(*args: object):
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def state_folder(out_dir: Path) -> Path:
    (folder,) = [path for path in (out_dir / ".fpsboost-batch").iterdir() if path.is_dir()]
    return folder


def assert_same_video(path: Path, reference: Path) -> None:
    expected, actual = read_video(reference), read_video(path)
    assert actual.times == expected.times
    assert len(actual.pictures) == len(expected.pictures)
    for picture, wanted in zip(actual.pictures, expected.pictures):
        np.testing.assert_array_equal(picture, wanted)
    assert stream_durations(path) == stream_durations(reference)


def test_batch_of_folders_equals_the_single_job_and_splits_at_cuts(local_ray, tmp_path, tiny_weights):
    inputs = tmp_path / "in"
    (inputs / "season1").mkdir(parents=True)
    first = write_cel_video(inputs / "season1" / "ep1.mkv", SHOTS, audio=True)
    second = write_cel_video(inputs / "ep2.mkv", SHOTS[:2], audio=True)
    (inputs / "notes.txt").write_text("not a video: not collected")
    out = tmp_path / "out"
    result = run_cli("batch", inputs, "--out-dir", out, "--workers", "2", "--chunk-frames", "10", "--model", tiny_weights,
                     *LOSSLESS, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["failed"] == 0
    assert {entry["output_path"] for entry in summary["files"]} == {str(out / "ep2.mkv"), str(out / "season1" / "ep1.mkv")}
    manifest = json.loads((out / ".fpsboost-batch" / "manifest.json").read_text())
    chunks = manifest["files"]["season1/ep1.mkv"]["chunks"]
    assert len(chunks) == 4 and all(chunk["state"] == "done" for chunk in chunks)  # one per shot: split at the 3 cuts
    for source, output in ((first, out / "season1" / "ep1.mkv"), (second, out / "ep2.mkv")):
        single = tmp_path / f"single-{source.name}"
        assert run_cli(source, single, "--model", tiny_weights, *LOSSLESS, "-q").exit_code == 0
        assert_same_video(output, single)
    again = run_cli("batch", inputs, "--out-dir", out, "--model", tiny_weights, *LOSSLESS, "--json")
    assert again.exit_code == 0
    assert {entry["state"] for entry in json.loads(again.stdout)["files"]} == {"skipped"}


def test_a_bad_file_fails_alone_and_sets_the_exit_code(local_ray, tmp_path, tiny_weights):
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_cel_video(inputs / "good.mkv", SHOTS[:1], audio=False)
    (inputs / "bad.mkv").write_bytes(b"this is not a video")
    out = tmp_path / "out"
    result = run_cli("batch", inputs, "--out-dir", out, "--model", tiny_weights, *LOSSLESS, "--json")
    assert result.exit_code == 1
    states = {Path(entry["input_path"]).name: entry for entry in json.loads(result.stdout)["files"]}
    assert states["good.mkv"]["state"] == "done" and (out / "good.mkv").is_file()
    assert states["bad.mkv"]["state"] == "failed" and "bad.mkv" in states["bad.mkv"]["error"]
    assert not (out / "bad.mkv").exists()
    assert "Traceback" not in result.stderr


def test_missing_input_is_a_one_line_error(tmp_path):
    result = run_cli("batch", tmp_path / "nothing-here", "--out-dir", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"fpsboost: error: input {tmp_path / 'nothing-here'} does not exist"]


def _settled_count(count: Callable[[], int], quiet_s: float = 3.0, limit_s: float = 30.0) -> int:
    """``count()`` once it has not changed for ``quiet_s``: a Ray worker that was running a chunk when
    the driver was killed may still finish and record it (at most ``limit_s`` is waited)."""
    value, since, deadline = count(), time.monotonic(), time.monotonic() + limit_s
    while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
        time.sleep(0.2)
        now = count()
        if now != value:
            value, since = now, time.monotonic()
    return value


def test_a_killed_run_resumes_with_only_the_missing_chunks(local_ray, tmp_path, tiny_weights):
    source = write_cel_video(tmp_path / "film.mkv", SHOTS * 2, audio=True)  # 7 cuts: 8 chunks
    out = tmp_path / "out"
    command = [sys.executable, "-m", "fpsboost.cli", "batch", str(source), "--out-dir", str(out), "--chunk-frames", "10",
               "--model", str(tiny_weights), *LOSSLESS, "-q"]
    driver = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "RAY_ADDRESS": ""})
    records: list[Path] = []
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and len(records) < 2 and driver.poll() is None:
            time.sleep(0.2)
            records = list((out / ".fpsboost-batch").glob("*/*/chunk-*.json"))
    finally:
        try:
            os.killpg(driver.pid, signal.SIGKILL)  # the driver and every Ray process it started, at once
        except ProcessLookupError:
            pass
        driver.wait()
    assert len(records) >= 2, "the run did not get going"
    assert not (out / "film.mkv").exists()
    made_before = _settled_count(lambda: len(list((out / ".fpsboost-batch").glob("*/*/chunk-*.json"))))
    assert made_before < 8

    result = run_cli("batch", source, "--out-dir", out, "--chunk-frames", "10", "--model", tiny_weights, *LOSSLESS, "--json")
    assert result.exit_code == 0, result.stderr
    (entry,) = json.loads(result.stdout)["files"]
    assert entry["chunks"] == 8 and entry["chunks_run"] == 8 - made_before
    single = tmp_path / "single.mkv"
    assert run_cli(source, single, "--model", tiny_weights, *LOSSLESS, "-q").exit_code == 0
    assert_same_video(out / "film.mkv", single)
