"""Video I/O on tiny generated clips: probing, exact times, colour, atomic writing, audio/subtitle copy."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from fpsboost.errors import InputError, OptionError, OutputError
from fpsboost.video import EncodeSettings, VideoReader, VideoWriter, probe
from fpsboost.video.colour import frame_to_rgb16, rgb16_to_frame

from helpers_video import FFMPEG, add_subtitles_with_ffmpeg, make_clip

NTSC_FILM = Fraction(24000, 1001)
LOSSLESS = EncodeSettings(codec="ffv1")
SRT = "1\n00:00:00,100 --> 00:00:00,400\nHello\n\n2\n00:00:00,500 --> 00:00:00,900\n<i>World</i>\n"


def read_all(path: Path) -> tuple[list, Fraction, list[str]]:
    warnings: list[str] = []
    with VideoReader(path, on_warning=warnings.append) as reader:
        frames = list(reader)
    return frames, reader.end_time, warnings


def visible_samples(frame: av.VideoFrame) -> list[np.ndarray]:
    """Each plane's samples without line padding, as int arrays."""
    planes = []
    for index, plane in enumerate(frame.planes):
        components = [c for c in frame.format.components if c.plane == index]
        dtype = np.uint16 if components[0].bits > 8 else np.uint8
        item = np.dtype(dtype).itemsize
        rows = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // item)
        planes.append(rows[:, : plane.width * len(components)].astype(int))
    return planes


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else 10 * np.log10(65535.0**2 / error)


def copy_through(source: Path, output: Path, rate: Fraction | None = None, settings: EncodeSettings = LOSSLESS,
                 use_rgb: bool = False, warnings: list[str] | None = None) -> Path:
    """Read ``source`` and write every frame (original or its RGB) at its own time; with ``rate``
    given, each frame is written twice, at t and t + 1/rate."""
    info = probe(source)
    sink = warnings.append if warnings is not None else None
    with VideoReader(source) as reader, VideoWriter(output, info, rate or info.average_rate, settings, sink) as writer:
        for frame in reader:
            writer.write(frame.rgb if use_rgb else frame.source, frame.time)
            if rate is not None:
                writer.write(frame.rgb, frame.time + 1 / rate)
    return output


# -- probe and reading ---------------------------------------------------------------------------


def test_probe_reports_stream_facts(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=10, width=80, height=48, rate=NTSC_FILM, audio=True)
    info = probe(clip)
    assert (info.width, info.height, info.codec) == (80, 48, "h264")
    assert info.average_rate == NTSC_FILM
    assert info.start_time == 0
    assert info.duration == Fraction(10) / NTSC_FILM
    assert info.frame_count == 10
    assert (info.audio_streams, info.subtitle_streams) == (1, 0)
    assert info.colour.pix_fmt == "yuv420p" and info.colour.bit_depth == 8
    assert info.colour.matrix == "bt601"  # untagged SD
    assert info.colour.full_range is False
    assert "mp4" in info.container_format


def test_ntsc_film_timestamps_are_exact(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=30, rate=NTSC_FILM)
    frames, end_time, warnings = read_all(clip)
    assert [frame.time for frame in frames] == [Fraction(1001 * i, 24000) for i in range(30)]
    assert [frame.index for frame in frames] == list(range(30))
    assert end_time == Fraction(30 * 1001, 24000)
    assert warnings == []
    assert frames[0].rgb.shape == (48, 64, 3) and frames[0].rgb.dtype == np.uint16


def test_variable_frame_rate_keeps_real_timestamps(tmp_path: Path) -> None:
    times = [Fraction(ms, 1000) for ms in (0, 40, 120, 160, 300, 340, 380, 500)]
    clip = make_clip(tmp_path / "vfr.mkv", times=times, rate=Fraction(25), codec="ffv1")
    frames, end_time, _ = read_all(clip)
    assert [frame.time for frame in frames] == times
    assert end_time > times[-1]


def test_pattern_decodes_to_the_colours_drawn(tmp_path: Path) -> None:
    """An untagged 8-bit clip decodes (BT.601, limited) back to the RGB it was made from."""
    from helpers_video import pattern_rgb24

    clip = make_clip(tmp_path / "in.mkv", frames=2, codec="ffv1", pix_fmt="yuv444p")
    frames, _, _ = read_all(clip)
    drawn = pattern_rgb24(1, 64, 48).astype(np.float64) * 257
    assert psnr(frames[1].rgb, drawn) > 35


@pytest.mark.parametrize(
    ("matrix", "tag", "full_range"),
    [("bt709", 1, False), ("bt601", 6, True), ("bt2020", 9, False)],
)
def test_yuv_to_rgb_follows_declared_matrix_and_range(matrix: str, tag: int, full_range: bool) -> None:
    """A flat YUV colour decodes to the R'G'B' given by the textbook formula for that matrix and range."""
    weights = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114), "bt2020": (0.2627, 0.0593)}[matrix]
    y_code, cb_code, cr_code = 500, 400, 700  # 10-bit code values
    if full_range:
        y, cb, cr = y_code / 1023, (cb_code - 512) / 1023, (cr_code - 512) / 1023
    else:
        y, cb, cr = (y_code - 64) / 876, (cb_code - 512) / 896, (cr_code - 512) / 896
    kr, kb = weights
    red, blue = y + 2 * (1 - kr) * cr, y + 2 * (1 - kb) * cb
    green = (y - kr * red - kb * blue) / (1 - kr - kb)
    expected = np.clip(np.array([red, green, blue]), 0, 1) * 65535
    frame = av.VideoFrame(64, 16, "yuv420p10le")
    for plane, code in zip(frame.planes, (y_code, cb_code, cr_code)):
        np.frombuffer(plane, np.uint16)[:] = code
    rgb = frame_to_rgb16(frame, matrix, full_range)
    assert np.abs(rgb[5, 5].astype(float) - expected).max() <= 1.0
    back = rgb16_to_frame(rgb, "yuv420p10le", matrix, full_range)
    for plane, code in zip(back.planes, (y_code, cb_code, cr_code)):
        assert np.abs(np.frombuffer(plane, np.uint16).astype(int) - code).max() <= 1


def test_ten_bit_gradient_round_trips_with_more_than_8_bits(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in10.mkv", frames=3, width=1024, height=16, codec="ffv1",
                     pix_fmt="yuv444p10le", ten_bit_gradient=True)
    info = probe(clip)
    assert info.colour.bit_depth == 10
    frames, _, _ = read_all(clip)
    assert len(np.unique(frames[0].rgb[..., 1])) > 256
    output = copy_through(clip, tmp_path / "out10.mkv", use_rgb=True)
    assert probe(output).colour.pix_fmt == "yuv444p10le"
    with av.open(str(clip)) as original, av.open(str(output)) as copied:
        for before, after in zip(original.decode(video=0), copied.decode(video=0)):
            for plane_before, plane_after in zip(before.planes, after.planes):
                a = np.frombuffer(plane_before, np.uint16).astype(int)
                b = np.frombuffer(plane_after, np.uint16).astype(int)
                assert np.abs(a - b).max() <= 2
            assert len(np.unique(np.frombuffer(after.planes[0], np.uint16))) > 256


def test_ten_bit_420_x265_keeps_depth(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in10.mkv", frames=3, width=1024, height=32, codec="ffv1",
                     pix_fmt="yuv420p10le", ten_bit_gradient=True)
    settings = EncodeSettings(codec="libx265", options={"x265-params": "lossless=1:log-level=error"})
    output = copy_through(clip, tmp_path / "out10.mp4", settings=settings, use_rgb=True)
    assert probe(output).colour.pix_fmt == "yuv420p10le"
    original, _, _ = read_all(clip)
    copied, _, _ = read_all(output)
    assert len(np.unique(copied[0].rgb[..., 1])) > 256
    assert psnr(original[0].rgb, copied[0].rgb) > 60


# -- writing: exactness, timing, colour tags -----------------------------------------------------------


def test_original_frames_round_trip_losslessly(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mkv", frames=8, codec="ffv1", pix_fmt="yuv420p")
    output = copy_through(clip, tmp_path / "out.mkv")
    original, _, _ = read_all(clip)
    copied, _, _ = read_all(output)
    assert len(copied) == len(original)
    assert min(psnr(a.rgb, b.rgb) for a, b in zip(original, copied)) >= 45


def test_rgb_frames_through_x264_qp0_stay_above_45db(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=6, codec="libx264", options={"qp": "0"})
    settings = EncodeSettings(codec="libx264", options={"qp": "0"})
    output = copy_through(clip, tmp_path / "out.mp4", settings=settings, use_rgb=True)
    original, _, _ = read_all(clip)
    copied, _, _ = read_all(output)
    assert min(psnr(a.rgb, b.rgb) for a, b in zip(original, copied)) >= 45


def test_doubled_rate_keeps_duration_start_and_exact_times(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=24, rate=NTSC_FILM)
    rate = 2 * NTSC_FILM
    output = copy_through(clip, tmp_path / "out.mp4", rate=rate, settings=EncodeSettings(crf=18))
    info_in, info_out = probe(clip), probe(output)
    assert info_out.average_rate == rate
    assert info_out.frame_count == 48
    assert info_out.duration == info_in.duration
    assert info_out.start_time == info_in.start_time
    frames, end_time, _ = read_all(output)
    assert [frame.time for frame in frames] == [Fraction(j) / rate for j in range(48)]
    assert end_time == info_in.duration


def test_nonzero_start_time_is_kept(tmp_path: Path) -> None:
    times = [Fraction(1, 2) + Fraction(i, 24) for i in range(6)]
    clip = make_clip(tmp_path / "late.mkv", times=times, codec="ffv1")
    output = copy_through(clip, tmp_path / "out.mkv")
    frames, _, _ = read_all(output)
    assert frames[0].time == Fraction(1, 2)


def test_colour_tags_are_copied(tmp_path: Path) -> None:
    tags = {"colorspace": 1, "color_range": 2, "color_primaries": 1, "color_trc": 1}
    clip = make_clip(tmp_path / "in.mkv", frames=3, codec="ffv1", colour_tags=tags)
    info = probe(clip)
    assert (info.colour.matrix, info.colour.full_range) == ("bt709", True)
    assert (info.colour.primaries, info.colour.transfer) == ("bt709", "bt709")
    output = copy_through(clip, tmp_path / "out.mp4", settings=EncodeSettings(crf=10), use_rgb=True)
    out_colour = probe(output).colour
    assert (out_colour.colorspace_tag, out_colour.range_tag) == (1, 2)
    assert (out_colour.primaries, out_colour.transfer) == ("bt709", "bt709")
    original, _, _ = read_all(clip)
    copied, _, _ = read_all(output)
    assert psnr(original[0].rgb, copied[0].rgb) > 35


def test_default_pixel_format_follows_input_or_nearest(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mkv", frames=2, codec="ffv1", pix_fmt="yuv422p")
    info = probe(clip)
    with VideoWriter(tmp_path / "a.mp4", info, info.average_rate, EncodeSettings()) as writer:
        assert writer.pix_fmt == "yuv422p"
        writer.abort()
    with VideoWriter(tmp_path / "b.mp4", info, info.average_rate, EncodeSettings(codec="libsvtav1")) as writer:
        assert writer.pix_fmt == "yuv420p"
        writer.abort()


# -- audio and subtitles --------------------------------------------------------------------------


def _audio_summary(path: Path) -> tuple[str, Fraction, str | None]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        end = max(
            Fraction(p.pts + p.duration) * p.time_base for p in container.demux(stream) if p.pts is not None
        )
        return stream.codec_context.name, end, stream.metadata.get("language")


def test_audio_is_copied_with_language_and_duration(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=24, rate=NTSC_FILM, audio=True, audio_language="jpn")
    output = copy_through(clip, tmp_path / "out.mp4", rate=2 * NTSC_FILM, settings=EncodeSettings(crf=30))
    codec_in, end_in, _ = _audio_summary(clip)
    codec_out, end_out, language = _audio_summary(output)
    assert codec_out == codec_in == "aac"
    assert abs(end_out - end_in) <= Fraction(1024, 48000)
    assert language == "jpn"
    assert abs(end_out - probe(output).duration) <= Fraction(1024, 48000)
    with av.open(str(clip)) as a, av.open(str(output)) as b:
        packets_in = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        packets_out = [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
    assert packets_in == packets_out  # copied, not re-encoded


def test_audio_the_container_refuses_is_reencoded_with_warning(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mkv", frames=12, codec="ffv1", audio=True, audio_codec="pcm_u8")
    warnings: list[str] = []
    output = copy_through(clip, tmp_path / "out.mp4", settings=EncodeSettings(crf=30), warnings=warnings)
    codec_out, end_out, language = _audio_summary(output)
    assert codec_out == "aac"
    assert language == "jpn"
    assert abs(end_out - probe(clip).duration) <= Fraction(2048, 48000)
    assert any("pcm_u8" in message and "aac" in message for message in warnings)


needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is needed to author a subtitle track")


@needs_ffmpeg
@pytest.mark.parametrize("codec", ["srt", "ass"])
def test_text_subtitles_are_copied_into_mkv_with_language(tmp_path: Path, codec: str) -> None:
    video = make_clip(tmp_path / "plain.mkv", frames=24, codec="ffv1", audio=True)
    font = tmp_path / "Sign.ttf"
    font.write_bytes(bytes(range(256)) * 4)
    clip = add_subtitles_with_ffmpeg(video, tmp_path / "subs.mkv", SRT, language="eng", codec=codec, attachment=font)
    assert probe(clip).subtitle_streams == 1
    warnings: list[str] = []
    output = copy_through(clip, tmp_path / "out.mkv", rate=Fraction(48), warnings=warnings)
    assert warnings == []
    with av.open(str(clip)) as a, av.open(str(output)) as b:
        sub_in, sub_out = a.streams.subtitles[0], b.streams.subtitles[0]
        assert sub_out.codec_context.name == sub_in.codec_context.name
        assert sub_out.metadata.get("language") == "eng"
        assert sub_out.metadata.get("title") == "Signs"
        packets_in = [(bytes(p), p.pts * p.time_base) for p in a.demux(sub_in) if p.size]
        packets_out = [(bytes(p), p.pts * p.time_base) for p in b.demux(sub_out) if p.size]
        assert len(b.streams.audio) == 1
        attached = [stream for stream in b.streams if stream.type == "attachment"]
        assert [(s.metadata.get("filename"), s.data) for s in attached] == [("Sign.ttf", font.read_bytes())]
    assert packets_out == packets_in


@needs_ffmpeg
def test_srt_into_mp4_becomes_mov_text_with_warning(tmp_path: Path) -> None:
    video = make_clip(tmp_path / "plain.mkv", frames=24, codec="libx264", audio=True)
    clip = add_subtitles_with_ffmpeg(video, tmp_path / "subs.mkv", SRT, language="eng")
    warnings: list[str] = []
    output = copy_through(clip, tmp_path / "out.mp4", settings=EncodeSettings(crf=30), warnings=warnings)
    with av.open(str(output)) as container:
        stream = container.streams.subtitles[0]
        assert stream.codec_context.name == "mov_text"
        assert stream.metadata.get("language") == "eng"
        # mov_text fills the gaps between cues with empty samples (a 2-byte zero length).
        cues = [(p.pts * p.time_base, p.duration * p.time_base, bytes(p)[2:7]) for p in container.demux(stream) if p.size > 2]
    assert cues == [(Fraction(1, 10), Fraction(3, 10), b"Hello"), (Fraction(1, 2), Fraction(4, 10), b"World")]
    assert any("mov_text" in message for message in warnings)


# -- errors and cleanup ----------------------------------------------------------------------------


def test_missing_input_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        probe(tmp_path / "nope.mp4")


def test_text_file_is_not_a_video(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    with pytest.raises(InputError, match="not a video"):
        probe(text)


def test_audio_only_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(InputError, match="audio only"):
        probe(path)


@pytest.fixture
def small_clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "in.mp4", frames=4)


def test_output_equal_to_input_is_refused(small_clip: Path) -> None:
    info = probe(small_clip)
    same = small_clip.parent / "." / small_clip.name
    with pytest.raises(OutputError, match="is the input"):
        VideoWriter(same, info, Fraction(48), EncodeSettings(overwrite=True))


def test_existing_output_needs_overwrite(small_clip: Path, tmp_path: Path) -> None:
    info = probe(small_clip)
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="already exists"):
        VideoWriter(existing, info, Fraction(48), EncodeSettings())
    assert existing.read_bytes() == b"keep me"
    copy_through(small_clip, existing, settings=EncodeSettings(overwrite=True))
    assert probe(existing).frame_count == 4


def test_missing_output_directory_is_refused(small_clip: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "out.mp4", probe(small_clip), Fraction(48), EncodeSettings())


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write into read-only directories")
def test_unwritable_output_directory_is_refused(small_clip: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable"):
            VideoWriter(locked / "out.mp4", probe(small_clip), Fraction(48), EncodeSettings())
    finally:
        locked.chmod(0o700)


def test_unknown_codec_and_pixel_format_are_option_errors(small_clip: Path, tmp_path: Path) -> None:
    info = probe(small_clip)
    with pytest.raises(OptionError, match="unknown video encoder"):
        VideoWriter(tmp_path / "a.mp4", info, Fraction(48), EncodeSettings(codec="nosuchcodec"))
    with pytest.raises(OptionError, match="unknown pixel format"):
        VideoWriter(tmp_path / "b.mp4", info, Fraction(48), EncodeSettings(pix_fmt="yuv999p"))
    with pytest.raises(OptionError, match="cannot write pixel format"):
        VideoWriter(tmp_path / "c.mp4", info, Fraction(48), EncodeSettings(codec="libx264", pix_fmt="rgb24"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_inside_writer_leaves_no_file(small_clip: Path, tmp_path: Path, error: BaseException) -> None:
    info = probe(small_clip)
    target = tmp_path / "out.mp4"
    with pytest.raises(type(error)):
        with VideoReader(small_clip) as reader, VideoWriter(target, info, Fraction(48), EncodeSettings()) as writer:
            for frame in reader:
                writer.write(frame.source, frame.time)
                temp_files = [p for p in tmp_path.iterdir() if "fpsboost-tmp" in p.name]
                assert len(temp_files) == 1 and temp_files[0].suffix == ".mp4"
                assert temp_files[0].name.startswith(".out.mp4")
                assert not target.exists()
                raise error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_truncated_file_decodes_its_first_frames_with_one_warning(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "whole.mkv", frames=24, codec="libx264", width=96, height=64)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 6 // 10])
    frames, _, warnings = read_all(cut)
    assert 0 < len(frames) < 24
    assert len(warnings) == 1
    assert warnings[0] == (
        f"input is damaged after frame {len(frames)}; processing the {len(frames)} frames that decode"
    )


ASS_HEADER = (
    "[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n[V4+ Styles]\n"
    "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
    "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
    "MarginR, MarginV, Encoding\n"
    "Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
    "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)
LINGERING_EVENTS = [(Fraction(1, 10), Fraction(4, 10), "Hello"), (Fraction(1, 2), Fraction(4), "Still talking")]


def mux_subtitle_events(video: Path, output: Path, codec: str, events: list[tuple[Fraction, Fraction, str]]) -> Path:
    """Remux ``video`` into Matroska with a text subtitle track (``"subrip"`` or ``"ass"``) holding
    ``events`` as (start, end, text) in seconds; PyAV only. Each event goes in where the video reaches it."""
    time_base = Fraction(1, 1000)
    with av.open(str(video)) as source, av.open(str(output), "w") as target:
        video_in = source.streams.video[0]
        video_out = target.add_stream_from_template(video_in)
        subtitles = target.add_stream(codec)
        subtitles.codec_context.time_base = time_base
        subtitles.codec_context.subtitle_header = ASS_HEADER.encode()  # the encoders parse it; ass stores it
        subtitles.metadata["language"] = "eng"
        pending = []
        for order, (start, end, text) in enumerate(sorted(events)):
            payload = text if codec == "subrip" else f"{order},0,Default,,0,0,0,,{text}"
            packet = av.Packet(payload.encode())
            packet.stream = subtitles
            packet.time_base = time_base
            packet.pts = packet.dts = round(start / time_base)
            packet.duration = round((end - start) / time_base)
            pending.append((start, packet))
        for packet in source.demux(video_in):
            if not packet.size:
                continue
            while pending and packet.pts is not None and packet.pts * packet.time_base >= pending[0][0]:
                target.mux(pending.pop(0)[1])
            packet.stream = video_out
            target.mux(packet)
        for _, packet in pending:
            target.mux(packet)
    return output


@pytest.mark.parametrize("codec", ["subrip", "ass"])
def test_subtitle_event_running_past_the_last_frame_is_not_damage(tmp_path: Path, codec: str) -> None:
    video = make_clip(tmp_path / "plain.mkv", frames=24, width=64, height=48, rate=Fraction(24))
    clip = mux_subtitle_events(video, tmp_path / "subs.mkv", codec, LINGERING_EVENTS)
    with av.open(str(clip)) as container:
        assert container.streams.subtitles[0].codec_context.name in {"srt", "subrip", "ass", "ssa"}
        assert Fraction(container.duration, 1_000_000) >= 4 - Fraction(1, 100)  # the subtitle sets the file's length
    info = probe(clip)
    assert info.subtitle_streams == 1
    assert abs(info.duration - 1) <= Fraction(1, 24)
    assert info.frame_count == 24
    frames, end_time, warnings = read_all(clip)
    assert len(frames) == 24
    assert abs(end_time - 1) <= Fraction(1, 24)
    assert warnings == []


def test_truncated_file_with_lingering_subtitle_still_reports_damage(tmp_path: Path) -> None:
    video = make_clip(tmp_path / "plain.mkv", frames=24, codec="libx264", width=96, height=64)
    clip = mux_subtitle_events(video, tmp_path / "subs.mkv", "subrip", LINGERING_EVENTS)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 6 // 10])
    frames, _, warnings = read_all(cut)
    assert 0 < len(frames) < 24
    assert warnings == [
        f"input is damaged after frame {len(frames)}; processing the {len(frames)} frames that decode"
    ]


def test_file_with_no_decodable_frame_is_an_input_error(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "whole.mkv", frames=24, codec="libx264", width=96, height=64)
    with av.open(str(clip)) as container:
        first_packet_offset = next(p.pos for p in container.demux(video=0) if p.size)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(clip.read_bytes()[:first_packet_offset + 10])
    with pytest.raises(InputError):
        read_all(cut)


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv422p10le", "yuv444p", "gbrp10le", "rgb24", "gray"])
def test_rgb_yuv_round_trip_for_odd_sizes_and_layouts(pix_fmt: str) -> None:
    """RGB made from a frame converts back to the same samples (held frames survive RGB).

    Colours are kept moderate: a subsampled frame whose decoded RGB clips cannot come back.
    """
    from helpers_video import pattern_rgb24

    height, width = 37, 53
    rgb = (pattern_rgb24(3, width, height).astype(np.uint16) // 2 + 64) * 257
    frame = rgb16_to_frame(rgb, pix_fmt, "bt709", False)
    assert (frame.format.name, frame.width, frame.height) == (pix_fmt, width, height)
    decoded = frame_to_rgb16(frame, "bt709", False)
    again = rgb16_to_frame(decoded, pix_fmt, "bt709", False)
    for before, after in zip(visible_samples(frame), visible_samples(again)):
        assert np.abs(before - after).max() <= 1
    if pix_fmt in {"gbrp10le", "rgb24"}:
        assert np.abs(decoded.astype(int) - rgb).max() <= 65535 // 1023


def test_semi_planar_formats_convert_through_swscale_closely() -> None:
    """NV12 (hardware decoders) is re-packed by swscale, whose chroma filter differs slightly from ours."""
    from helpers_video import pattern_rgb24

    rgb = (pattern_rgb24(2, 54, 38).astype(np.uint16) // 2 + 64) * 257
    frame = rgb16_to_frame(rgb, "nv12", "bt709", False)
    assert frame.format.name == "nv12"
    assert psnr(frame_to_rgb16(frame, "bt709", False), rgb) > 30
    planar = rgb16_to_frame(rgb, "yuv420p", "bt709", False)
    # swscale picks its code path by CPU: 33.6 dB on the H100 machine's CPU, more on this 2-core one.
    assert psnr(frame_to_rgb16(frame, "bt709", False), frame_to_rgb16(planar, "bt709", False)) > 32


def test_nonsense_declared_average_rate_is_checked_against_timestamps(tmp_path: Path) -> None:
    """A remux that declares avg_frame_rate 24000 for a 23.976 fps stream still reads as 24000/1001."""
    source = tmp_path / "source.mp4"
    make_clip(source, frames=12, rate=Fraction(24000, 1001), audio=False)
    remuxed = tmp_path / "remuxed.mkv"
    with av.open(str(source)) as src, av.open(str(remuxed), "w") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    with av.open(str(remuxed)) as check:
        assert check.streams.video[0].average_rate != Fraction(24000, 1001)  # the file really is broken
    assert probe(remuxed).average_rate == Fraction(24000, 1001)



def _write_with_extra_streams(path: Path, rotation: int = 0, cover_art: bool = False, second_video: bool = False,
                              audio: bool = False) -> Path:
    """A 6-frame 64x48 clip with a display rotation, an attached picture (MP4), a second video
    stream and/or AAC audio."""
    with av.open(str(path), "w") as container:
        main = container.add_stream("libx264", rate=24)
        main.width, main.height, main.pix_fmt = 64, 48, "yuv420p"
        if rotation:
            main.set_display_rotation(rotation)
        extra = sound = None
        if second_video:
            extra = container.add_stream("libx264", rate=24)
            extra.width, extra.height, extra.pix_fmt = 32, 32, "yuv420p"
        if cover_art:
            art = container.add_stream("mjpeg", rate=1)
            art.width, art.height, art.pix_fmt = 16, 16, "yuvj420p"
            art.disposition = av.stream.Disposition.attached_pic
            picture = av.VideoFrame.from_ndarray(np.full((16, 16, 3), 200, np.uint8), format="rgb24").reformat(format="yuvj420p")
            container.mux(art.encode(picture))
            container.mux(art.encode(None))
        if audio:
            sound = container.add_stream("aac", rate=48000)
        for index in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), index * 30, np.uint8), format="rgb24")
            container.mux(main.encode(frame))
            if extra is not None:
                container.mux(extra.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")))
            if sound is not None:
                samples = av.AudioFrame.from_ndarray(np.zeros((1, 2000), np.float32), format="fltp", layout="mono")
                samples.sample_rate, samples.pts = 48000, index * 2000
                container.mux(sound.encode(samples))
        for stream in (main, extra, sound):
            if stream is not None:
                container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("audio", [False, True])  # with audio the encoded video is remuxed once more
def test_display_rotation_is_kept_so_a_phone_video_stays_upright(tmp_path: Path, audio: bool) -> None:
    source = _write_with_extra_streams(tmp_path / "phone.mp4", rotation=90, audio=audio)
    assert probe(source).rotation == 90
    output = copy_through(source, tmp_path / "out.mp4", settings=EncodeSettings())
    assert probe(output).rotation == 90 and probe(output).audio_streams == int(audio)
    assert probe(make_clip(tmp_path / "plain.mp4", frames=4)).rotation == 0


def test_dropped_cover_art_and_extra_video_streams_are_reported(tmp_path: Path) -> None:
    for name, options, count, fragment in (("art.mp4", {"cover_art": True}, (1, 0), "cover art"),
                                           ("two.mkv", {"second_video": True}, (0, 1), "1 more video stream")):
        source = _write_with_extra_streams(tmp_path / name, **options)
        info = probe(source)
        assert (info.attached_pictures, info.other_video_streams) == count
        warnings: list[str] = []
        output = copy_through(source, tmp_path / f"out-{name}", warnings=warnings)
        assert any(fragment in warning for warning in warnings), warnings
        with av.open(str(output)) as container:
            assert len(container.streams.video) == 1
