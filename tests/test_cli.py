"""The command line: default command routing, options, one-line errors, cleanup on signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from fpsboost.cadence import Shot
from fpsboost.cli import main
from fpsboost.cli.display import describe_shots

from helpers_pipeline import file_digest, read_video, stream_durations

SIGNAL_TEST_FRAMES = 240


def _default_signal_handling() -> None:
    """In the job's process: SIGINT as a terminal delivers it. A suite started in the background by a
    shell without job control (``cmd &`` in a script) inherits SIGINT ignored, and so would the job,
    which then rightly runs to the end."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_cli(*args: object):
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def assert_one_line_error(result, *, fragment: str) -> None:
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fpsboost: error: ")
    assert fragment.lower() in lines[0].lower()
    assert "Traceback" not in result.output


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_help_lists_the_default_command_and_every_subcommand():
    result = run_cli("--help")
    assert result.exit_code == 0
    assert "IN OUT" in result.stdout
    for name in main.commands:
        assert name in result.stdout
    assert "(default)" in result.stdout


def test_default_command_runs_the_job_and_prints_a_summary(clip, tiny_weights, tmp_path):
    source = clip("in.mp4", frames=6, audio=True)
    digest = file_digest(source)
    result = run_cli(source, tmp_path / "out.mp4", "--factor", "3", "--backend", "torch", "--model", tiny_weights)
    assert result.exit_code == 0, result.stderr
    assert "6 in -> 18 out" in result.stderr
    assert f"torch on {'cuda' if torch.cuda.is_available() else 'cpu'}" in result.stderr
    assert len(read_video(tmp_path / "out.mp4").times) == 18
    assert file_digest(source) == digest
    assert files_in(tmp_path) == ["in.mp4", "out.mp4"]


def test_the_fast_network_is_chosen_by_name(clip, tmp_path):
    """``--model celflow-v2-fast``: the shipped faster network, named in the summary, same timing."""
    source = clip("in.mp4", frames=5)
    result = run_cli(source, tmp_path / "out.mp4", "--factor", "2", "--model", "celflow-v2-fast", "--tail", "hold")
    assert result.exit_code == 0, result.stderr
    assert "5 in -> 10 out" in result.stderr and "celflow-v2-fast" in result.stderr
    assert len(read_video(tmp_path / "out.mp4").times) == 10


def test_summary_gives_each_shots_cadence(tiny_weights, tmp_path):
    """The shipped sample: two shots drawn on twos, cut at frame 24."""
    sample = Path(__file__).resolve().parent / "data" / "sample.mp4"
    result = run_cli(sample, tmp_path / "out.mp4", "--factor", "2", "--model", tiny_weights, "--tail", "hold")
    assert result.exit_code == 0, result.stderr
    assert "shots    2: twos (frames 0-23), twos (frames 24-47)" in result.stderr
    assert "24 drawings, 24 held frames, 1 scene cut" in result.stderr


def test_many_shots_are_summed_up_by_cadence():
    shots = [Shot(10 * i, 10 * i + 9, cadence) for i, cadence in enumerate(["twos", "ones", "twos", "threes", "twos", "still"])]
    assert describe_shots(shots) == "6: 3 twos, 1 ones, 1 threes, 1 still"
    assert describe_shots(shots[:2]) == "2: twos (frames 0-9), ones (frames 10-19)"


def test_explicit_upscale_command_with_fps_and_encoder_options(clip, tiny_weights, tmp_path):
    source = clip("in.mp4", frames=6, rate=Fraction(24000, 1001))
    output = tmp_path / "out.mkv"
    result = run_cli("upscale", source, output, "--fps", "59.94", "--backend", "torch", "--model", tiny_weights, "--codec", "libx264",
                     "--crf", "30", "--preset", "ultrafast", "--encoder-option", "tune=animation", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # --quiet: no progress, no summary
    result_video = read_video(output)
    assert len(result_video.times) == 15  # 6 frames of 1001/24000 s at 60000/1001 fps


def test_report_lists_every_source_frame(clip, tiny_weights, tmp_path):
    source = clip("in.mp4", frames=6)
    report = tmp_path / "report.json"
    result = run_cli(source, tmp_path / "out.mp4", "--backend", "torch", "--model", tiny_weights, "--report", report, "-q")
    assert result.exit_code == 0, result.stderr
    content = json.loads(report.read_text())
    assert [frame["index"] for frame in content["frames"]] == list(range(6))
    assert content["frames"][0]["is_key"] is True
    assert content["output_rate"] == "48"



def test_odd_frame_size_keeps_its_size_with_full_chroma(clip, tiny_weights, tmp_path):
    """x264 refuses 4:2:0 at odd sizes; an odd-sized 4:2:0 source is written 4:4:4 at its own size by it."""
    source = clip("odd.mkv", frames=4, width=63, height=47, codec="ffv1")
    output = tmp_path / "out.mp4"
    result = run_cli(source, output, "--factor", "2", "--model", tiny_weights, "-q")
    assert result.exit_code == 0, result.stderr
    written = read_video(output)
    assert len(written.times) == 8
    assert written.pictures[0].shape == (47, 63, 3)
    with av.open(str(output)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.format.name) == ("h264", "yuv444p")
    lossless = tmp_path / "lossless.mkv"  # FFV1 writes odd-sized 4:2:0 as it is
    assert run_cli(source, lossless, "--codec", "ffv1", "--model", tiny_weights, "-q").exit_code == 0
    with av.open(str(lossless)) as container:
        assert container.streams.video[0].codec_context.format.name == "yuv420p"
    refused = run_cli(source, tmp_path / "refused.mp4", "--pix-fmt", "yuv420p", "--model", tiny_weights)
    assert_one_line_error(refused, fragment="at an odd frame size")
    assert not (tmp_path / "refused.mp4").exists()

def test_summary_names_the_flow_scale_of_pairs_across_holds(frames_clip, tiny_weights, tmp_path):
    from helpers_video import pattern_rgb24

    drawings = [pattern_rgb24(index * 2, 1280, 16) for index in range(3)]  # pairs across a hold move as at 2560 px
    source = frames_clip("twos.mkv", [drawings[i // 2] for i in range(6)], [Fraction(i, 24) for i in range(6)], Fraction(24),
                         pix_fmt="yuv444p")
    result = run_cli(source, tmp_path / "out.mkv", "--model", tiny_weights, "--tail", "hold")
    assert result.exit_code == 0, result.stderr
    assert "flow at 1x" in result.stderr and "2 pairs at 0.5x" in result.stderr


def test_overwrite_replaces_an_existing_output(clip, tiny_weights, tmp_path):
    source = clip("in.mp4", frames=4)
    output = tmp_path / "out.mp4"
    output.write_bytes(b"old")
    result = run_cli(source, output, "--backend", "torch", "--model", tiny_weights, "--overwrite", "-q")
    assert result.exit_code == 0, result.stderr
    assert len(read_video(output).times) == 8


def test_truncated_input_is_processed_as_far_as_it_decodes_with_a_warning(clip, tiny_weights, tmp_path):
    full = clip("full.mkv", frames=24, codec="ffv1")
    data = full.read_bytes()
    damaged = tmp_path / "damaged.mkv"
    damaged.write_bytes(data[: len(data) * 6 // 10])
    output = tmp_path / "out.mkv"
    result = run_cli(damaged, output, "--backend", "torch", "--model", tiny_weights, "-q")
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("fpsboost: warning:")]
    assert len(warnings) == 1 and "damaged" in warnings[0]
    frames_out = len(read_video(output).times)
    assert 2 * 2 <= frames_out < 2 * 24
    assert frames_out % 2 == 0


def _write_audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48_000)
        stream.codec_context.layout = "stereo"
        for start in range(0, 48_000, 1024):
            samples = np.zeros((2, 1024), np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = 48_000, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _write_empty_video(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    return path


BAD_INPUTS = {
    "missing input": (lambda tmp, clip: tmp / "missing.mp4", (), "not found"),
    "not a video": (lambda tmp, clip: (tmp / "notes.mp4").write_text("hello") and tmp / "notes.mp4", (), "not a video"),
    "audio only": (lambda tmp, clip: _write_audio_only(tmp / "song.m4a"), (), "audio only"),
    "no frames": (lambda tmp, clip: _write_empty_video(tmp / "empty.mp4"), (), "video"),
    "one frame": (lambda tmp, clip: clip("one.mp4", frames=1), (), "needs at least 2 frames"),
    "factor 1": (lambda tmp, clip: clip("in.mp4", frames=3), ("--factor", "1"), "--factor"),
    "factor 2.5": (lambda tmp, clip: clip("in.mp4", frames=3), ("--factor", "2.5"), "--factor"),
    "factor text": (lambda tmp, clip: clip("in.mp4", frames=3), ("--factor", "abc"), "--factor"),
    "fps 0": (lambda tmp, clip: clip("in.mp4", frames=3), ("--fps", "0"), "positive"),
    "fps negative": (lambda tmp, clip: clip("in.mp4", frames=3), ("--fps", "-5"), "frame rate"),
    "fps 1/0": (lambda tmp, clip: clip("in.mp4", frames=3), ("--fps", "1/0"), "frame rate"),
    "factor and fps": (lambda tmp, clip: clip("in.mp4", frames=3), ("--factor", "2", "--fps", "60"), "not both"),
    "unknown codec": (lambda tmp, clip: clip("in.mp4", frames=3), ("--codec", "nosuchcodec"), "nosuchcodec"),
    "unknown pix_fmt": (lambda tmp, clip: clip("in.mp4", frames=3), ("--pix-fmt", "nosuchfmt"), "nosuchfmt"),
    "pix_fmt the codec cannot write": (lambda tmp, clip: clip("in.mp4", frames=3), ("--pix-fmt", "rgb48le"), "rgb48le"),
    "bad encoder option": (lambda tmp, clip: clip("in.mp4", frames=3), ("--encoder-option", "novalue"), "KEY=VALUE"),
    "bad batch size": (lambda tmp, clip: clip("in.mp4", frames=3), ("--batch-size", "0"), "--batch-size"),
    "bad scene threshold": (lambda tmp, clip: clip("in.mp4", frames=3), ("--scene-threshold", "2"), "scene threshold"),
    "unknown device": (lambda tmp, clip: clip("in.mp4", frames=3), ("--device", "tpu"), "--device"),
    "missing weights": (lambda tmp, clip: clip("in.mp4", frames=3), ("--model", "nowhere.safetensors"), "weights"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_one_line_and_leaves_nothing(case, clip, tiny_weights, tmp_path):
    make_input, options, fragment = BAD_INPUTS[case]
    source = make_input(tmp_path, clip)
    before = {name: file_digest(tmp_path / name) for name in files_in(tmp_path)}
    model = ("--backend", "torch") if "--model" in options else ("--backend", "torch", "--model", tiny_weights)
    result = run_cli(source, tmp_path / "out.mp4", *model, *options)
    assert_one_line_error(result, fragment=fragment)
    assert {name: file_digest(tmp_path / name) for name in files_in(tmp_path)} == before  # nothing added or changed


def test_truncated_mp4_without_index_is_one_line(clip, tiny_weights, tmp_path):
    full = clip("full.mp4", frames=24)
    data = full.read_bytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(data[: len(data) // 2])  # the moov index sits at the end: nothing can be decoded
    full.unlink()
    result = run_cli(damaged, tmp_path / "out.mp4", "--backend", "torch", "--model", tiny_weights)
    assert_one_line_error(result, fragment="damaged")
    assert files_in(tmp_path) == ["damaged.mp4"]


def test_output_equal_to_input_is_refused(clip, tiny_weights, tmp_path):
    source = clip("in.mp4", frames=3)
    digest = file_digest(source)
    for output in (source, tmp_path / "." / "in.mp4"):
        result = run_cli(source, output, "--backend", "torch", "--model", tiny_weights, "--overwrite")
        assert_one_line_error(result, fragment="is the input")
    assert file_digest(source) == digest and files_in(tmp_path) == ["in.mp4"]


def test_existing_output_is_refused_without_overwrite(clip, tiny_weights, tmp_path):
    source = clip("in.mp4", frames=3)
    output = tmp_path / "out.mp4"
    output.write_bytes(b"keep me")
    result = run_cli(source, output, "--backend", "torch", "--model", tiny_weights)
    assert_one_line_error(result, fragment="already exists")
    assert output.read_bytes() == b"keep me"


def test_missing_output_directory_is_refused(clip, tiny_weights, tmp_path):
    result = run_cli(clip("in.mp4", frames=3), tmp_path / "nowhere" / "out.mp4", "--backend", "torch", "--model", tiny_weights)
    assert_one_line_error(result, fragment="does not exist")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_output_directory_is_refused(clip, tiny_weights, tmp_path):
    source = clip("in.mp4", frames=3)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run_cli(source, locked / "out.mp4", "--backend", "torch", "--model", tiny_weights)
        assert_one_line_error(result, fragment="not writable")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_default_model_missing_is_one_line_about_weights(clip, tmp_path, monkeypatch):
    monkeypatch.setenv("FPSBOOST_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    result = run_cli(clip("in.mp4", frames=3), tmp_path / "out.mp4")
    assert_one_line_error(result, fragment="weights")


@pytest.mark.parametrize(("signal_number", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_the_job_and_removes_unfinished_output(clip, tiny_weights, tmp_path, signal_number, exit_code):
    source = clip("in.mp4", frames=SIGNAL_TEST_FRAMES, width=160, height=96, audio=True)
    digest = file_digest(source)
    output = tmp_path / "out.mp4"
    process = subprocess.Popen(
        [sys.executable, "-m", "fpsboost.cli", str(source), str(output), "--backend", "torch", "--model", str(tiny_weights)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_signal_handling,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(".fpsboost-tmp-" in name for name in files_in(tmp_path)):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the job never started writing"
            time.sleep(0.02)
        process.send_signal(signal_number)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("fpsboost: ")
    assert files_in(tmp_path) == ["in.mp4"]
    assert file_digest(source) == digest


def test_audio_keeps_its_duration_through_the_cli(clip, tiny_weights, tmp_path):
    source = clip("in.mp4", frames=6, audio=True, rate=Fraction(24000, 1001))
    result = run_cli(source, tmp_path / "out.mp4", "--fps", "60", "--backend", "torch", "--model", tiny_weights, "-q")
    assert result.exit_code == 0, result.stderr
    assert stream_durations(tmp_path / "out.mp4")["audio"] == stream_durations(source)["audio"]


REPOSITORY = Path(__file__).resolve().parents[1]


def test_ci_script_runs_exactly_the_readme_test_command():
    readme_commands = [line.strip() for line in (REPOSITORY / "README.md").read_text().splitlines()
                       if line.startswith("    python3 -m venv") and "pytest" in line]
    assert len(readme_commands) == 1
    ci_script = REPOSITORY / ".ci" / "run"
    assert readme_commands[0] in [line.strip() for line in ci_script.read_text().splitlines()]
    assert os.access(ci_script, os.X_OK)


def test_quick_start_sample_is_shipped_with_audio():
    from fpsboost.video.reader import probe

    info = probe(REPOSITORY / "tests" / "data" / "sample.mp4")
    assert info.average_rate == Fraction(24000, 1001) and info.frame_count == 48
    assert info.audio_streams == 1
    assert (REPOSITORY / "tests" / "data" / "sample.mp4").stat().st_size < 500_000


def test_batch_without_ray_says_which_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as without the extra
    source = tmp_path / "in.mp4"
    from helpers_video import make_clip

    make_clip(source, frames=4)
    result = run_cli("batch", source, "--out-dir", tmp_path / "out")
    assert_one_line_error(result, fragment="pip install 'fpsboost[batch]'")
    assert not (tmp_path / "out" / "in.mp4").exists()
