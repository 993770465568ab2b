"""Chunks of one job (fpsboost.chunking, UpscaleJob.run_chunk, join_chunks): the joined chunks are the
single job's output, frame for frame and timestamp for timestamp, including at segment starts inside
a shot, across cuts, over held drawings and on variable-frame-rate input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import fpsboost.chunking as chunking
from fpsboost.backends import ModelSettings
from fpsboost.chunking import SegmentRule, VideoPlan, analyse_video, plan_chunks
from fpsboost.data.clips import ShotSpec, write_cel_video
from fpsboost.pipeline import UpscaleJob, UpscaleSettings
from fpsboost.timing import Keyframe
from fpsboost.video.reader import probe
from fpsboost.video.writer import EncodeSettings, join_chunks

from helpers_pipeline import psnr, read_video, stream_durations

LOSSLESS = EncodeSettings(codec="ffv1")


def run_in_chunks(source: Path, out: Path, settings: UpscaleSettings, model: ModelSettings, encode: EncodeSettings,
                  chunk_frames: int) -> list:
    plan = analyse_video(source, settings.output_rate)
    chunks = plan_chunks(VideoPlan.from_json(plan.to_json()), chunk_frames)
    parts = []
    for chunk in chunks:
        path = out.with_name(f"{out.stem}-chunk{chunk.number}{out.suffix}")
        job = UpscaleJob(source, path, settings, model, encode)
        summary = job.run_chunk(plan, chunk)
        assert summary.frames_out == chunk.output_frames
        parts.append((path, job.packet_times))
    join_chunks(parts, probe(source), plan.out_rate, out)
    return chunks


def test_segment_rule_starts_at_cuts_and_every_max_frames_inside_a_shot():
    rule = SegmentRule(max_frames=10)
    keys = [Keyframe(0, Fraction(0)), Keyframe(4, Fraction(4)), Keyframe(10, Fraction(10)), Keyframe(12, Fraction(12)),
            Keyframe(14, Fraction(14), cut_before=True), Keyframe(20, Fraction(20))]
    assert [rule.starts_segment(key) for key in keys] == [True, False, True, False, True, False]


def test_plan_survives_json_and_chunks_cover_every_key_and_output_frame(tmp_path, monkeypatch):
    monkeypatch.setattr(chunking, "SEGMENT_MAX_FRAMES", 12)
    source = write_cel_video(tmp_path / "in.mp4", [ShotSpec(1, 30, 2), ShotSpec(2, 14, 1)], audio=False)
    plan = analyse_video(source, UpscaleSettings(factor=2).output_rate)
    assert VideoPlan.from_json(plan.to_json()) == plan
    assert plan.frames == 44 and plan.scene_cuts == 1
    chunks = plan_chunks(plan, chunk_frames=10)
    assert len(chunks) >= 3
    assert [chunk.first for chunk in chunks[1:]] == [chunk.end for chunk in chunks[:-1]]
    assert chunks[0].first == 0 and chunks[-1].end == len(plan.keys)
    assert sum(chunk.source_frames for chunk in chunks) == 44
    assert sum(chunk.output_frames for chunk in chunks) == 88


@pytest.mark.parametrize("rate_options", [{"factor": 2}, {"fps": Fraction(60)}])
def test_chunks_join_into_the_single_jobs_frames_exactly(tmp_path, tiny_model, monkeypatch, rate_options):
    # Segments of 12 frames split the first shot (on twos) in the middle; the cut starts another.
    monkeypatch.setattr(chunking, "SEGMENT_MAX_FRAMES", 12)
    source = write_cel_video(tmp_path / "in.mp4", [ShotSpec(1, 30, 2), ShotSpec(2, 16, 3)], audio=True)
    settings = UpscaleSettings(**rate_options)
    single = UpscaleJob(source, tmp_path / "single.mkv", settings, tiny_model, LOSSLESS).run()
    chunks = run_in_chunks(source, tmp_path / "joined.mkv", settings, tiny_model, LOSSLESS, chunk_frames=10)
    assert len(chunks) >= 3
    expected, joined = read_video(tmp_path / "single.mkv"), read_video(tmp_path / "joined.mkv")
    assert len(joined.times) == single.frames_out == len(expected.times)
    assert joined.times == expected.times
    for picture, reference in zip(joined.pictures, expected.pictures):
        np.testing.assert_array_equal(picture, reference)
    assert stream_durations(tmp_path / "joined.mkv") == stream_durations(tmp_path / "single.mkv")


def test_chunks_of_a_variable_rate_clip_join_exactly(tmp_path, tiny_model, monkeypatch, frames_clip):
    monkeypatch.setattr(chunking, "SEGMENT_MAX_FRAMES", 6)
    times = [Fraction(i, 24) if i < 10 else Fraction(10, 24) + Fraction(i - 10, 12) for i in range(18)]
    pictures = [np.roll(np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (48, 1, 3)), 2 * i, axis=1) for i in range(18)]
    source = frames_clip("vfr.mkv", pictures, times, Fraction(24))
    settings = UpscaleSettings(fps=Fraction(48))
    UpscaleJob(source, tmp_path / "single.mkv", settings, tiny_model, LOSSLESS).run()
    run_in_chunks(source, tmp_path / "joined.mkv", settings, tiny_model, LOSSLESS, chunk_frames=4)
    expected, joined = read_video(tmp_path / "single.mkv"), read_video(tmp_path / "joined.mkv")
    assert joined.times == expected.times
    for picture, reference in zip(joined.pictures, expected.pictures):
        np.testing.assert_array_equal(picture, reference)


def test_default_codec_chunks_keep_times_and_quality(tmp_path, tiny_model, monkeypatch):
    # Lossy chunks are separate encodes (each its own GOP), so frames differ as two encodes do; the
    # joined file must be as close to the lossless frames as the single job's is.
    monkeypatch.setattr(chunking, "SEGMENT_MAX_FRAMES", 12)
    source = write_cel_video(tmp_path / "in.mp4", [ShotSpec(1, 30, 2), ShotSpec(2, 16, 3)], audio=True)
    settings = UpscaleSettings(factor=2)
    UpscaleJob(source, tmp_path / "lossless.mkv", settings, tiny_model, LOSSLESS).run()
    UpscaleJob(source, tmp_path / "single.mp4", settings, tiny_model, EncodeSettings()).run()
    run_in_chunks(source, tmp_path / "joined.mp4", settings, tiny_model, EncodeSettings(), chunk_frames=10)
    reference, single, joined = (read_video(tmp_path / name) for name in ("lossless.mkv", "single.mp4", "joined.mp4"))
    assert joined.times == single.times
    single_quality = np.mean([psnr(a, b) for a, b in zip(single.pictures, reference.pictures)])
    joined_quality = np.mean([psnr(a, b) for a, b in zip(joined.pictures, reference.pictures)])
    assert joined_quality > single_quality - 0.5
    durations = stream_durations(tmp_path / "joined.mp4")
    assert set(durations) == {"video", "audio"} and durations == stream_durations(tmp_path / "single.mp4")


def test_a_four_frame_networks_chunks_join_exactly(tmp_path, monkeypatch):
    """Motion from four frames needs the key after each pair: a chunk reads one key past its end."""
    import torch

    from fpsboost.models.interpolator import CelFlow
    from fpsboost.models.presets import save_weights
    from test_four_frame_motion import TINY_FOUR_FRAME

    torch.manual_seed(1)
    network = CelFlow(TINY_FOUR_FRAME)
    for name, parameter in network.named_parameters():
        if "head.out" in name:  # untrained, the acceleration trust would be the same everywhere: vary it
            parameter.data.normal_(0, 0.1)
    weights = tmp_path / "four-frame.safetensors"
    save_weights(network, weights, TINY_FOUR_FRAME.to_dict(), "test-four-frame")
    model = ModelSettings(backend="torch", device="cpu", weights=str(weights))
    monkeypatch.setattr(chunking, "SEGMENT_MAX_FRAMES", 12)
    source = write_cel_video(tmp_path / "in.mp4", [ShotSpec(1, 30, 2), ShotSpec(2, 16, 1)], audio=False)
    settings = UpscaleSettings(factor=2)
    UpscaleJob(source, tmp_path / "single.mkv", settings, model, LOSSLESS).run()
    chunks = run_in_chunks(source, tmp_path / "joined.mkv", settings, model, LOSSLESS, chunk_frames=10)
    assert len(chunks) >= 3
    expected, joined = read_video(tmp_path / "single.mkv"), read_video(tmp_path / "joined.mkv")
    assert joined.times == expected.times
    for picture, reference in zip(joined.pictures, expected.pictures):
        np.testing.assert_array_equal(picture, reference)
