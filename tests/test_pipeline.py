"""The main job end to end on tiny generated clips: counts, timestamps, streams, pixels, failures."""

from __future__ import annotations

import threading
import tracemalloc
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from fpsboost import Interpolator, upscale_file
from fpsboost.backends import ModelSettings
from fpsboost.cadence import CadenceSettings
from fpsboost.errors import InputError, ModelError, OptionError
from fpsboost.pipeline import DECODE_QUEUE_FRAMES, ENCODE_QUEUE_FRAMES, UpscaleSettings, is_out_of_memory, upscale
from fpsboost.video.reader import VideoReader
from fpsboost.video.writer import EncodeSettings

from helpers_pipeline import (
    NTSC_FILM,
    LinearBlendBackend,
    add_subtitles,
    psnr,
    read_video,
    stream_durations,
    write_planes,
)
from helpers_video import pattern_rgb24

LOSSLESS = EncodeSettings(codec="ffv1")
EVERY_FRAME = CadenceSettings(mode="off")  # the test clips change every frame anyway; this keeps it explicit


def input_end(path: Path) -> Fraction:
    with VideoReader(path) as reader:
        for _ in reader:
            pass
        return reader.end_time


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_factor_gives_exact_frame_count_and_timestamps(clip, tiny_model, tmp_path, factor):
    source = clip("in.mp4", frames=6, rate=NTSC_FILM, audio=True)
    output = tmp_path / "out.mp4"
    summary = upscale_file(source, output, factor=factor, model=tiny_model)
    result = read_video(output)
    out_rate = NTSC_FILM * factor
    assert len(result.times) == 6 * factor == summary.frames_out
    assert result.times == [Fraction(j) / out_rate for j in range(6 * factor)]
    assert result.rate == out_rate
    assert summary.frames_in == 6 and summary.output_rate == out_rate


def test_output_duration_and_audio_match_the_input(clip, tiny_model, tmp_path):
    source = clip("in.mp4", frames=8, rate=NTSC_FILM, audio=True)
    output = tmp_path / "out.mp4"
    upscale_file(source, output, factor=2, model=tiny_model)
    before, after = stream_durations(source), stream_durations(output)
    assert set(after) == {"video", "audio"}
    assert after["video"] == before["video"] == Fraction(8) / NTSC_FILM
    assert after["audio"] == before["audio"]  # copied packet for packet: same length, still in sync


def test_ntsc_film_to_60_fps_is_exact(clip, tiny_model, tmp_path):
    source = clip("in.mp4", frames=10, rate=NTSC_FILM)
    output = tmp_path / "out.mp4"  # Matroska would round the times to milliseconds
    upscale_file(source, output, fps="60", model=tiny_model)
    duration = Fraction(10) / NTSC_FILM  # 0.41708 s -> round(25.025) frames at 60 fps
    result = read_video(output)
    assert len(result.times) == 25
    assert result.times == [Fraction(j, 60) for j in range(25)]
    assert abs(Fraction(25, 60) - duration) <= Fraction(1, 120)


def test_subtitle_track_is_copied(clip, tiny_model, tmp_path):
    # ffv1: an H.264 stream re-muxed like this gets a bogus average rate (3000) from libavformat.
    video = clip("plain.mkv", frames=6, audio=True, codec="ffv1")
    srt = "1\n00:00:00,000 --> 00:00:00,100\nHello\n\n2\n00:00:00,120 --> 00:00:00,220\nWorld\n"
    source = add_subtitles(video, tmp_path / "in.mkv", srt)
    output = tmp_path / "out.mkv"
    upscale_file(source, output, factor=2, model=tiny_model)

    def subtitle_packets(path: Path) -> list[tuple[Fraction, bytes]]:
        import av

        with av.open(str(path)) as container:
            stream = container.streams.subtitles[0]
            return [(packet.pts * packet.time_base, bytes(packet)) for packet in container.demux(stream) if packet.size]

    assert subtitle_packets(output) == subtitle_packets(source)
    assert len(subtitle_packets(output)) == 2
    assert set(stream_durations(output)) == {"video", "audio", "subtitle"}


def test_originals_unchanged_and_inbetweens_from_the_right_pair_and_t(frames_clip, tmp_path):
    pictures = [pattern_rgb24(index * 5, 64, 48) for index in range(5)]
    source = frames_clip("in.mkv", pictures, [Fraction(i, 24) for i in range(5)], Fraction(24), pix_fmt="yuv444p")
    output = tmp_path / "out.mkv"
    backend = LinearBlendBackend()
    upscale(source, output, UpscaleSettings(factor=3, tail="hold"), encode=LOSSLESS, cadence=EVERY_FRAME, backend=backend)
    decoded_in, decoded_out = read_video(source).pictures, read_video(output).pictures
    assert len(decoded_out) == 15
    for k in range(5):
        assert psnr(decoded_out[3 * k], decoded_in[k]) >= 45  # written through: identical in fact
        assert np.array_equal(decoded_out[3 * k], decoded_in[k])
    for k in range(4):
        for step in (1, 2):
            t = step / 3
            expected = (1 - t) * decoded_in[k].astype(np.float64) + t * decoded_in[k + 1].astype(np.float64)
            assert psnr(decoded_out[3 * k + step], expected) >= 40
            wrong = (1 - t) * decoded_in[k + 1].astype(np.float64) + t * decoded_in[k].astype(np.float64)
            assert psnr(decoded_out[3 * k + step], wrong) < psnr(decoded_out[3 * k + step], expected) - 3
    # With --tail hold the last source frame is held to the end of its duration (test_tail.py
    # covers the default, extrapolation).
    assert np.array_equal(decoded_out[13], decoded_in[4]) and np.array_equal(decoded_out[14], decoded_in[4])


class _RecordingBlend(LinearBlendBackend):
    """The blend, recording which thread measures (prepares) and runs (completes) each batch, and whether
    the next batch's measuring had begun when a batch's network ran (waiting up to 5 s for it to)."""

    def __init__(self, batches: int) -> None:
        super().__init__()
        self.batches = batches
        self.prepared: list[str] = []  # thread names, in call order
        self.completed: list[tuple[str, bool]] = []  # thread name, next batch already being measured

    def prepare(self, frames0, frames1, flow_scale=None, neighbours=None):
        self.prepared.append(threading.current_thread().name)
        return super().prepare(frames0, frames1, flow_scale, neighbours)

    def complete(self, prepared, pair_index, timesteps):
        import time

        batch = len(self.completed)
        deadline = time.monotonic() + 5
        while batch + 1 < self.batches and len(self.prepared) <= batch + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        overlapped = batch + 1 == self.batches or len(self.prepared) > batch + 1
        self.completed.append((threading.current_thread().name, overlapped))
        return super().complete(prepared, pair_index, timesteps)


def test_the_next_batch_is_measured_beside_the_network_and_frames_stay_in_order(frames_clip, tmp_path):
    """Each batch is prepared (measured) on the measuring thread, and its measuring has begun before
    the batch flushed before it runs its network on the job's thread; the output is still every
    original and in-between in order."""
    pictures = [pattern_rgb24(index * 5, 64, 48) for index in range(9)]
    source = frames_clip("in.mkv", pictures, [Fraction(i, 24) for i in range(9)], Fraction(24), pix_fmt="yuv444p")
    output = tmp_path / "out.mkv"
    backend = _RecordingBlend(batches=4)  # 8 pairs in calls of 2
    upscale(source, output, UpscaleSettings(factor=2, tail="hold"), encode=LOSSLESS, cadence=EVERY_FRAME, backend=backend)
    assert backend.prepared == ["fpsboost-measure_0"] * 4
    assert len(backend.completed) == 4
    assert all(not thread.startswith("fpsboost-measure") and overlapped for thread, overlapped in backend.completed)
    decoded_in, decoded_out = read_video(source).pictures, read_video(output).pictures
    assert len(decoded_out) == 18
    for k in range(8):
        assert np.array_equal(decoded_out[2 * k], decoded_in[k])
        expected = 0.5 * decoded_in[k].astype(np.float64) + 0.5 * decoded_in[k + 1].astype(np.float64)
        assert psnr(decoded_out[2 * k + 1], expected) >= 40


def test_ten_bit_input_keeps_more_than_eight_bits_through_the_whole_pipeline(tmp_path):
    height, width = 16, 64
    ramp = np.tile(np.arange(200, 200 + width * 9, 9, dtype=np.uint16), (height, 1))  # 10-bit luma codes
    chroma = np.full((height // 2, width // 2), 512, np.uint16)
    step = 2  # luma codes per frame: the in-between of two frames is odd, impossible on an 8-bit grid
    frames = [[ramp + step * k, chroma, chroma] for k in range(4)]
    source = write_planes(tmp_path / "in.mkv", frames, [Fraction(k, 24) for k in range(4)], Fraction(24))
    output = tmp_path / "out.mkv"
    upscale(source, output, UpscaleSettings(factor=2), encode=LOSSLESS, cadence=EVERY_FRAME, backend=LinearBlendBackend())
    result = read_video(output, planes=True)
    assert result.pix_fmt == "yuv420p10le"
    for k in range(3):
        original, inbetween = result.pictures[2 * k], result.pictures[2 * k + 1]
        assert np.array_equal(original, ramp + step * k)
        error = np.abs(inbetween.astype(np.int64) - (ramp.astype(np.int64) + step * k + 1))
        # A path through 8 bits would be off by up to 2 codes and rarely hit the odd middle value.
        assert error.max() <= 1
        assert np.mean(error == 0) > 0.9


def test_variable_frame_rate_input_is_mapped_by_real_timestamps(frames_clip, tmp_path):
    times = [Fraction(0), Fraction(1, 10), Fraction(3, 10), Fraction(4, 10), Fraction(8, 10)]
    pictures = [pattern_rgb24(index * 9, 64, 48) for index in range(5)]
    source = frames_clip("vfr.mkv", pictures, times, Fraction(10), pix_fmt="yuv444p")
    output = tmp_path / "out.mkv"
    summary = upscale(source, output, UpscaleSettings(fps=Fraction(20)), encode=LOSSLESS, cadence=EVERY_FRAME,
                      backend=LinearBlendBackend())
    result = read_video(output)
    decoded_in = read_video(source).pictures
    expected_count = round((input_end(source) - times[0]) * 20)
    assert len(result.times) == expected_count == summary.frames_out
    assert result.times == [Fraction(j, 20) for j in range(expected_count)]
    for out_index, in_index in ((0, 0), (2, 1), (6, 2), (8, 3), (16, 4)):
        assert np.array_equal(result.pictures[out_index], decoded_in[in_index])
    # 0.15 s is a quarter of the way from the frame at 0.1 s to the one at 0.3 s.
    expected = 0.75 * decoded_in[1].astype(np.float64) + 0.25 * decoded_in[2].astype(np.float64)
    assert psnr(result.pictures[3], expected) >= 40


def test_start_time_is_kept(clip, tiny_model, tmp_path):
    start = Fraction(1)
    source = clip("in.mp4", times=[start + Fraction(i, 24) for i in range(5)], rate=Fraction(24))
    output = tmp_path / "out.mp4"
    upscale_file(source, output, factor=2, model=tiny_model)
    result = read_video(output)
    assert result.times == [start + Fraction(j, 48) for j in range(10)]


def test_held_drawings_are_found_and_interpolated_across(frames_clip, tmp_path):
    # Drawn on twos: every drawing is shown for two frames; only drawings are keys.
    drawings = [pattern_rgb24(index * 2, 64, 48) for index in range(4)]
    pictures = [drawings[i // 2] for i in range(8)]
    source = frames_clip("twos.mkv", pictures, [Fraction(i, 24) for i in range(8)], Fraction(24), pix_fmt="yuv444p")
    output = tmp_path / "out.mkv"
    summary = upscale(source, output, UpscaleSettings(factor=2), encode=LOSSLESS, backend=LinearBlendBackend())
    assert summary.keyframes == 4 and summary.holds == 4
    result = read_video(output).pictures
    decoded = read_video(source).pictures
    assert len(result) == 16
    # Output frame 2 (the held source frame 1) now sits halfway between drawings 0 and 1.
    expected = 0.5 * decoded[0].astype(np.float64) + 0.5 * decoded[2].astype(np.float64)
    assert psnr(result[2], expected) >= 40
    assert np.array_equal(result[0], decoded[0]) and np.array_equal(result[4], decoded[2])



@pytest.mark.parametrize("cadence, flow_scale, expected", [
    (CadenceSettings(), "auto", {"0.5": 3}),  # keys two frames apart: motion as at 2560 px, so halved
    (EVERY_FRAME, "auto", {"1": 7}),  # every frame a key: one frame apart, 1280 px needs no shrinking
    (CadenceSettings(), "1", {"1": 3}),  # a fixed --flow-scale is never overridden
])
def test_auto_flow_scale_treats_pairs_across_holds_as_wider(frames_clip, tmp_path, cadence, flow_scale, expected):
    drawings = [pattern_rgb24(index * 2, 1280, 16) for index in range(4)]
    pictures = [drawings[i // 2] for i in range(8)]
    source = frames_clip("twos.mkv", pictures, [Fraction(i, 24) for i in range(8)], Fraction(24), pix_fmt="yuv444p")
    backend = LinearBlendBackend()
    summary = upscale(source, tmp_path / "out.mkv", UpscaleSettings(factor=2, tail="hold"), ModelSettings(flow_scale=flow_scale),
                      encode=LOSSLESS, cadence=cadence, backend=backend)
    assert summary.pairs_by_flow_scale == expected
    job_scale = "1"  # 1280 px: auto means full size for pairs one frame apart
    assert {scale or job_scale for scale in backend.flow_scales} == set(expected)

def test_scene_cut_is_held_not_blended(frames_clip, tmp_path):
    shot_a = [pattern_rgb24(index, 64, 48) for index in range(4)]
    shot_b = [np.ascontiguousarray(255 - pattern_rgb24(index, 64, 48)[::-1, :, ::-1]) for index in range(4)]
    pictures = shot_a + shot_b
    source = frames_clip("cut.mkv", pictures, [Fraction(i, 24) for i in range(8)], Fraction(24), pix_fmt="yuv444p")
    output = tmp_path / "out.mkv"
    summary = upscale(source, output, UpscaleSettings(factor=4), encode=LOSSLESS, backend=LinearBlendBackend())
    assert summary.scene_cuts == 1
    result, decoded = read_video(output).pictures, read_video(source).pictures
    for step in range(4):  # the four output frames from the last frame of shot A to the first of shot B
        assert np.array_equal(result[12 + step], decoded[3])
    assert np.array_equal(result[16], decoded[4])


class OutOfMemoryAbovePairs(LinearBlendBackend):
    """Fails like a full GPU whenever a call has more than ``limit`` pairs."""

    def __init__(self, limit: int, device: str = "cpu") -> None:
        super().__init__()
        self.limit, self.device = limit, device
        self.default_batch_size = 4

    def interpolate(self, frames0, frames1, pair_index, timesteps, flow_scale=None):
        if frames0.shape[0] > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().interpolate(frames0, frames1, pair_index, timesteps, flow_scale)


def test_out_of_memory_halves_the_batch_and_finishes(frames_clip, tmp_path):
    pictures = [pattern_rgb24(index * 5, 64, 48) for index in range(10)]
    source = frames_clip("in.mkv", pictures, [Fraction(i, 24) for i in range(10)], Fraction(24))
    backend = OutOfMemoryAbovePairs(limit=1)
    warnings: list[str] = []
    summary = upscale(source, tmp_path / "out.mkv", UpscaleSettings(factor=2), cadence=EVERY_FRAME, backend=backend,
                      on_warning=warnings.append)
    assert summary.frames_out == 20
    assert any("batch size lowered to 1" in message for message in warnings)
    successful = [pairs for pairs, _ in backend.calls]
    assert successful and max(successful) == 1 and sum(successful) == 9


def test_out_of_memory_for_one_pair_on_the_gpu_falls_back_to_the_cpu(frames_clip, tmp_path, tiny_weights):
    pictures = [pattern_rgb24(index * 5, 64, 48) for index in range(4)]
    source = frames_clip("in.mkv", pictures, [Fraction(i, 24) for i in range(4)], Fraction(24))
    warnings: list[str] = []
    summary = upscale(
        source, tmp_path / "out.mkv", UpscaleSettings(factor=2), model=ModelSettings(backend="torch", weights=str(tiny_weights)),
        cadence=EVERY_FRAME, backend=OutOfMemoryAbovePairs(limit=0, device="cuda"), on_warning=warnings.append,
    )
    assert summary.frames_out == 8
    assert summary.backend.startswith("torch on cpu")
    assert any("continuing on the CPU" in message for message in warnings)


def test_out_of_memory_is_recognised_from_torch_and_onnxruntime_messages():
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert is_out_of_memory(RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for requested buffer of size 123"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_interrupt_leaves_no_output_and_stops_the_threads(clip, tmp_path):
    source = clip("in.mp4", frames=12)
    output = tmp_path / "out.mp4"
    threads_before = threading.active_count()

    def interrupt(progress) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        upscale(source, output, UpscaleSettings(factor=2), cadence=EVERY_FRAME, backend=LinearBlendBackend(), progress=interrupt)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.mp4"]
    assert threading.active_count() == threads_before


def test_single_frame_input_is_an_input_error(clip, tmp_path):
    source = clip("one.mp4", frames=1)
    with pytest.raises(InputError, match="needs at least 2 frames"):
        upscale(source, tmp_path / "out.mp4", backend=LinearBlendBackend())
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize(("options", "message"), [
    ({"factor": 1}, "at least 2"),
    ({"factor": 2.5}, "whole number"),
    ({"factor": 2, "fps": 60}, "not both"),
    ({"fps": "0"}, "positive"),
    ({"fps": "sixty"}, "cannot read frame rate"),
])
def test_bad_rate_options_are_option_errors(clip, tmp_path, options, message):
    with pytest.raises(OptionError, match=message):
        upscale_file(clip("in.mp4", frames=3), tmp_path / "out.mp4", **options)


def test_missing_weights_are_a_model_error_and_leave_nothing(clip, tmp_path):
    with pytest.raises(ModelError):
        upscale_file(clip("in.mp4", frames=3), tmp_path / "out.mp4", model=ModelSettings(weights=str(tmp_path / "none.safetensors")))
    assert not (tmp_path / "out.mp4").exists()


def _peak_memory(source: Path, output: Path) -> int:
    tracemalloc.start()
    try:
        upscale(source, output, UpscaleSettings(factor=2), encode=LOSSLESS, cadence=EVERY_FRAME, backend=LinearBlendBackend())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_video_length(clip, tmp_path):
    short = clip("short.mkv", frames=60, codec="ffv1", width=64, height=48)
    long = clip("long.mkv", frames=600, codec="ffv1", width=64, height=48)
    peak_short = _peak_memory(short, tmp_path / "short-out.mkv")
    peak_long = _peak_memory(long, tmp_path / "long-out.mkv")
    frame_bytes = 64 * 48 * 3 * 4  # one frame as float32, the largest form a queued frame takes
    # How full the bounded queues get depends on thread timing; more than that must not be kept.
    queue_slack = (DECODE_QUEUE_FRAMES + ENCODE_QUEUE_FRAMES + 8) * frame_bytes
    kept_if_leaking = 540 * frame_bytes // 2  # the 540 extra frames, even as uint16
    assert queue_slack < kept_if_leaking
    assert peak_long < peak_short + queue_slack


def test_interpolator_keeps_dtype_and_shape(tiny_model):
    interpolator = Interpolator(tiny_model)
    rng = np.random.default_rng(0)
    frame0 = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    frame1 = np.roll(frame0, 3, axis=1)
    middle = interpolator.interpolate(frame0, frame1, 0.5)
    assert middle.shape == frame0.shape and middle.dtype == np.uint8
    deep = interpolator.interpolate(frame0.astype(np.uint16) * 257, frame1.astype(np.uint16) * 257, 0.5)
    assert deep.dtype == np.uint16
    assert np.abs(deep.astype(np.int64) - middle.astype(np.int64) * 257).max() <= 257  # same picture, finer steps
    floating = interpolator.interpolate(frame0 / 255.0, frame1 / 255.0, 0.5)
    assert floating.dtype == np.float64 and 0 <= floating.min() and floating.max() <= 1
    assert np.array_equal(interpolator.interpolate(frame0, frame1, 0), frame0)
    assert np.array_equal(interpolator.interpolate(frame0, frame1, 1), frame1)


def test_interpolator_inbetweens_are_evenly_spaced_and_depend_on_t(tiny_model):
    interpolator = Interpolator(tiny_model)
    rng = np.random.default_rng(1)
    frame0 = rng.random((32, 48, 3))
    frame1 = rng.random((32, 48, 3))
    frames = interpolator.inbetweens(frame0, frame1, 3)
    assert len(frames) == 3
    for frame, t in zip(frames, (0.25, 0.5, 0.75)):
        assert np.allclose(frame, interpolator.interpolate(frame0, frame1, t), atol=1e-5)
    assert not np.allclose(frames[0], frames[2], atol=1e-3)
    assert interpolator.inbetweens(frame0, frame1, 0) == []


def test_interpolator_rejects_mismatched_frames(tiny_model):
    interpolator = Interpolator(tiny_model)
    with pytest.raises(InputError):
        interpolator.interpolate(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8), 0.5)
    with pytest.raises(OptionError):
        interpolator.interpolate(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8), 1.5)


def test_a_batch_copies_each_shared_key_once_and_keeps_its_pairs():
    from fpsboost.batching import KeyImage, stack_pairs

    keys = [KeyImage(index, Fraction(index), np.full((3, 4, 5), index, np.float32), None) for index in range(5)]
    chained = [(keys[0], keys[1]), (keys[1], keys[2]), (keys[2], keys[3])]
    frames0, frames1 = stack_pairs(chained)
    assert np.shares_memory(frames0, frames1)  # one stack of 4 keys, not two of 3
    assert frames0[:, 0, 0, 0].tolist() == [0, 1, 2] and frames1[:, 0, 0, 0].tolist() == [1, 2, 3]
    broken = [(keys[0], keys[1]), (keys[3], keys[4])]  # a cut between the pairs
    frames0, frames1 = stack_pairs(broken)
    assert frames0[:, 0, 0, 0].tolist() == [0, 3] and frames1[:, 0, 0, 0].tolist() == [1, 4]
    assert frames0.flags["C_CONTIGUOUS"] and frames1.flags["C_CONTIGUOUS"]


def test_large_frames_go_through_the_cpu_one_pair_per_call(frames_clip, tmp_path, monkeypatch):
    """On the CPU a call holds at most CPU_PIXELS_PER_CALL pixels per frame: frames above half of it go one
    pair per call (at 3840x2160 that took 55 s and 6.5 GB of RSS against 89 s and 9.8 GB with two); an
    explicit --batch-size is kept. The budget is shrunk here so that a tiny clip is "large"."""
    from fpsboost.backends import base

    pictures = [pattern_rgb24(index * 5, 64, 48) for index in range(6)]
    source = frames_clip("in.mkv", pictures, [Fraction(i, 24) for i in range(6)], Fraction(24), pix_fmt="yuv444p")
    runs = {}
    for name, budget, batch_size in (("small frames", 2 * 64 * 48, None), ("large frames", 2 * 64 * 48 - 1, None),
                                     ("asked for", 2 * 64 * 48 - 1, 2)):
        monkeypatch.setattr(base, "CPU_PIXELS_PER_CALL", budget)
        backend = LinearBlendBackend()
        upscale(source, tmp_path / f"{name}.mkv", UpscaleSettings(factor=2, tail="hold"), ModelSettings(batch_size=batch_size),
                encode=LOSSLESS, cadence=EVERY_FRAME, backend=backend)
        runs[name] = backend.calls
    assert max(pairs for pairs, _ in runs["small frames"]) == 2
    assert [pairs for pairs, _ in runs["large frames"]] == [1] * 5
    assert max(pairs for pairs, _ in runs["asked for"]) == 2
    assert sum(steps for _, steps in runs["large frames"]) == sum(steps for _, steps in runs["small frames"]) == 5
