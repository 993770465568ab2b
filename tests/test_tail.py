"""The main job's tail (``--tail``): the output frames after the last drawing, held or extrapolated."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from fpsboost import upscale_file
from fpsboost.backends import ModelSettings
from fpsboost.cli import main
from fpsboost.cli.upscale import upscale_command
from fpsboost.errors import OptionError
from fpsboost.pipeline import DEFAULT_TAIL as PIPELINE_DEFAULT_TAIL
from fpsboost.pipeline import TAIL_MODES, UpscaleSettings
from fpsboost.models.presets import DEFAULT_INTERPOLATOR_WEIGHTS, weights_dir
from fpsboost.video.writer import EncodeSettings

from helpers_pipeline import read_video

RATE = Fraction(24)
SPEED = 4  # pixels per source frame
SIZE = 12
LOSSLESS = EncodeSettings(codec="ffv1")
CPU = ModelSettings(device="cpu")
needs_interpolator = pytest.mark.skipif(not (weights_dir() / DEFAULT_INTERPOLATOR_WEIGHTS).is_file(),
                                        reason="the shipped interpolator weights are missing")


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny frames gain nothing from threads, and two stall each other on a busy 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def square_at(left: float, height: int = 48, width: int = 96) -> np.ndarray:
    """``[H,W,3]`` uint8: a red square with its left edge at ``left`` on grey."""
    picture = np.full((height, width, 3), 128, np.uint8)
    picture[18:18 + SIZE, int(left):int(left) + SIZE] = (230, 25, 25)
    return picture


def red_centroid_x(picture: np.ndarray) -> float:
    redness = np.clip(picture[..., 0].astype(float) - picture[..., 1], 0, None)  # linear in blends: grey is 0
    return float((redness.sum(0) * np.arange(picture.shape[1])).sum() / redness.sum())


def moving_clip(frames_clip, drawings: int, hold: int, name: str = "in.mkv") -> Path:
    """A square moving SPEED * hold px per drawing, each drawing shown ``hold`` frames."""
    pictures = [square_at(8 + SPEED * hold * d) for d in range(drawings) for _ in range(hold)]
    return frames_clip(name, pictures, [Fraction(i) / RATE for i in range(len(pictures))], RATE)


def test_cli_tail_option_offers_the_pipeline_modes() -> None:
    tail = next(param for param in upscale_command.params if param.name == "tail")
    assert tuple(tail.type.choices) == TAIL_MODES and tail.default == PIPELINE_DEFAULT_TAIL


def test_an_unknown_tail_mode_is_an_option_error() -> None:
    with pytest.raises(OptionError, match="--tail"):
        UpscaleSettings(tail="loop")


@needs_interpolator
def test_extrapolated_tail_keeps_the_square_moving(frames_clip, tmp_path: Path) -> None:
    source = moving_clip(frames_clip, drawings=6, hold=1)
    held, moving = tmp_path / "hold.mkv", tmp_path / "extrapolate.mkv"
    upscale_file(source, held, factor=4, model=CPU, encode=LOSSLESS, tail="hold")
    summary = upscale_file(source, moving, factor=4, model=CPU, encode=LOSSLESS, tail="extrapolate")
    hold_frames, tail_frames = read_video(held), read_video(moving)
    assert tail_frames.times == hold_frames.times
    grid = [Fraction(i) / (4 * RATE) for i in range(24)]
    assert len(tail_frames.times) == 24
    assert max(abs(time - exact) for time, exact in zip(tail_frames.times, grid)) <= Fraction(1, 1000)  # Matroska: ms
    assert summary.tail_predicted == 3
    for before, after in zip(hold_frames.pictures[:21], tail_frames.pictures[:21]):
        assert np.array_equal(before, after)  # everything up to the last input frame is the same
    last = red_centroid_x(hold_frames.pictures[20])
    assert [red_centroid_x(p) for p in hold_frames.pictures[21:]] == pytest.approx([last] * 3, abs=0.01)
    steps = np.diff([last] + [red_centroid_x(p) for p in tail_frames.pictures[21:]])
    assert np.all(steps > SPEED / 4 * 0.5) and np.all(steps < SPEED / 4 * 1.5), steps


@needs_interpolator
def test_on_twos_the_tail_continues_the_drawing_interval(frames_clip, tmp_path: Path) -> None:
    """The last drawing is shown 2 source frames: with --factor 2 that is 3 tail frames, each a
    quarter of a drawing interval further, not a jump at the rate of the source frames."""
    source = moving_clip(frames_clip, drawings=5, hold=2)
    out = tmp_path / "out.mkv"
    summary = upscale_file(source, out, factor=2, model=CPU, encode=LOSSLESS, tail="extrapolate")
    frames = read_video(out)
    assert len(frames.times) == 20 and summary.tail_predicted == 3
    positions = [red_centroid_x(p) for p in frames.pictures[16:]]
    steps = np.diff(positions)
    drawing_step = SPEED * 2
    assert np.all(steps > drawing_step / 4 * 0.5) and np.all(steps < drawing_step / 4 * 1.5), positions


def test_after_a_scene_cut_or_a_long_final_hold_the_tail_holds(frames_clip, tmp_path: Path) -> None:
    stripes = np.zeros((48, 96, 3), np.uint8)
    stripes[:, ::16] = stripes[:, 1::16] = stripes[:, 2::16] = stripes[:, 3::16] = (240, 220, 20)
    stripes[:, 8::16] = stripes[:, 9::16] = (20, 40, 200)
    cut = [square_at(8 + SPEED * i) for i in range(5)] + [stripes] * 2  # a new shot of one drawing
    source = frames_clip("cut.mkv", cut, [Fraction(i) / RATE for i in range(7)], RATE)
    summary = upscale_file(source, tmp_path / "cut-out.mkv", factor=2, model=CPU, encode=LOSSLESS, tail="extrapolate")
    assert summary.scene_cuts == 1 and summary.tail_predicted == 0
    stop = [square_at(8 + SPEED * i) for i in range(4)] + [square_at(8 + SPEED * 4)] * 3  # moves, then stops
    source = frames_clip("stop.mkv", stop, [Fraction(i) / RATE for i in range(7)], RATE)
    out = tmp_path / "stop-out.mkv"
    summary = upscale_file(source, out, factor=2, model=CPU, encode=LOSSLESS, tail="extrapolate")
    assert summary.tail_predicted == 0
    frames = read_video(out)
    assert len(frames.times) == 14
    assert len({red_centroid_x(p) for p in frames.pictures[8:]}) == 1  # the stop stays still


@needs_interpolator
def test_cli_tail_option_reaches_the_summary(frames_clip, tmp_path: Path) -> None:
    source = moving_clip(frames_clip, drawings=4, hold=1)
    out = tmp_path / "out.mkv"
    result = CliRunner().invoke(main, [str(source), str(out), "--factor", "2", "--device", "cpu", "--codec", "ffv1",
                                       "--tail", "extrapolate"])
    assert result.exit_code == 0, result.output
    assert "1 tail frame extrapolated" in result.output
    assert len(read_video(out).times) == 8


@needs_interpolator
def test_a_shared_interpolator_predicts_what_loading_the_weights_does() -> None:
    """The main job hands its own fp32 network to the tail instead of reading the weights twice."""
    from fpsboost.extrapolation import TailFiller
    from fpsboost.models.presets import load_interpolator

    rng = np.random.default_rng(0)
    first = rng.random((3, 32, 48), dtype=np.float32)
    second = np.roll(first, 3, axis=2)
    fillers = [TailFiller(device="cpu"), TailFiller(device="cpu", interpolator=load_interpolator())]
    predictions = []
    for filler in fillers:
        filler.add(Fraction(0), first)
        filler.add(Fraction(1, 24), second)
        predictions.append(filler.predict([0.5, 1.0]))
    np.testing.assert_array_equal(predictions[0], predictions[1])
    assert not np.array_equal(predictions[0][1], second)  # it moved on, not held
