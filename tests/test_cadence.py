"""Held drawings, stills and scene cuts on generated frame sequences pushed straight into the analyzer."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from fpsboost.cadence import PAN_EXPLAINED_SHARE, CadenceAnalyzer, CadenceSettings, frame_signature, global_shift
from fpsboost.data.celgen import CelScene
from fpsboost.errors import OptionError
from fpsboost.timing import Keyframe, plan_all

from fpsboost.video.reader import VideoReader

from helpers_cadence import (
    FRAME_RATE, SAMPLE_DIRECTORY, add_noise, cel_frames, glow_frames, on_cadence, requantise_blocks, sample_drawing_starts,
    sample_generator, small_dot_frames, to_uint16,
)

HEIGHT, WIDTH = 96, 128


def analyse(frames: list[np.ndarray], settings: CadenceSettings = CadenceSettings()) -> tuple[CadenceAnalyzer, list[Keyframe]]:
    analyzer = CadenceAnalyzer(settings)
    keys: list[Keyframe] = []
    for index, frame in enumerate(frames):
        keys.extend(analyzer.push(index, index / FRAME_RATE, frame))
    keys.extend(analyzer.finish())
    return analyzer, keys


def key_indices(keys: list[Keyframe]) -> list[int]:
    return [key.index for key in keys]


def drawing_starts(pattern: list[int]) -> list[int]:
    return list(np.cumsum([0] + pattern[:-1]))


@pytest.fixture(scope="module")
def scene() -> CelScene:
    return CelScene(1, HEIGHT, WIDTH)


def test_on_twos_keeps_one_key_per_drawing(scene: CelScene) -> None:
    pattern = [2] * 8
    analyzer, keys = analyse(cel_frames(scene, on_cadence(pattern), noise_8bit=1.5))
    assert key_indices(keys) == drawing_starts(pattern)
    assert not any(key.cut_before for key in keys)
    summary = analyzer.summary()
    assert (summary.frames, summary.keyframes, summary.held_frames, summary.scene_cuts) == (16, 8, 8, 0)
    assert summary.shots == [(0, 15, "twos")]
    held = [entry["held_from"] for entry in analyzer.report()]
    assert held == [None if index % 2 == 0 else index - 1 for index in range(16)]


def test_on_threes_keeps_one_key_per_drawing(scene: CelScene) -> None:
    pattern = [3] * 6
    analyzer, keys = analyse(cel_frames(scene, on_cadence(pattern), noise_8bit=1.5, seed=1))
    assert key_indices(keys) == drawing_starts(pattern)
    assert analyzer.summary().shots == [(0, 17, "threes")]


def test_mixed_cadence_in_one_shot_follows_every_drawing(scene: CelScene) -> None:
    pattern = [1, 1, 1, 2, 2, 2, 3, 3, 3, 1]
    analyzer, keys = analyse(cel_frames(scene, on_cadence(pattern), noise_8bit=1.0, seed=2))
    assert key_indices(keys) == drawing_starts(pattern)
    assert analyzer.summary().shots == [(0, sum(pattern) - 1, "mixed")]


def test_still_shot_is_one_key_held_to_the_end(scene: CelScene) -> None:
    frames = cel_frames(scene, [3.0] * 20, noise_8bit=2.0)
    analyzer, keys = analyse(frames)
    assert key_indices(keys) == [0]
    summary = analyzer.summary()
    assert (summary.keyframes, summary.held_frames, summary.shots) == (1, 19, [(0, 19, "still")])
    planned = list(plan_all(keys, Fraction(20) / FRAME_RATE, FRAME_RATE * 2))
    assert len(planned) == 40
    assert all(frame.is_original and frame.key_a == 0 for frame in planned)  # no shimmer: the original frame


def test_long_still_then_motion_resumes_from_the_still_end(scene: CelScene) -> None:
    still = 10
    times = [0.0] * still + [float(still + 2 * (k // 2)) for k in range(6)]
    _, keys = analyse(cel_frames(scene, times, noise_8bit=1.0, seed=3))
    assert key_indices(keys) == [0, still - 1, still, still + 2, still + 4]
    assert [key.cut_before for key in keys] == [False, True, False, False, False]
    planned = list(plan_all(keys, Fraction(len(times)) / FRAME_RATE, FRAME_RATE * 2))
    during_still = [frame for frame in planned if frame.time < Fraction(still - 1) / FRAME_RATE]
    assert all(frame.is_original and frame.key_a == 0 for frame in during_still)
    first_motion = [frame for frame in planned if frame.key_a == still - 1 and not frame.is_original]
    assert [frame.t for frame in first_motion] == [Fraction(1, 2)]  # interpolated over one source frame only


def test_hold_up_to_max_is_retimed_and_longer_is_a_still(scene: CelScene) -> None:
    settings = CadenceSettings(max_hold_frames=4)
    _, keys_on_fours = analyse(cel_frames(scene, on_cadence([4] * 4), noise_8bit=1.0), settings)
    assert key_indices(keys_on_fours) == [0, 4, 8, 12]
    _, keys_on_fives = analyse(cel_frames(scene, on_cadence([5] * 3), noise_8bit=1.0), settings)
    assert key_indices(keys_on_fives) == [0, 4, 5, 9, 10]
    assert [key.cut_before for key in keys_on_fives] == [False, True, False, True, False]


def test_scene_cut_marks_the_first_key_of_the_new_shot() -> None:
    shot_a = cel_frames(CelScene(2, HEIGHT, WIDTH), on_cadence([2] * 4), noise_8bit=1.0)
    shot_b = cel_frames(CelScene(3, HEIGHT, WIDTH), on_cadence([2] * 4), noise_8bit=1.0, seed=5)
    analyzer, keys = analyse(shot_a + shot_b)
    assert key_indices(keys) == [0, 2, 4, 6, 8, 10, 12, 14]
    assert [key.index for key in keys if key.cut_before] == [8]
    summary = analyzer.summary()
    assert summary.scene_cuts == 1
    assert summary.shots == [(0, 7, "twos"), (8, 15, "twos")]
    planned = list(plan_all(keys, Fraction(16) / FRAME_RATE, FRAME_RATE * 2))
    before_cut = [frame for frame in planned if Fraction(6) / FRAME_RATE <= frame.time < Fraction(8) / FRAME_RATE]
    assert all(frame.is_original and frame.key_a == 6 for frame in before_cut)  # the trailing hold stays a hold


def test_scene_threshold_zero_disables_cuts() -> None:
    frames = cel_frames(CelScene(2, HEIGHT, WIDTH), [0.0, 1.0]) + cel_frames(CelScene(3, HEIGHT, WIDTH), [0.0, 1.0])
    analyzer, keys = analyse(frames, CadenceSettings(scene_threshold=0))
    assert key_indices(keys) == [0, 1, 2, 3]
    assert not any(key.cut_before for key in keys)
    assert analyzer.summary().scene_cuts == 0


def test_fade_to_black_and_dissolve_are_neither_cuts_nor_holds() -> None:
    picture = CelScene(4, HEIGHT, WIDTH).render(2.0).numpy()
    other = CelScene(6, HEIGHT, WIDTH).render(2.0).numpy()
    rng = np.random.default_rng(0)
    steps = np.linspace(0.0, 1.0, 12)
    fade = [add_noise(to_uint16(picture * (1.0 - 0.9 * s)), 1.0, rng) for s in steps]
    dissolve = [add_noise(to_uint16(picture * (1.0 - s) + other * s), 1.0, rng) for s in steps]
    for frames in (fade, dissolve):
        analyzer, keys = analyse(frames)
        assert key_indices(keys) == list(range(len(frames)))
        assert not any(key.cut_before for key in keys)
        assert analyzer.summary().scene_cuts == 0


def test_small_object_moving_slowly_in_a_dark_scene_is_not_a_hold() -> None:
    frames = small_dot_frames(12, 48, 64, speed_px=1.0, background_8bit=12, dot_8bit=24, radius_px=3, noise_8bit=1.0)
    analyzer, keys = analyse(frames)
    assert key_indices(keys) == list(range(12))
    assert analyzer.summary().held_frames == 0


def test_dark_cel_scene_in_motion_is_not_a_hold() -> None:
    scene = CelScene(3, HEIGHT, WIDTH)
    frames = cel_frames(scene, [float(k) for k in range(10)], noise_8bit=1.0, brightness=0.12)
    assert max(float(frame.max()) for frame in frames) < 0.15 * 65535  # really dark
    _, keys = analyse(frames)
    assert key_indices(keys) == list(range(10))


def test_noise_only_differences_are_holds(scene: CelScene) -> None:
    gaussian = cel_frames(scene, [2.0] * 8, noise_8bit=3.0)
    grainy = cel_frames(scene, [2.0] * 8, noise_8bit=2.0, seed=1)
    jpeg = [_jpeg_round_trip(frame, quality) for frame, quality in zip(grainy, [80, 85, 90, 95] * 2)]
    for frames in (gaussian, jpeg):
        analyzer, keys = analyse(frames)
        assert key_indices(keys) == [0]
        assert analyzer.summary().held_frames == 7


def _jpeg_round_trip(frame: np.ndarray, quality: int) -> np.ndarray:
    eight_bit = np.round(frame / 257.0).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", eight_bit, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR).astype(np.uint16) * 257


def test_shipped_sample_clip_has_one_key_per_drawing_the_generator_drew() -> None:
    """x264 (CRF 26) re-quantises flat blocks of held frames by a code value; none may pass for a drawing."""
    generator = sample_generator()
    analyzer = CadenceAnalyzer()
    keys: list[Keyframe] = []
    with VideoReader(SAMPLE_DIRECTORY / "sample.mp4") as reader:
        for frame in reader:
            keys.extend(analyzer.push(frame.index, frame.time, frame.rgb))
    keys.extend(analyzer.finish())
    assert analyzer.summary().frames == generator.FRAMES
    assert key_indices(keys) == sample_drawing_starts(generator)
    assert [key.index for key in keys if key.cut_before] == [generator.CUT_FRAME]


def encode_sample_pictures(path: Path, crf: int) -> Path:
    """The sample clip's clean pictures through x264 at ``crf`` (one thread: the same bits on every machine)."""
    generator = sample_generator()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=generator.RATE, options={"crf": str(crf), "threads": "1"})
        stream.width, stream.height, stream.pix_fmt = generator.WIDTH, generator.HEIGHT, "yuv420p"
        for index, picture in enumerate(generator.render_frames()):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = index, 1 / generator.RATE
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_held_frames_damaged_by_a_low_rate_codec_are_holds_where_the_cadence_expects_them(tmp_path: Path) -> None:
    """At CRF 32 x264 redraws held edges a fraction of a pixel off, beyond the block rule's limit;
    the cadence prior (the shot has been on twos) still calls them holds, and nothing else."""
    generator = sample_generator()
    path = encode_sample_pictures(tmp_path / "crf32.mkv", crf=32)

    def keys_with(settings: CadenceSettings) -> list[Keyframe]:
        analyzer, keys = CadenceAnalyzer(settings), []
        with VideoReader(path) as reader:
            for frame in reader:
                keys.extend(analyzer.push(frame.index, frame.time, frame.rgb))
        return keys + analyzer.finish()

    keys = keys_with(CadenceSettings())
    assert key_indices(keys) == sample_drawing_starts(generator)
    assert [key.index for key in keys if key.cut_before] == [generator.CUT_FRAME]
    without_prior = key_indices(keys_with(CadenceSettings(cadence_hold_share=0)))
    missed_holds = set(without_prior) - set(sample_drawing_starts(generator))
    assert missed_holds  # what the prior is for: the block rule alone breaks some of these holds
    assert set(without_prior) >= set(sample_drawing_starts(generator))


def test_cadence_prior_does_not_hide_a_switch_to_ones_with_full_steps(scene: CelScene) -> None:
    """Twos, then ones: the first drawing on ones comes where the cadence expected a hold."""
    pattern = [2] * 4 + [1] * 6
    frames = cel_frames(scene, on_cadence(pattern), noise_8bit=1.0)
    _, keys = analyse(frames)
    assert key_indices(keys) == drawing_starts(pattern)


def test_blocks_requantised_by_the_codec_in_held_frames_are_still_holds(scene: CelScene) -> None:
    pattern = [2] * 6
    clean = cel_frames(scene, on_cadence(pattern), noise_8bit=0.5)
    # A few blocks per frame, as x264 leaves them: too few to raise the pair's noise floor.
    encoded = [requantise_blocks(frame, share=0.05, seed=index) for index, frame in enumerate(clean)]
    _, keys = analyse(encoded)
    assert key_indices(keys) == drawing_starts(pattern)
    _, keys_without_tolerance = analyse(encoded, CadenceSettings(requantisation_shift=0))
    assert key_indices(keys_without_tolerance) != drawing_starts(pattern)  # what the tolerance is for


def test_soft_glow_brightening_in_a_dark_scene_is_not_a_hold() -> None:
    """No edge moves and every block brightens as one, but by more than a codec's re-quantisation."""
    frames = glow_frames(8, HEIGHT, WIDTH, step_8bit=4.0, sigma_px=10.0, background_8bit=12.0, noise_8bit=1.0)
    mean_step_8bit = abs(float(frames[1].mean()) - float(frames[0].mean())) / 257
    assert mean_step_8bit < CadenceSettings().brightness_shift  # the frame as a whole barely changes
    analyzer, keys = analyse(frames)
    assert key_indices(keys) == list(range(len(frames)))
    assert analyzer.summary().held_frames == 0


def test_camera_pan_with_characters_on_twos_is_not_a_hold() -> None:
    background = to_uint16(CelScene(7, HEIGHT, WIDTH * 2).render(0.0).numpy())
    rng = np.random.default_rng(1)
    frames = []
    for k in range(12):
        frame = background[:, 2 * k: 2 * k + WIDTH].copy()
        drawing = k // 2 * 2  # the character moves on twos
        centre = (30 + 3 * drawing, HEIGHT // 2)
        cv2.ellipse(frame, centre, (12, 18), 0, 0, 360, (60000, 30000, 20000), -1)
        cv2.ellipse(frame, centre, (12, 18), 0, 0, 360, (3000, 3000, 3000), 2)
        frames.append(add_noise(frame, 1.0, rng))
    analyzer, keys = analyse(frames)
    assert key_indices(keys) == list(range(12))
    assert analyzer.summary().held_frames == 0


SUPERSAMPLE = 10  # the slow pan below moves one supersampled pixel per frame: 0.1 px
SHIFT_BIAS = 0.2  # central differences flatten sharp edges' gradients: their shifts read up to ~15 % long


def slow_pan_frames(count: int, noise_8bit: float, brightness: float = 1.0) -> list[np.ndarray]:
    """A background-only camera pan moving left by 1 / SUPERSAMPLE pixels per frame, with fresh noise."""
    background = CelScene(7, HEIGHT, WIDTH + 8).render(0.0).numpy().transpose(1, 2, 0) * brightness
    large = cv2.resize(background, None, fx=SUPERSAMPLE, fy=SUPERSAMPLE, interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(4)
    frames = []
    for k in range(count):
        window = large[:, k: k + WIDTH * SUPERSAMPLE]
        frame = cv2.resize(window, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
        frames.append(add_noise(to_uint16(np.clip(frame, 0.0, 1.0)), noise_8bit, rng))
    return frames


def test_global_shift_measures_a_sub_pixel_pan_and_no_shift_in_a_held_drawing(scene: CelScene) -> None:
    panned = [frame_signature(frame) for frame in slow_pan_frames(4, noise_8bit=1.0)]
    for k in (1, 3):
        shift = global_shift(panned[0], panned[k])
        assert shift.dx == pytest.approx(-k / SUPERSAMPLE, rel=SHIFT_BIAS) and abs(shift.dy) < 0.02
        assert shift.explained >= PAN_EXPLAINED_SHARE
    held = [frame_signature(frame) for frame in cel_frames(scene, [2.0] * 4, noise_8bit=3.0)]
    for k in (1, 3):
        assert global_shift(held[0], held[k]).length < CadenceSettings().pan_shift_px / 2


def test_slow_camera_pan_without_characters_is_not_a_hold() -> None:
    """0.1 px per frame: every block stays under the hold limit, but the whole picture moved."""
    frames = slow_pan_frames(10, noise_8bit=1.0)
    analyzer, keys = analyse(frames)
    assert key_indices(keys) == list(range(10))
    assert {entry["reason"] for entry in analyzer.report()[1:]} == {"pan"}
    assert analyzer.summary().stills == 0
    _, keys_without_pan_rule = analyse(frames, CadenceSettings(pan_shift_px=0))
    assert len(keys_without_pan_rule) < len(frames)  # what the rule is for


def test_mode_off_makes_every_frame_a_key_but_still_marks_cuts() -> None:
    frames = cel_frames(CelScene(2, HEIGHT, WIDTH), on_cadence([2] * 3)) + cel_frames(CelScene(3, HEIGHT, WIDTH), on_cadence([2] * 2))
    analyzer, keys = analyse(frames, CadenceSettings(mode="off"))
    assert key_indices(keys) == list(range(10))
    assert [key.index for key in keys if key.cut_before] == [6]
    assert analyzer.summary().held_frames == 0


def test_twos_with_factor_two_play_as_evenly_spaced_motion(scene: CelScene) -> None:
    pattern = [2] * 6
    frames = cel_frames(scene, on_cadence(pattern), noise_8bit=1.0)
    _, keys = analyse(frames)
    end = Fraction(len(frames)) / FRAME_RATE
    planned = list(plan_all(keys, end, FRAME_RATE * 2))
    assert len(planned) == 2 * len(frames)  # same duration, same grid: audio stays in sync
    assert planned[-1].time == Fraction(2 * len(frames) - 1) / (FRAME_RATE * 2)
    moving = [frame for frame in planned if frame.time < keys[-1].time]
    # Each output frame moves a quarter of a drawing step: t = 0, 1/4, 1/2, 3/4 between keys two frames apart.
    assert [frame.t for frame in moving] == [Fraction(j, 4) for j in range(4)] * (len(keys) - 1)
    assert all(frame.key_b == frame.key_a + 2 for frame in moving if frame.t > 0)


def test_keys_are_pushed_frames_in_strict_time_order_with_bounded_lookahead(scene: CelScene) -> None:
    times = [0.0] * 7 + [7.0, 7.0, 9.0] + [20.0] * 6 + [26.0]
    frames = cel_frames(scene, times, noise_8bit=1.0)
    analyzer = CadenceAnalyzer()
    keys: list[Keyframe] = []
    for index, frame in enumerate(frames):
        decided = analyzer.push(index, index / FRAME_RATE, frame)
        assert all(index - CadenceAnalyzer.LOOKAHEAD_FRAMES <= key.index <= index for key in decided)
        keys.extend(decided)
    keys.extend(analyzer.finish())
    assert keys[0].index == 0
    assert all(a.time < b.time for a, b in zip(keys, keys[1:]))
    assert key_indices(keys) == [0, 6, 7, 9, 10, 15, 16]


def test_report_is_json_with_exact_times_and_scores(scene: CelScene) -> None:
    analyzer, keys = analyse(cel_frames(scene, on_cadence([2, 2]), noise_8bit=1.0))
    report = json.loads(json.dumps(analyzer.report()))
    assert [entry["index"] for entry in report] == [0, 1, 2, 3]
    assert [Fraction(entry["time"]) for entry in report] == [k / FRAME_RATE for k in range(4)]
    assert report[1]["time"] == "1001/24000"
    assert [entry["is_key"] for entry in report] == [True, False, True, False]
    assert [entry["held_from"] for entry in report] == [None, 0, None, 2]
    assert report[2]["change_from_key"] > report[2]["hold_limit"] >= report[1]["change_from_key"]
    assert {"cut_before", "cut_score", "change_from_previous", "reason", "shift_from_key"} <= set(report[1])
    assert report[1]["shift_from_key"] < CadenceSettings().pan_shift_px  # a hold: the picture did not move


@pytest.mark.parametrize("settings", [
    {"mode": "sometimes"}, {"scene_threshold": -0.1}, {"scene_threshold": 2}, {"hold_threshold": -1},
    {"max_hold_frames": 0}, {"cut_jump_ratio": 0.5}, {"requantisation_shift": -1}, {"pan_shift_px": -1},
])
def test_invalid_settings_are_option_errors(settings: dict) -> None:
    with pytest.raises(OptionError):
        CadenceSettings(**settings)


def test_frames_out_of_order_are_rejected(scene: CelScene) -> None:
    frame = cel_frames(scene, [0.0])[0]
    analyzer = CadenceAnalyzer()
    analyzer.push(0, Fraction(0), frame)
    with pytest.raises(ValueError):
        analyzer.push(0, Fraction(0), frame)


def test_analyser_without_report_keeps_the_same_summary_in_bounded_memory() -> None:
    """Folding final records into counts (what the pipeline does without --report) changes nothing."""
    scene = CelScene(5, 96, 128)
    times = on_cadence([2, 2, 3, 1, 1, 6, 2]) + [40 + t for t in on_cadence([2, 2])]
    frames = cel_frames(scene, times)
    full, folded = CadenceAnalyzer(), CadenceAnalyzer(keep_report=False)
    for index, frame in enumerate(frames):
        time = Fraction(index) / FRAME_RATE
        assert full.push(index, time, frame) == folded.push(index, time, frame)
    assert full.finish() == folded.finish()
    assert full.summary() == folded.summary()
    assert len(folded._records) <= 2
    with pytest.raises(RuntimeError):
        folded.report()
