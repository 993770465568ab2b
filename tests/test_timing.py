"""Exact output-frame planning: rates, counts, timesteps, VFR and scene cuts."""

from __future__ import annotations

from fractions import Fraction

import pytest

from fpsboost.errors import OptionError
from fpsboost.timing import FramePlanner, Keyframe, OutputFrame, output_frame_count, parse_rate, plan_all, snap_to_grid

NTSC_FILM = Fraction(24000, 1001)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60", Fraction(60)),
        ("59.94", Fraction(60000, 1001)),
        ("29.97", Fraction(30000, 1001)),
        ("23.976", Fraction(24000, 1001)),
        ("47.952", Fraction(48000, 1001)),
        ("119.88", Fraction(120000, 1001)),
        ("60000/1001", Fraction(60000, 1001)),
        ("30/1", Fraction(30)),
        (" 25 ", Fraction(25)),
        ("12.5", Fraction(25, 2)),
        ("59.9", Fraction(599, 10)),
        ("48.0", Fraction(48)),
    ],
)
def test_parse_rate_reads_integers_decimals_and_ratios(text: str, expected: Fraction) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["0", "0/5", "-24", "abc", "", "1/0", "60fps", "1e3", "24/0.0"])
def test_parse_rate_rejects_bad_values_with_option_error(text: str) -> None:
    with pytest.raises(OptionError):
        parse_rate(text)


def cfr_keys(count: int, rate: Fraction, start: Fraction = Fraction(0)) -> list[Keyframe]:
    return [Keyframe(i, start + Fraction(i) / rate) for i in range(count)]


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
@pytest.mark.parametrize("count", [2, 3, 48])
def test_factor_gives_exactly_count_times_factor_frames(factor: int, count: int) -> None:
    keys = cfr_keys(count, NTSC_FILM)
    end = Fraction(count) / NTSC_FILM
    frames = list(plan_all(keys, end, NTSC_FILM * factor))
    assert len(frames) == count * factor
    assert [frame.index for frame in frames] == list(range(count * factor))
    for frame in frames:
        assert frame.time == Fraction(frame.index) / (NTSC_FILM * factor)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_factor_puts_originals_at_their_own_time_and_even_timesteps_between(factor: int) -> None:
    count = 10
    keys = cfr_keys(count, Fraction(24))
    frames = list(plan_all(keys, Fraction(count, 24), Fraction(24 * factor)))
    for frame in frames:
        source, step = divmod(frame.index, factor)
        if step == 0:
            assert frame.is_original and frame.key_a == source
            assert frame.time == keys[source].time
        elif source < count - 1:
            assert (frame.key_a, frame.key_b) == (source, source + 1)
            assert frame.t == Fraction(step, factor)
            assert isinstance(frame.t, Fraction)
        else:  # after the last source frame there is nothing to interpolate towards: hold it
            assert frame.is_original and frame.key_a == count - 1


def test_ntsc_film_to_60_fps_has_exact_count_and_rational_timesteps() -> None:
    count = 48  # 2.002 s
    keys = cfr_keys(count, NTSC_FILM)
    end = Fraction(count) / NTSC_FILM
    frames = list(plan_all(keys, end, Fraction(60)))
    assert len(frames) == output_frame_count(end, Fraction(60)) == 120  # round(120.12)
    for frame in frames:
        assert frame.time == Fraction(frame.index, 60)
        if frame.key_b is not None:
            # t is the exact position of the output time between the two source times.
            a, b = keys[frame.key_a].time, keys[frame.key_b].time
            assert frame.t == (frame.time - a) / (b - a)
            assert 0 <= frame.t < 1
            assert a <= frame.time < b
    # The first in-between sits 1/60 s after frame 0, i.e. 24000/60060 of the way to frame 1.
    assert frames[1].t == Fraction(24000, 60060)


def test_output_duration_equals_input_duration_for_long_ntsc_input() -> None:
    count = 24 * 60 * 60 * 2  # two hours of 23.976 footage: no drift allowed
    end = Fraction(count) / NTSC_FILM
    total = output_frame_count(end, Fraction(60))
    assert abs(Fraction(total, 60) - end) <= Fraction(1, 120)
    # Planned frame by frame over ten minutes, the last output frame still sits exactly on the grid.
    count = 24 * 60 * 10
    end = Fraction(count) / NTSC_FILM
    planner = FramePlanner(Fraction(60), Fraction(0))
    planner.add_key(Keyframe(0, Fraction(0)))
    last = count - 1
    frames = planner.add_key(Keyframe(last, Fraction(last) / NTSC_FILM)) + planner.finish(end)
    total = output_frame_count(end, Fraction(60))
    assert [frame.index for frame in frames] == list(range(total))
    assert frames[-1].time == Fraction(total - 1, 60) < end


def test_vfr_input_is_mapped_by_real_timestamps() -> None:
    times = [Fraction(0), Fraction(1, 10), Fraction(3, 10), Fraction(4, 10), Fraction(8, 10)]
    keys = [Keyframe(i, time) for i, time in enumerate(times)]
    end = Fraction(1)
    frames = list(plan_all(keys, end, Fraction(20)))
    assert len(frames) == 20
    by_index = {frame.index: frame for frame in frames}
    # 0.15 s lies halfway between the frames at 0.1 and 0.3 s.
    assert (by_index[3].key_a, by_index[3].key_b, by_index[3].t) == (1, 2, Fraction(1, 4))
    # 0.5 s lies a quarter of the way from 0.4 to 0.8 s.
    assert (by_index[10].key_a, by_index[10].key_b, by_index[10].t) == (3, 4, Fraction(1, 4))
    # Originals at 0.1, 0.3, 0.4 and 0.8 s appear unchanged at their own time.
    for index, key in ((2, 1), (6, 2), (8, 3), (16, 4)):
        assert by_index[index].is_original and by_index[index].key_a == key


def test_start_time_is_kept() -> None:
    start = Fraction(7, 3)
    keys = cfr_keys(4, Fraction(24), start)
    frames = list(plan_all(keys, start + Fraction(4, 24), Fraction(48)))
    assert len(frames) == 8
    assert frames[0].time == start and frames[0].is_original
    assert frames[-1].time == start + Fraction(7, 48)


def test_grid_starts_at_first_frame_even_when_planner_start_is_earlier() -> None:
    planner = FramePlanner(Fraction(48), start=Fraction(0))
    first = Fraction(1, 10)
    frames = planner.add_key(Keyframe(0, first)) + planner.add_key(Keyframe(1, first + Fraction(1, 24)))
    assert frames[0].time == first and frames[0].is_original
    assert all(0 <= frame.t < 1 for frame in frames)


def test_scene_cut_holds_the_previous_frame_instead_of_blending() -> None:
    keys = [Keyframe(0, Fraction(0)), Keyframe(1, Fraction(1, 24)), Keyframe(2, Fraction(2, 24), cut_before=True),
            Keyframe(3, Fraction(3, 24))]
    frames = list(plan_all(keys, Fraction(4, 24), Fraction(96)))
    assert len(frames) == 16
    across_cut = [frame for frame in frames if keys[1].time <= frame.time < keys[2].time]
    assert len(across_cut) == 4
    for frame in across_cut:
        assert frame.is_original and frame.key_a == 1 and frame.key_b is None
    after_cut = [frame for frame in frames if keys[2].time < frame.time < keys[3].time]
    assert [(f.key_a, f.key_b) for f in after_cut] == [(2, 3)] * 3
    assert [f.t for f in after_cut] == [Fraction(1, 4), Fraction(1, 2), Fraction(3, 4)]


def test_held_drawings_are_interpolated_across_the_hold() -> None:
    # Drawn on twos: frames 1 and 3 repeat 0 and 2, so only 0, 2 and 4 are keys.
    keys = [Keyframe(0, Fraction(0)), Keyframe(2, Fraction(2, 24)), Keyframe(4, Fraction(4, 24))]
    frames = list(plan_all(keys, Fraction(5, 24), Fraction(48)))
    assert len(frames) == 10
    assert [(f.key_a, f.key_b, f.t) for f in frames[:4]] == [
        (0, 2, Fraction(0)), (0, 2, Fraction(1, 4)), (0, 2, Fraction(1, 2)), (0, 2, Fraction(3, 4))]


def test_keys_must_increase_in_time() -> None:
    planner = FramePlanner(Fraction(48), Fraction(0))
    planner.add_key(Keyframe(0, Fraction(1, 24)))
    with pytest.raises(ValueError):
        planner.add_key(Keyframe(1, Fraction(1, 24)))


def test_planner_rejects_non_positive_rate() -> None:
    with pytest.raises(OptionError):
        FramePlanner(Fraction(0), Fraction(0))


def test_output_frame_is_original_when_t_is_zero_or_no_second_key() -> None:
    assert OutputFrame(0, Fraction(0), 3, 4, Fraction(0)).is_original
    assert OutputFrame(0, Fraction(0), 3, None, Fraction(0)).is_original
    assert not OutputFrame(0, Fraction(0), 3, 4, Fraction(1, 2)).is_original


def test_snap_to_grid_recovers_exact_times_from_millisecond_clocks() -> None:
    millisecond = Fraction(1, 1000)
    for index in range(200):
        exact = Fraction(index) / NTSC_FILM
        stored = Fraction(round(exact * 1000), 1000)  # what Matroska keeps
        assert snap_to_grid(stored, NTSC_FILM, Fraction(0), millisecond) == exact


def test_snap_to_grid_leaves_times_off_the_grid_alone() -> None:
    assert snap_to_grid(Fraction(1, 50), Fraction(24), Fraction(0), Fraction(1, 1000)) == Fraction(1, 50)
    assert snap_to_grid(Fraction(7, 3), Fraction(24), Fraction(7, 3), Fraction(0)) == Fraction(7, 3)
