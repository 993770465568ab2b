"""Encode the output video at an exact constant rate, copy audio and subtitles, rename atomically.

Video is encoded into a hidden temporary file beside the target. On close, if the input has
audio or subtitle streams, a second hidden file is muxed from the encoded video and the input's
packets (copied unchanged where the container accepts the codec, else re-encoded: see
``_plan_stream``); the finished file is then renamed onto the target name. An exception or
``abort()`` removes every temporary file and leaves nothing under the target name.

With ``pad_audio`` (``fpsboost extrapolate``, whose video outlasts its input), each audio stream
is continued with encoded silence until the video ends, so the streams end together; the
input's own audio packets are still copied unchanged.
"""

from __future__ import annotations

import heapq
import math
import os
import secrets
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np

from ..errors import OptionError, OutputError
from .colour import (
    AVCOL_RANGE_JPEG,
    AVCOL_RANGE_MPEG,
    AVCOL_RANGE_UNSPECIFIED,
    is_full_range,
    nearest_pix_fmt,
    rgb16_to_frame,
    frame_to_rgb16,
)
from .reader import VideoInfo

WarningSink = Callable[[str], None]

DEFAULT_VIDEO_CODEC = "libx264"
_X264_CONTAINERS = {".mp4", ".mkv", ".mov", ".m4v"}
# Finest output time base we use: a common multiple of the input's and the output rate's grids
# when that stays below this denominator, else this many ticks per second.
_MAX_TIME_BASE_DENOMINATOR = 1_000_000
# Text subtitles in a container that refuses them are converted to the container's text format.
_TEXT_SUBTITLE_CODEC = {"mp4": "mov_text", "mov": "mov_text", "matroska": "subrip", "webm": "webvtt"}
_TEXT_SUBTITLE_CODECS = {"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text"}
_FALLBACK_AUDIO_CODECS = ("aac", "libopus", "opus", "libvorbis", "flac", "mp3", "libmp3lame")
_TEMP_MARKER = ".fpsboost-tmp-"
# Samples per silent frame for encoders without a fixed frame size (PCM).
_SILENCE_FRAME_SAMPLES = 1024


@dataclass(frozen=True)
class EncodeSettings:
    """How to encode the output video stream.

    ``codec`` None means libx264 for .mp4/.mkv/.mov (else the container's default);
    ``pix_fmt`` None means the input's pixel format when the encoder supports it, else the
    encoder's nearest; ``options`` are passed to the encoder unchanged.
    """

    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    overwrite: bool = False


def _temp_path(target: Path, suffix: str = "") -> Path:
    """Hidden name beside ``target`` that keeps its extension, so the muxer picks the same format."""
    token = secrets.token_hex(4)
    return target.with_name(f".{target.name}{_TEMP_MARKER}{token}{suffix}{target.suffix}")


def _remove(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _first_line(error: BaseException) -> str:
    text = str(error)
    return text.splitlines()[0] if text else type(error).__name__


def _validate_output(output: Path, source: VideoInfo, overwrite: bool) -> None:
    if output.resolve() == source.path.resolve() or (
        output.exists() and source.path.exists() and os.path.samefile(output, source.path)
    ):
        raise OutputError(f"output {output} is the input file; choose another name")
    if output.is_dir():
        raise OutputError(f"output {output} is a directory; give a file name such as out.mp4")
    if output.exists() and not overwrite:
        raise OutputError(f"output {output} already exists (use --overwrite to replace it)")
    directory = output.parent
    if not directory.is_dir():
        raise OutputError(f"output directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"output directory {directory} is not writable")
    if not output.suffix:
        raise OutputError(f"output {output} has no extension; use .mp4, .mkv or .mov")


def _encoder(name: str) -> av.codec.Codec:
    try:
        codec = av.codec.Codec(name, "w")
    except (av.codec.codec.UnknownCodecError, ValueError) as error:
        raise OptionError(f"unknown video encoder {name!r} (try libx264, libx265, libsvtav1 or ffv1)") from error
    if codec.type != "video":
        raise OptionError(f"{name!r} is a {codec.type} encoder, not a video encoder")
    return codec


# Encoders that refuse halved chroma (4:2:0, 4:2:2) at an odd width or height; tried in this PyAV
# build at 63x47: libx264 and libx265 fail, libsvtav1, ffv1, mpeg4 and libvpx-vp9 write it.
EVEN_CHROMA_SIZE_ENCODERS = frozenset({"libx264", "libx265"})


def _fits_frame_size(pix_fmt: str, width: int, height: int) -> bool:
    """Whether ``pix_fmt``'s chroma grid divides a ``width`` x ``height`` frame evenly."""
    fmt = av.VideoFormat(pix_fmt)
    return fmt.chroma_width(width) * 2 != width + 1 and fmt.chroma_height(height) * 2 != height + 1


def _pixel_format(settings: EncodeSettings, source: VideoInfo, codec: av.codec.Codec) -> str:
    supported = [fmt.name for fmt in (codec.video_formats or [])]
    size = f"{source.width}x{source.height}"
    even_only = codec.name in EVEN_CHROMA_SIZE_ENCODERS
    if settings.pix_fmt is not None:
        try:
            av.VideoFormat(settings.pix_fmt)
        except (ValueError, av.FFmpegError) as error:
            raise OptionError(f"unknown pixel format {settings.pix_fmt!r}") from error
        if supported and settings.pix_fmt not in supported:
            raise OptionError(
                f"encoder {codec.name} cannot write pixel format {settings.pix_fmt!r} "
                f"(it supports {', '.join(supported)})"
            )
        if even_only and not _fits_frame_size(settings.pix_fmt, source.width, source.height):
            raise OptionError(f"{codec.name} cannot write pixel format {settings.pix_fmt!r}, which halves the chroma, "
                              f"at an odd frame size; this video is {size} (try --pix-fmt yuv444p)")
        return settings.pix_fmt
    if not supported:
        return source.colour.pix_fmt
    # An odd-sized frame keeps its size: x264/x265 write its chroma at full resolution (4:4:4) instead.
    fitting = [name for name in supported if not even_only or _fits_frame_size(name, source.width, source.height)]
    return nearest_pix_fmt(source.colour.pix_fmt, fitting or supported)


def _output_time_base(source: VideoInfo, rate: Fraction) -> Fraction:
    """A time base on which the input's timestamps and every ``start + j / rate`` fall exactly."""
    denominator = math.lcm(source.start_time.denominator, rate.numerator, source.time_base.denominator)
    if denominator > _MAX_TIME_BASE_DENOMINATOR:
        return Fraction(1, _MAX_TIME_BASE_DENOMINATOR)
    return Fraction(1, denominator)


class VideoWriter:
    """Write frames at exact times into ``output_path``; use as a context manager.

    ``write`` takes ``[H, W, 3]`` uint16 RGB (0..65535) or an original ``av.VideoFrame`` (re-emitted
    without conversion when its pixel format is the output's). Leaving the ``with`` block normally
    finishes the file (``close``); an exception leaves nothing behind (``abort``). ``pad_audio``:
    continue each audio stream with silence until the last video frame ends.
    """

    def __init__(
        self,
        output_path: str | Path,
        source: VideoInfo,
        rate: Fraction,
        settings: EncodeSettings,
        on_warning: WarningSink | None = None,
        pad_audio: bool = False,
    ) -> None:
        self.output_path = Path(output_path)
        self.pad_audio = pad_audio
        self.source = source
        self.rate = Fraction(rate)
        self.settings = settings
        self.on_warning = on_warning or (lambda message: None)
        if self.rate <= 0:
            raise OptionError(f"output frame rate must be positive, got {rate}")
        _validate_output(self.output_path, source, settings.overwrite)
        if source.other_video_streams:
            self.on_warning(f"{source.other_video_streams} more video stream(s) in the input are not written: "
                            f"only stream #{source.video_stream_index} is converted")
        if source.attached_pictures:
            self.on_warning("the input's cover art (an attached picture) is not copied to the output")
        codec_name = settings.codec or (
            DEFAULT_VIDEO_CODEC if self.output_path.suffix.lower() in _X264_CONTAINERS else None
        )
        codec = _encoder(codec_name) if codec_name else None
        self.pix_fmt = _pixel_format(settings, source, codec) if codec else source.colour.pix_fmt
        self._temp: Path | None = _temp_path(self.output_path)
        self._mux_temp: Path | None = None
        self._finished = False
        self._last_pts: int | None = None
        self.frames_written = 0
        # (pts, dts) of every video packet in the order muxed, in ``time_base``: exact, whatever the
        # container rounds them to (a chunk's join restores them, see join_chunks).
        self.packet_times: list[tuple[int, int]] = []
        try:
            self._container = av.open(str(self._temp), mode="w")
        except (av.FFmpegError, ValueError, OSError) as error:
            _remove(self._temp)
            raise OutputError(
                f"cannot write {self.output_path}: unknown container format {self.output_path.suffix!r} "
                "(use .mp4, .mkv or .mov)"
            ) from error
        try:
            codec_name = codec_name or self._container.default_video_codec
            if codec is None:
                codec = _encoder(codec_name)
                self.pix_fmt = _pixel_format(settings, source, codec)
            self._check_container_accepts(codec_name)
            self._stream = self._add_video_stream(codec_name)
            self._start(codec_name)
        except BaseException:
            self._close_container()
            _remove(self._temp)
            raise
        self.codec = codec_name
        colour = source.colour
        self._full_range = is_full_range(self._range_tag(), self.pix_fmt)
        self._matrix = colour.matrix if colour.matrix != "rgb" else ("bt601" if source.height < 720 else "bt709")
        self._frame_ticks = round((1 / self.rate) / self.time_base)

    # -- set-up ---------------------------------------------------------------------------

    def _check_container_accepts(self, codec_name: str) -> None:
        codec_id_name = av.codec.Codec(codec_name, "w").name
        supported = self._container.supported_codecs
        descriptor = av.codec.Codec(codec_name, "w")
        if codec_id_name not in supported and descriptor.canonical_name not in supported:
            raise OptionError(
                f"the {self.output_path.suffix} container cannot hold {codec_name} video; "
                "choose another codec or use .mkv"
            )

    def _start(self, codec_name: str) -> None:
        """Open the encoder and create the file now, so bad options or paths fail before any work."""
        try:
            self._container.start_encoding()
        except PermissionError as error:
            raise OutputError(f"cannot write {self.output_path}: permission denied") from error
        except OSError as error:  # file-system errors, including FFmpeg's ENOENT/EISDIR/ENOSPC
            raise OutputError(f"cannot write {self.output_path}: {_first_line(error)}") from error
        except (av.FFmpegError, ValueError) as error:
            raise OptionError(f"cannot start encoder {codec_name} with these settings ({_first_line(error)})") from error

    def _range_tag(self) -> int:
        """Output colour range: the input's; untagged input keeps its implied range, tagged explicitly."""
        colour = self.source.colour
        if colour.matrix == "rgb" or av.VideoFormat(self.pix_fmt).is_rgb:
            return AVCOL_RANGE_JPEG if av.VideoFormat(self.pix_fmt).is_rgb else colour.range_tag
        if colour.range_tag != AVCOL_RANGE_UNSPECIFIED:
            return colour.range_tag
        return AVCOL_RANGE_JPEG if colour.full_range else AVCOL_RANGE_UNSPECIFIED

    def _add_video_stream(self, codec_name: str) -> av.video.stream.VideoStream:
        settings = self.settings
        options = dict(settings.options)
        if settings.crf is not None:
            options.setdefault("crf", str(settings.crf))
        if settings.preset is not None:
            options.setdefault("preset", settings.preset)
        try:
            stream = self._container.add_stream(codec_name, rate=self.rate, options=options)
        except (av.FFmpegError, ValueError) as error:
            raise OptionError(f"cannot use encoder {codec_name}: {error}") from error
        self.time_base = _output_time_base(self.source, self.rate)
        context = stream.codec_context
        context.width = self.source.width
        context.height = self.source.height
        context.pix_fmt = self.pix_fmt
        context.time_base = self.time_base
        stream.time_base = self.time_base
        colour = self.source.colour
        context.color_range = self._range_tag()
        if colour.matrix != "rgb" and not av.VideoFormat(self.pix_fmt).is_rgb:
            context.colorspace = colour.colorspace_tag
        context.color_primaries = colour.primaries_tag
        context.color_trc = colour.transfer_tag
        if self.source.colour.full_range is False and context.color_range == AVCOL_RANGE_UNSPECIFIED:
            context.color_range = AVCOL_RANGE_MPEG if not av.VideoFormat(self.pix_fmt).is_rgb else 0
        if self.source.rotation:  # a phone video stays upright: the frames are written as decoded, turned on display
            stream.set_display_rotation(self.source.rotation)
        return stream

    # -- writing ---------------------------------------------------------------------------

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, traceback: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: np.ndarray | av.VideoFrame, time: Fraction) -> None:
        """Encode one frame shown from ``time`` seconds (exact) until the next frame's time.

        ``frame``: ``[H, W, 3]`` uint16 RGB full range, or an original decoded ``av.VideoFrame``.
        """
        if self._finished:
            raise RuntimeError("write() after close() or abort()")
        pts = round(Fraction(time) / self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(f"frame time {time} is not after the previous frame's")
        output = self._prepare(frame)
        output.pts = pts
        output.time_base = self.time_base
        output.duration = self._frame_ticks
        self._mux(self._stream.encode(output))
        self._last_pts = pts
        self.frames_written += 1

    def _prepare(self, frame: np.ndarray | av.VideoFrame) -> av.VideoFrame:
        width, height = self.source.width, self.source.height
        if isinstance(frame, av.VideoFrame):
            if frame.format.name == self.pix_fmt and (frame.width, frame.height) == (width, height):
                return frame
            frame = frame_to_rgb16(frame, self.source.colour.matrix, self.source.colour.full_range)
        if frame.shape != (height, width, 3):
            raise ValueError(f"expected a [{height}, {width}, 3] frame, got {list(frame.shape)}")
        return rgb16_to_frame(frame, self.pix_fmt, self._matrix, self._full_range)

    def _mux(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            packet.duration = round((1 / self.rate) / packet.time_base) if packet.time_base else 0
            if packet.size:
                self.packet_times.append((packet.pts, packet.dts))
            self._container.mux(packet)

    # -- finishing -------------------------------------------------------------------------

    def close(self) -> None:
        """Flush the encoder, copy audio and subtitles, and move the file to its final name."""
        if self._finished:
            return
        try:
            if self.frames_written == 0:
                raise OutputError(f"no frames were written to {self.output_path}")
            self._mux(self._stream.encode(None))
            self._close_container()
            final = self._temp
            if self.source.audio_streams or self.source.subtitle_streams:
                self._mux_temp = _temp_path(self.output_path, "-mux")
                video_end = (self._last_pts + self._frame_ticks) * self.time_base if self.pad_audio else None
                _remux(self._temp, self.source, self._mux_temp, self.on_warning, video_end)
                _remove(self._temp)
                final = self._mux_temp
            os.replace(final, self.output_path)
            self._temp = self._mux_temp = None
            self._finished = True
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Stop and delete every temporary file; nothing appears under the output name."""
        self._finished = True
        self._close_container()
        _remove(self._temp)
        _remove(self._mux_temp)
        self._temp = self._mux_temp = None

    def _close_container(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            self._container = None
            try:
                container.close()
            except av.FFmpegError:
                pass


# -- audio and subtitle remux ------------------------------------------------------------------


@dataclass
class _StreamPlan:
    """What happens to one input audio/subtitle stream: copied, re-encoded to ``codec``, or dropped."""

    source: av.stream.Stream
    action: str  # "copy" | "transcode"
    codec: str | None = None


def _plan_stream(stream: av.stream.Stream, output: av.container.OutputContainer, warn: WarningSink) -> _StreamPlan | None:
    """Copy when the output container accepts the codec; else re-encode to one it accepts; else drop.

    Audio falls back to AAC (or the first of opus/vorbis/flac/mp3 the container accepts); text
    subtitles to the container's text format (mov_text in MP4/MOV, SubRip in Matroska); bitmap
    subtitles that the container refuses are dropped. Each fallback is reported.
    """
    name = stream.codec_context.name
    label = _describe(stream)
    supported = output.supported_codecs
    if name in supported:
        return _StreamPlan(stream, "copy")
    container_name = output.format.name.split(",")[0]
    if stream.type == "audio":
        for candidate in _FALLBACK_AUDIO_CODECS:
            if candidate in supported and _has_encoder(candidate):
                warn(f"{label}: {name} audio cannot go into {container_name}; re-encoding it to {candidate}")
                return _StreamPlan(stream, "transcode", candidate)
        warn(f"{label}: {name} audio cannot go into {container_name} and no fallback encoder exists; dropped")
        return None
    target = _TEXT_SUBTITLE_CODEC.get(container_name)
    if name in _TEXT_SUBTITLE_CODECS and target and target in supported and _has_encoder(target):
        warn(f"{label}: {name} subtitles cannot go into {container_name}; converting them to {target}")
        return _StreamPlan(stream, "transcode", target)
    warn(f"{label}: {name} subtitles cannot go into {container_name}; dropped (use .mkv to keep them)")
    return None


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        return False
    return True


def _describe(stream: av.stream.Stream) -> str:
    language = stream.metadata.get("language")
    return f"{stream.type} stream {stream.index}" + (f" ({language})" if language else "")


def _remux(video_path: Path, source: VideoInfo, output_path: Path, warn: WarningSink,
           pad_audio_until: Fraction | None = None) -> None:
    """Mux the encoded video with the input's audio/subtitles into ``output_path``.

    ``pad_audio_until``: seconds (input timeline) to which each audio stream is continued with
    silence, or None.

    If muxing with subtitles fails, try again without them; if it fails with audio too, keep the
    video alone. Each step back is reported: finished video is never thrown away here.
    """
    attempts: list[tuple[str, ...]] = [("audio", "subtitle")]
    if source.subtitle_streams:
        attempts.append(("audio",))
    if source.audio_streams:
        attempts.append(())
    for kinds in attempts:
        notes: list[str] = []
        try:
            _remux_once(video_path, source, output_path, kinds, notes.append, pad_audio_until)
        except Exception as error:  # any failure here must not cost the finished video
            _remove(output_path)
            dropped = "subtitles" if "subtitle" in kinds and source.subtitle_streams else "audio"
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            warn(f"could not mux the {dropped} ({reason}); writing the output without {dropped}")
            continue
        for note in notes:
            warn(note)
        return
    raise OutputError(f"could not write {output_path.name}")


def _remux_once(
    video_path: Path, source: VideoInfo, output_path: Path, kinds: tuple[str, ...], warn: WarningSink,
    pad_audio_until: Fraction | None = None,
) -> None:
    with av.open(str(video_path)) as video_in, av.open(str(source.path)) as media_in, av.open(
        str(output_path), mode="w"
    ) as output:
        video_src = video_in.streams.video[0]
        video_out = output.add_stream_from_template(video_src)
        video_out.time_base = video_src.time_base
        if source.rotation:
            video_out.set_display_rotation(source.rotation)
        plans: dict[int, tuple[_StreamPlan, av.stream.Stream]] = {}
        for stream in media_in.streams:
            if stream.type not in kinds:
                continue
            plan = _plan_stream(stream, output, warn)
            if plan is None:
                continue
            plans[stream.index] = (plan, _add_copy_stream(output, plan))
        if any(plan.source.type == "subtitle" for plan, _ in plans.values()):
            _copy_attachments(media_in, output, warn)
        encoders = {index: _Transcoder(plan, out) for index, (plan, out) in plans.items() if plan.action == "transcode"}
        media_streams = [plan.source for plan, _ in plans.values()]
        video_packets = ((packet, video_out) for packet in video_in.demux(video_src))
        media_packets = (
            (packet, plans[packet.stream.index][1]) for packet in (media_in.demux(media_streams) if media_streams else [])
        )
        audio_ends: dict[int, Fraction] = {}  # out stream index -> end of its last packet, seconds

        def mux(packets: list[av.Packet], out_stream: av.stream.Stream) -> None:
            for packet in packets:
                packet.stream = out_stream
                if out_stream.type == "audio" and packet.pts is not None and packet.time_base is not None:
                    end = (packet.pts + (packet.duration or 0)) * packet.time_base
                    audio_ends[out_stream.index] = max(end, audio_ends.get(out_stream.index, end))
                output.mux(packet)

        for packet, out_stream in heapq.merge(video_packets, media_packets, key=_packet_time):
            if packet.size == 0:
                continue
            transcoder = encoders.get(packet.stream.index) if out_stream is not video_out else None
            mux(transcoder.convert(packet) if transcoder is not None else [packet], out_stream)
        for index, transcoder in encoders.items():
            mux(transcoder.flush(), plans[index][1])
        if pad_audio_until is not None:
            for plan, out_stream in plans.values():
                start = audio_ends.get(out_stream.index)
                if plan.source.type == "audio" and start is not None and start < pad_audio_until:
                    codec = plan.codec or plan.source.codec_context.name
                    if not _has_encoder(codec):
                        warn(f"{_describe(plan.source)}: no {codec} encoder to pad the tail with silence; the audio ends early")
                        continue
                    mux(_silence_packets(codec, plan.source.codec_context, start, pad_audio_until), out_stream)


def _silence_packets(codec: str, like: av.codec.context.CodecContext, start: Fraction, end: Fraction) -> list[av.Packet]:
    """Encoded silence in ``codec`` with ``like``'s sample rate and channels, from ``start`` to
    (at least) ``end`` seconds; packets timed in 1/sample_rate from ``start``."""
    rate = like.sample_rate
    encoder = av.CodecContext.create(codec, "w")
    encoder.sample_rate = rate
    encoder.layout = av.AudioLayout(f"{len(like.layout.channels)}c")
    formats = [fmt.name for fmt in (av.codec.Codec(codec, "w").audio_formats or [])]
    encoder.format = like.format.name if not formats or like.format.name in formats else formats[0]
    encoder.time_base = Fraction(1, rate)
    encoder.open()
    frame_samples = encoder.frame_size or _SILENCE_FRAME_SAMPLES
    needed = math.ceil((end - start) * rate)
    packets: list[av.Packet] = []
    for first in range(0, needed, frame_samples):
        frame = av.AudioFrame(format=encoder.format.name, layout=encoder.layout.name, samples=frame_samples)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate, frame.pts, frame.time_base = rate, first, Fraction(1, rate)
        packets.extend(encoder.encode(frame))
    packets.extend(encoder.encode(None))
    packets = [packet for packet in packets if packet.pts is not None]
    # Encoders with a start-up delay (AAC's priming) stamp their first packets before 0: shift so
    # the silence starts where the copied audio stopped, and drop what would start after ``end``.
    first_pts = min((packet.pts for packet in packets), default=0)
    offset = round(start * rate) - first_pts
    kept = []
    for packet in packets:
        packet.pts += offset
        packet.dts = packet.pts
        packet.time_base = Fraction(1, rate)
        if Fraction(packet.pts, rate) < end:
            kept.append(packet)
    return kept


def _copy_attachments(media_in: av.container.InputContainer, output: av.container.OutputContainer, warn: WarningSink) -> None:
    """Copy attached files (the fonts ASS subtitles are styled with) where the container keeps them."""
    attachments = [stream for stream in media_in.streams if stream.type == "attachment"]
    if not attachments:
        return
    if "matroska" not in output.format.name:
        warn(f"{len(attachments)} attached file(s) (subtitle fonts) cannot go into {output.format.name}; use .mkv to keep them")
        return
    for stream in attachments:
        name = stream.metadata.get("filename") or f"attachment-{stream.index}"
        output.add_attachment(name, stream.metadata.get("mimetype") or "application/octet-stream", stream.data)


def _packet_time(item: tuple[av.Packet, av.stream.Stream]) -> float:
    packet = item[0]
    stamp = packet.dts if packet.dts is not None else packet.pts
    if stamp is None or packet.time_base is None:
        return -math.inf
    return float(stamp * packet.time_base)


def _add_copy_stream(output: av.container.OutputContainer, plan: _StreamPlan) -> av.stream.Stream:
    source = plan.source
    if plan.action == "copy":
        stream = output.add_stream_from_template(source)
        stream.time_base = source.time_base
    elif source.type == "audio":
        context = source.codec_context
        stream = output.add_stream(plan.codec, rate=context.sample_rate)
        # Encoders refuse layouts without a channel order ("2 channels"): use the default order.
        stream.codec_context.layout = av.AudioLayout(f"{len(context.layout.channels)}c")
        formats = av.codec.Codec(plan.codec, "w").audio_formats or []
        if formats and context.format.name not in {fmt.name for fmt in formats}:
            stream.codec_context.format = formats[0].name
        stream.time_base = Fraction(1, context.sample_rate)
    else:
        stream = output.add_stream(plan.codec)
        source.codec_context.open(strict=False)  # the decoder fills in the ASS header the encoder needs
        header = source.codec_context.subtitle_header
        if header:
            stream.codec_context.subtitle_header = header
        stream.time_base = source.time_base
    for key, value in source.metadata.items():
        if key.lower() in {"language", "title", "handler_name"}:
            stream.metadata[key] = value
    stream.disposition = source.disposition
    return stream


class _Transcoder:
    """Re-encodes one audio or text-subtitle stream whose codec the output container refuses."""

    def __init__(self, plan: _StreamPlan, out_stream: av.stream.Stream) -> None:
        self.source = plan.source
        self.out_stream = out_stream

    def convert(self, packet: av.Packet) -> list[av.Packet]:
        if self.source.type == "audio":
            packets: list[av.Packet] = []
            for frame in packet.decode():
                frame.pts = None if frame.pts is None else frame.pts
                packets.extend(self.out_stream.encode(frame))
            return packets
        subtitle = self.source.codec_context.decode2(packet)
        if subtitle is None:
            return []
        encoded = self.out_stream.codec_context.encode_subtitle(subtitle)
        encoded.pts = packet.pts
        encoded.dts = packet.pts
        encoded.duration = packet.duration
        encoded.time_base = packet.time_base
        encoded.stream = self.out_stream
        return [encoded]

    def flush(self) -> list[av.Packet]:
        if self.source.type == "audio":
            return list(self.out_stream.encode(None))
        return []



# -- joining chunks ----------------------------------------------------------------------------


def join_chunks(parts: list[tuple[Path, list[tuple[int, int]]]], source: VideoInfo, rate: Fraction,
                output_path: str | Path, on_warning: WarningSink | None = None, overwrite: bool = False) -> None:
    """Join chunk files into ``output_path`` by stream copy, then add the source's audio and subtitles.

    ``parts``: each chunk's video-only file (written by :class:`VideoWriter` at the job's exact times)
    and its ``packet_times``, the exact ``(pts, dts)`` of its packets in the output time base
    (:func:`_output_time_base`), which replace what the chunk's container rounded them to. Decoding
    timestamps are nudged forward where a chunk's first packets (B-frame reordering) would reach back
    into the previous chunk. As with :class:`VideoWriter`, nothing appears under ``output_path``
    unless the whole file is written.
    """
    output_path = Path(output_path)
    warn = on_warning or (lambda message: None)
    _validate_output(output_path, source, overwrite)
    time_base = _output_time_base(source, rate)
    frame_ticks = round((1 / Fraction(rate)) / time_base)
    video_temp, mux_temp = _temp_path(output_path), None
    try:
        with av.open(str(parts[0][0])) as first:
            template = first.streams.video[0]
            with av.open(str(video_temp), mode="w") as output:
                stream = output.add_stream_from_template(template)
                stream.time_base = time_base
                if source.rotation:
                    stream.set_display_rotation(source.rotation)
                last_dts: int | None = None
                for path, times in parts:
                    with av.open(str(path)) as chunk:
                        packets = [packet for packet in chunk.demux(chunk.streams.video[0]) if packet.size]
                        if len(packets) != len(times):
                            raise OutputError(f"chunk {path.name} holds {len(packets)} packets, its record {len(times)}")
                        for packet, (pts, dts) in zip(packets, times):
                            if last_dts is not None and dts <= last_dts:
                                dts = last_dts + 1
                            if dts > pts:
                                raise OutputError(f"cannot join chunk {path.name}: its decoding order reaches too far back")
                            packet.pts, packet.dts, packet.time_base = pts, dts, time_base
                            packet.duration = frame_ticks
                            packet.stream = stream
                            output.mux(packet)
                            last_dts = dts
        final = video_temp
        if source.audio_streams or source.subtitle_streams:
            mux_temp = _temp_path(output_path, "-mux")
            _remux(video_temp, source, mux_temp, warn)
            _remove(video_temp)
            final = mux_temp
        os.replace(final, output_path)
    except BaseException:
        _remove(video_temp)
        _remove(mux_temp)
        raise
