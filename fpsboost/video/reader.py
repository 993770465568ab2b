"""Probe and decode the input video: exact timestamps, declared colour, 16-bit RGB frames.

Decoding runs in the caller's thread (the pipeline puts it on its own thread). Times are exact
``Fraction`` seconds (``pts * time_base``); nothing is accumulated except for frames whose
timestamp is missing, which get the previous frame's time plus its duration.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import av
import numpy as np

from ..errors import InputError
from .colour import (
    AVCOL_RANGE_UNSPECIFIED,
    AVCOL_SPC_UNSPECIFIED,
    bit_depth,
    frame_to_rgb16,
    is_full_range,
    matrix_for,
)

WarningSink = Callable[[str], None]

# How many of the last inter-frame gaps estimate the last frame's duration when the container
# does not say it.
_END_GAP_SAMPLES = 8
# Decoding that stops this many frame intervals before the declared duration means the file is damaged.
_TRUNCATION_TOLERANCE_FRAMES = 2
_AV_TIME_BASE = 1_000_000
# A Matroska DURATION tag: HH:MM:SS.nnnnnnnnn
_CLOCK = re.compile(r"(\d+):([0-5]?\d):([0-5]?\d(?:\.\d+)?)")
_AVCOL_PRI_UNSPECIFIED = 2
_AVCOL_TRC_UNSPECIFIED = 2


@dataclass(frozen=True)
class ColourInfo:
    """How the stream's samples encode colour, and the tags to copy to the output.

    ``matrix`` is what the stream declares; untagged streams get bt601 below 720 lines and bt709
    otherwise (as players do); ``"rgb"`` for RGB pixel formats. The ``*_tag`` fields hold the raw
    FFmpeg enum values (AVColorSpace, AVColorRange, AVColorPrimaries, AVColorTransferCharacteristic;
    2 / 0 mean unspecified) so the writer can copy them unchanged.
    """

    pix_fmt: str
    bit_depth: int
    matrix: str
    full_range: bool
    primaries: str | None
    transfer: str | None
    colorspace_tag: int = AVCOL_SPC_UNSPECIFIED
    range_tag: int = AVCOL_RANGE_UNSPECIFIED
    primaries_tag: int = _AVCOL_PRI_UNSPECIFIED
    transfer_tag: int = _AVCOL_TRC_UNSPECIFIED


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` learns about a file. Times in seconds, rates in frames per second."""

    path: Path
    container_format: str
    codec: str
    width: int
    height: int
    time_base: Fraction
    average_rate: Fraction
    start_time: Fraction
    duration: Fraction | None
    frame_count: int | None
    colour: ColourInfo
    audio_streams: int
    subtitle_streams: int
    video_stream_index: int = 0  # index of the decoded stream among all streams of the file
    rotation: int = 0  # degrees the picture is turned for display (its display matrix; PyAV's frame.rotation)
    attached_pictures: int = 0  # cover art: video streams of one still picture
    other_video_streams: int = 0  # further real video streams, besides the one decoded


@dataclass
class DecodedFrame:
    """One decoded frame in presentation order.

    ``rgb`` is ``[H, W, 3]`` uint16, full range 0..65535 (10-bit input keeps its bits);
    ``source`` is the decoded frame itself, for re-emitting originals exactly.
    """

    index: int
    time: Fraction
    duration: Fraction | None
    rgb: np.ndarray
    source: av.VideoFrame


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    if path.is_dir():
        raise InputError(f"input is a directory, not a video file: {path}")
    try:
        return av.open(str(path), mode="r")
    except PermissionError as error:
        raise InputError(f"cannot read {path}: permission denied") from error
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read {path}: not a video file or damaged ({_reason(error)})") from error


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return text.splitlines()[0] if text else type(error).__name__


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The first real video stream (cover art attached to audio files does not count)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    if container.streams.audio:
        raise InputError(f"{path} is audio only: it has no video stream")
    raise InputError(f"{path} has no video stream")


def _tag_name(enum_type: type, value: int) -> str | None:
    try:
        member = enum_type(value)
    except ValueError:
        return None
    return None if member.name == "UNSPECIFIED" else member.name.lower()


def _colour(stream: av.video.stream.VideoStream) -> ColourInfo:
    context = stream.codec_context
    pix_fmt = context.format.name if context.format is not None else None
    if pix_fmt is None:
        raise InputError("cannot tell the pixel format of the video stream (unsupported or damaged)")
    from av.video.reformatter import ColorPrimaries, ColorTrc

    return ColourInfo(
        pix_fmt=pix_fmt,
        bit_depth=bit_depth(pix_fmt),
        matrix=matrix_for(context.colorspace, context.height, pix_fmt),
        full_range=is_full_range(context.color_range, pix_fmt),
        primaries=_tag_name(ColorPrimaries, context.color_primaries),
        transfer=_tag_name(ColorTrc, context.color_trc),
        colorspace_tag=int(context.colorspace),
        range_tag=int(context.color_range),
        primaries_tag=int(context.color_primaries),
        transfer_tag=int(context.color_trc),
    )


RATE_PROBE_PACKETS = 48  # packets whose timestamps check the declared rate
RATE_AGREEMENT = Fraction(1, 50)  # a declared rate within 2 % of the measured spacing is trusted
FIRST_FRAME_PACKET_LIMIT = 4 * RATE_PROBE_PACKETS  # a decoder that has shown no frame by then gives rotation 0


class _FirstPackets(NamedTuple):
    """What one pass over a stream's first packets tells beyond its header."""

    measured_rate: Fraction | None  # 1 / median timestamp spacing; None when too few packets have one
    rotation: int  # degrees the first decoded frame is turned for display (its display matrix); 0 if unknown


def _scan_first_packets(path: Path, stream_index: int) -> _FirstPackets:
    """Timestamps of the first ``RATE_PROBE_PACKETS`` packets and the first frame they decode to."""
    stamps: list[int] = []
    rotation: int | None = None
    time_base = None
    try:
        with av.open(str(path)) as container:
            stream = container.streams[stream_index]
            time_base = stream.time_base
            for packets_seen, packet in enumerate(container.demux(stream), start=1):
                if packets_seen > FIRST_FRAME_PACKET_LIMIT:
                    break
                if packet.pts is not None:
                    stamps.append(packet.pts)
                if rotation is None:
                    try:
                        for frame in packet.decode():
                            rotation = int(round(frame.rotation or 0))
                            break
                    except (av.error.FFmpegError, ValueError, AttributeError):
                        rotation = 0
                if len(stamps) >= RATE_PROBE_PACKETS and rotation is not None:
                    break
    except (av.error.FFmpegError, OSError, ValueError):
        pass
    steps = sorted(b - a for a, b in zip(sorted(stamps), sorted(stamps)[1:]) if b > a)
    measured = None if len(steps) < 2 or time_base is None else 1 / (Fraction(steps[len(steps) // 2]) * time_base)
    return _FirstPackets(measured, rotation or 0)


def _tagged_end(stream: av.stream.Stream) -> Fraction | None:
    """When the stream's own Matroska/WebM ``DURATION`` tag says it ends, in seconds; else None.

    Matroska keeps no per-track duration in its header, so libavformat leaves ``stream.duration``
    unset and only the segment duration (the longest stream: a subtitle event may run on well
    past the last video frame) is known. Muxers write each track's length as a ``DURATION`` tag
    (``HH:MM:SS.nnnnnnnnn``): libavformat writes the track's end time, mkvmerge its length from
    its first timestamp. Reading it as the end time never places the end past the real one.
    """
    for key, value in stream.metadata.items():
        name = key.upper()
        if name != "DURATION" and not name.startswith("DURATION-"):
            continue
        match = _CLOCK.fullmatch(value.strip())
        if match:
            hours, minutes, seconds = match.groups()
            end = int(hours) * 3600 + int(minutes) * 60 + Fraction(seconds)
            if end > 0:
                return end
    return None


def _frame_rate(stream: av.video.stream.VideoStream, measured: Fraction | None, path: Path) -> Fraction:
    """The stream's frame rate, checked against ``measured``, the spacing of its first timestamps.

    Remuxed files can declare nonsense average rates (e.g. 24000 for 23.976 fps); the declared
    candidate closest to the real spacing of the first frames wins, else the spacing itself.
    """
    candidates = [Fraction(r) for r in (stream.average_rate, stream.guessed_rate, stream.base_rate) if r and r > 0]
    if measured is None:
        if not candidates:
            raise InputError(f"cannot read {path}: the video stream has no frame rate")
        return candidates[0]
    for candidate in candidates:
        if abs(candidate - measured) <= RATE_AGREEMENT * measured:
            return candidate
    return measured.limit_denominator(1001)


def _info(container: av.container.InputContainer, path: Path) -> VideoInfo:
    stream = _video_stream(container, path)
    time_base = stream.time_base
    if time_base is None:
        raise InputError(f"cannot read {path}: the video stream has no time base")
    first_packets = _scan_first_packets(path, stream.index)
    rate = _frame_rate(stream, first_packets.measured_rate, path)
    start = Fraction(stream.start_time) * time_base if stream.start_time is not None else Fraction(0)
    duration: Fraction | None = None
    tagged_end = _tagged_end(stream)
    if stream.duration:
        duration = Fraction(stream.duration) * time_base
    elif tagged_end is not None and tagged_end > start:
        duration = tagged_end - start
    elif container.duration:
        # Last resort: the container's duration covers every stream, so a subtitle event or audio
        # running past the last video frame makes it longer than the video.
        container_start = Fraction(container.start_time or 0, _AV_TIME_BASE)
        duration = Fraction(container.duration, _AV_TIME_BASE) + container_start - start
    frame_count = stream.frames or (round(duration * rate) if duration else None)
    if stream.codec_context.width <= 0 or stream.codec_context.height <= 0:
        raise InputError(f"cannot read {path}: the video stream has no picture size")
    attached = sum(1 for video in container.streams.video if video.disposition & av.stream.Disposition.attached_pic)
    return VideoInfo(
        path=path,
        container_format=container.format.name,
        codec=stream.codec_context.name,
        width=stream.codec_context.width,
        height=stream.codec_context.height,
        time_base=time_base,
        average_rate=Fraction(rate),
        start_time=start,
        duration=duration,
        frame_count=frame_count,
        colour=_colour(stream),
        audio_streams=len(container.streams.audio),
        subtitle_streams=len(container.streams.subtitles),
        video_stream_index=stream.index,
        rotation=first_packets.rotation,
        attached_pictures=attached,
        other_video_streams=len(container.streams.video) - 1 - attached,
    )


def probe(path: str | Path) -> VideoInfo:
    """Read the header of ``path``; raise ``InputError`` with one line if it is not a usable video."""
    path = Path(path)
    container = _open(path)
    try:
        return _info(container, path)
    finally:
        container.close()


class VideoReader:
    """Decode a video file frame by frame; use as a context manager.

    Iterating yields ``DecodedFrame`` in presentation order with exact times; after iteration
    ``end_time`` is the time the last frame stops being shown. A damaged or truncated file
    yields the frames that decode, reports once through ``on_warning`` and stops cleanly;
    a file where no frame decodes raises ``InputError``.
    """

    def __init__(self, path: str | Path, on_warning: WarningSink | None = None) -> None:
        self.path = Path(path)
        self.on_warning = on_warning or (lambda message: None)
        self._container = _open(self.path)
        try:
            self.info = _info(self._container, self.path)
        except BaseException:
            self._container.close()
            raise
        self.end_time: Fraction | None = None
        self.frames_decoded = 0
        self.damaged = False

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def __iter__(self) -> Iterator[DecodedFrame]:
        info = self.info
        stream = self._container.streams[info.video_stream_index]
        stream.thread_type = "AUTO"
        default_duration = 1 / info.average_rate
        previous: DecodedFrame | None = None
        gaps: list[Fraction] = []
        reordered_warning_sent = False
        for source in self._decode(stream):
            duration = Fraction(source.duration) * info.time_base if source.duration else None
            if source.pts is not None:
                time = Fraction(source.pts) * info.time_base
            elif previous is not None:
                time = previous.time + (previous.duration or default_duration)
            else:
                time = info.start_time
            if previous is not None and time <= previous.time:
                if not reordered_warning_sent:
                    self.on_warning(
                        f"input has non-increasing timestamps at frame {previous.index + 1}; "
                        "placing such frames one frame interval after the previous one"
                    )
                    reordered_warning_sent = True
                time = previous.time + (previous.duration or default_duration)
            if previous is not None:
                gaps.append(time - previous.time)
                del gaps[:-_END_GAP_SAMPLES]
            rgb = frame_to_rgb16(source, info.colour.matrix, info.colour.full_range)
            previous = DecodedFrame(self.frames_decoded, time, duration, rgb, source)
            self.frames_decoded += 1
            self.end_time = time + (duration or (statistics.median(gaps) if gaps else default_duration))
            yield previous
        if previous is None:
            raise InputError(f"cannot read {self.path}: no video frame could be decoded")
        self._check_complete()

    def planned_frames(self, wanted: Sequence[Any]) -> Iterator[tuple[Any, DecodedFrame]]:
        """``(key, frame)`` for each of ``wanted`` (items with ``index``, ``time`` and ``pts``, in order:
        the keys of a :class:`~fpsboost.chunking.VideoPlan`; each frame carries its key's time).

        Decodes from the last keyframe before the first of them when every one has a distinct
        timestamp, else from the start counting frames; only the wanted frames are converted.
        """
        if not wanted:
            return
        info = self.info
        stream = self._container.streams[info.video_stream_index]
        stream.thread_type = "AUTO"
        pts = [key.pts for key in wanted]
        if None in pts or len(set(pts)) != len(pts):
            remaining = {key.index: key for key in wanted}
            matches = ((remaining.pop(number, None), source) for number, source in enumerate(self._decode(stream)))
        else:
            remaining = dict(zip(pts, wanted))
            matches = ((remaining.pop(source.pts, None), source) for source in self._decoded_from(stream, pts[0]))
        for key, source in matches:
            if key is not None:
                yield key, DecodedFrame(key.index, key.time, None, frame_to_rgb16(source, info.colour.matrix, info.colour.full_range),
                                        source)
                if not remaining:
                    return
            elif pts[-1] is not None and source.pts is not None and source.pts > pts[-1]:
                break
        missing = sorted(key.index for key in remaining.values())
        raise InputError(f"{self.path}: frames {missing} did not decode again")

    def _decoded_from(self, stream: av.video.stream.VideoStream, pts: int) -> Iterator[av.VideoFrame]:
        """Decoded frames from the last keyframe at or before ``pts``; from the start where seeking lands later."""
        self._container.seek(pts, stream=stream, backward=True, any_frame=False)
        frames = self._decode(stream)
        first = next(frames, None)
        if first is None or first.pts is None or first.pts > pts:
            self._container.seek(0, stream=stream, backward=True, any_frame=False)
            frames, first = self._decode(stream), None
        if first is not None:
            yield first
        yield from frames

    def _decode(self, stream: av.video.stream.VideoStream) -> Iterator[av.VideoFrame]:
        """Decoded frames in presentation order; stops (and marks damage) at the first error.

        The demuxer's final empty packet flushes the decoder; after an early stop the decoder is
        flushed explicitly so frames it still holds (B-frame reordering) are not lost.
        """
        try:
            for packet in self._container.demux(stream):
                if packet.is_corrupt:
                    self.damaged = True
                    break
                yield from packet.decode()
        except av.FFmpegError:
            self.damaged = True
        if not self.damaged:
            return
        try:
            yield from stream.codec_context.decode(None)
        except av.FFmpegError:
            pass

    def _check_complete(self) -> None:
        """Warn once if decoding stopped early: an error, or well short of the declared duration."""
        info = self.info
        if not self.damaged and info.duration is not None and self.end_time is not None:
            declared_end = info.start_time + info.duration
            missing = (declared_end - self.end_time) * info.average_rate
            self.damaged = missing > _TRUNCATION_TOLERANCE_FRAMES
        if self.damaged:
            count = self.frames_decoded
            self.on_warning(
                f"input is damaged after frame {count}; processing the {count} frames that decode"
            )
