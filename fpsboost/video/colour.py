"""Exact YUV <-> RGB conversion in numpy, with the matrix and range the stream declares.

Why not swscale: PyAV's ``reformat`` to ``rgb48le`` maps full-range white to 65280 (8-bit) or
65472 (10-bit) instead of 65535, limited-range white to 65283, and dithers when going back to
8-bit, so an interpolated frame would be a level darker than the original frames beside it.
Here every conversion is a closed formula:

- decode: ``Y' = (Y - black) / (white - black)``, ``Cb', Cr'`` likewise around the chroma
  midpoint, then the matrix (BT.601 / 709 / 2020 ...) to R'G'B' in [0, 1], stored as uint16
  ``round(65535 * value)``. Chroma is upsampled by repetition (nearest).
- encode: the inverse matrix; chroma is the mean over each subsampling block. Repetition and
  block mean are each other's inverse, so YUV -> RGB -> YUV returns the same samples up to
  rounding and clipping: held and original frames survive a trip through RGB.

Transfer curve and primaries are never converted: they are tags copied to the output.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

RGB16_MAX = 65535

# Luma weights (Kr, Kb) of each YUV matrix; Kg = 1 - Kr - Kb.
MATRIX_WEIGHTS: dict[str, tuple[float, float]] = {
    "bt709": (0.2126, 0.0722),
    "bt601": (0.299, 0.114),
    "bt2020": (0.2627, 0.0593),
    "smpte240m": (0.212, 0.087),
    "fcc": (0.30, 0.11),
}

# AVColorSpace numbers (libavutil/pixfmt.h) -> our matrix names.
_AVCOL_SPC_RGB = 0
AVCOL_SPC_UNSPECIFIED = 2
_MATRIX_BY_AVCOL_SPC: dict[int, str] = {
    _AVCOL_SPC_RGB: "rgb",
    1: "bt709",
    4: "fcc",
    5: "bt601",  # BT470BG (PAL)
    6: "bt601",  # SMPTE170M (NTSC)
    7: "smpte240m",
    9: "bt2020",  # non-constant luminance
    10: "bt2020",  # constant luminance: approximated by the NCL matrix
}
# Matrix name -> AVColorSpace tag written when a stream did not declare one.
AVCOL_SPC_BY_MATRIX: dict[str, int] = {"bt709": 1, "fcc": 4, "bt601": 6, "smpte240m": 7, "bt2020": 9}

AVCOL_RANGE_UNSPECIFIED = 0
AVCOL_RANGE_MPEG = 1
AVCOL_RANGE_JPEG = 2

# Players treat untagged SD video as BT.601 and HD as BT.709.
HD_MIN_HEIGHT = 720

# Packed RGB layouts: channels per pixel and where R, G, B sit.
_PACKED_RGB: dict[str, tuple[int, tuple[int, int, int]]] = {
    "rgb24": (3, (0, 1, 2)),
    "bgr24": (3, (2, 1, 0)),
    "rgba": (4, (0, 1, 2)),
    "bgra": (4, (2, 1, 0)),
    "argb": (4, (1, 2, 3)),
    "abgr": (4, (3, 2, 1)),
    "rgb0": (4, (0, 1, 2)),
    "bgr0": (4, (2, 1, 0)),
    "0rgb": (4, (1, 2, 3)),
    "0bgr": (4, (3, 2, 1)),
    "rgb48le": (3, (0, 1, 2)),
    "bgr48le": (3, (2, 1, 0)),
    "rgba64le": (4, (0, 1, 2)),
    "bgra64le": (4, (2, 1, 0)),
}
# Formats we do not read directly are first converted by swscale to one we do (lossless
# re-packing for NV12/P010/YUYV; palette lookup for pal8).
_BRIDGE_YUV = "yuv444p16le"
_BRIDGE_RGB = "gbrp16le"


def matrix_for(colorspace_tag: int, height: int, pix_fmt: str) -> str:
    """Our matrix name for a stream's AVColorSpace tag; untagged -> bt601 below 720 lines, else bt709."""
    if is_rgb_format(pix_fmt):
        return "rgb"
    matrix = _MATRIX_BY_AVCOL_SPC.get(colorspace_tag)
    if matrix is None or matrix == "rgb":
        return "bt601" if height < HD_MIN_HEIGHT else "bt709"
    return matrix


def is_full_range(range_tag: int, pix_fmt: str) -> bool:
    """True for JPEG/full range: declared as such, or implied by a ``yuvj*`` or RGB format."""
    if range_tag == AVCOL_RANGE_JPEG:
        return True
    if range_tag == AVCOL_RANGE_MPEG:
        return False
    return pix_fmt.startswith("yuvj") or is_rgb_format(pix_fmt)


def is_rgb_format(pix_fmt: str) -> bool:
    fmt = av.VideoFormat(pix_fmt)
    return bool(fmt.is_rgb or fmt.has_palette)


def bit_depth(pix_fmt: str) -> int:
    """Bits per sample of the colour components (alpha ignored)."""
    fmt = av.VideoFormat(pix_fmt)
    return max(component.bits for component in fmt.components if not component.is_alpha)


@dataclass(frozen=True)
class _Layout:
    """How the samples of one pixel format sit in memory, for the formats read without swscale."""

    kind: str  # "yuv", "gray", "planar_rgb", "packed_rgb"
    bits: int
    dtype: type
    planes: tuple[int, ...]  # plane index of Y,U,V / R,G,B / gray
    channels: int = 1  # packed formats: samples per pixel
    order: tuple[int, int, int] = (0, 1, 2)  # packed formats: offsets of R, G, B


def _layout(pix_fmt: str) -> _Layout | None:
    """Layout for formats we convert directly; None where swscale must re-pack first."""
    if pix_fmt in _PACKED_RGB:
        channels, order = _PACKED_RGB[pix_fmt]
        bits = 16 if "48" in pix_fmt or "64" in pix_fmt else 8
        return _Layout("packed_rgb", bits, np.uint16 if bits > 8 else np.uint8, (0,), channels, order)
    fmt = av.VideoFormat(pix_fmt)
    if fmt.is_big_endian or fmt.has_palette or fmt.is_bayer or fmt.is_bit_stream:
        return None
    if "f16" in pix_fmt or "f32" in pix_fmt:
        return None
    colour = [c for c in fmt.components if not c.is_alpha]
    planes = tuple(c.plane for c in colour)
    if len(set(planes)) != len(planes) or not all(c.bits == colour[0].bits for c in colour):
        return None  # semi-planar (NV12, P010) or packed YUV (YUYV)
    bits = colour[0].bits
    if bits > 16:
        return None
    dtype = np.uint16 if bits > 8 else np.uint8
    if len(colour) == 1:
        return _Layout("gray", bits, dtype, planes)
    if fmt.is_rgb:
        return _Layout("planar_rgb", bits, dtype, planes)
    if not (pix_fmt.startswith("yuv") or pix_fmt.startswith("yuvj")):
        return None
    return _Layout("yuv", bits, dtype, planes)


def _plane_array(frame: av.VideoFrame, index: int, dtype: type, channels: int = 1) -> np.ndarray:
    """View of plane ``index`` as ``[height, width * channels]`` samples (line padding dropped)."""
    plane = frame.planes[index]
    item = np.dtype(dtype).itemsize
    rows = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // item)
    return rows[:, : plane.width * channels]


def _range_constants(bits: int, full_range: bool) -> tuple[float, float, float, float]:
    """(black, luma span, chroma midpoint, chroma span) in code values of a ``bits``-deep sample."""
    if full_range:
        top = float((1 << bits) - 1)
        return 0.0, top, float(1 << (bits - 1)), top
    step = float(1 << (bits - 8))
    return 16.0 * step, 219.0 * step, 128.0 * step, 224.0 * step


def _chroma_factors(matrix: str) -> tuple[float, float, float, float]:
    """(Cr->R, Cb->G, Cr->G, Cb->B) for normalised Cb', Cr' in [-0.5, 0.5]."""
    kr, kb = MATRIX_WEIGHTS[matrix]
    kg = 1.0 - kr - kb
    return 2 * (1 - kr), -2 * kb * (1 - kb) / kg, -2 * kr * (1 - kr) / kg, 2 * (1 - kb)


def _upsample(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest upsampling of a chroma-resolution array to ``[height, width]``."""
    step_y = -(-height // plane.shape[0])
    step_x = -(-width // plane.shape[1])
    return np.repeat(np.repeat(plane, step_y, axis=0), step_x, axis=1)[:height, :width]


def frame_to_rgb16(frame: av.VideoFrame, matrix: str, full_range: bool) -> np.ndarray:
    """Decode ``frame`` to ``[H, W, 3]`` uint16 RGB, full range 0..65535, no bits lost.

    ``matrix`` (bt601/bt709/bt2020/...) and ``full_range`` say how to read YUV samples; they
    are ignored for RGB formats. Unknown layouts are re-packed by swscale first.
    """
    layout = _layout(frame.format.name)
    if layout is None:
        bridge = _BRIDGE_RGB if is_rgb_format(frame.format.name) else _BRIDGE_YUV
        return frame_to_rgb16(frame.reformat(format=bridge), matrix, full_range)
    height, width = frame.height, frame.width
    if layout.kind == "packed_rgb":
        pixels = _plane_array(frame, 0, layout.dtype, layout.channels).reshape(height, width, layout.channels)
        rgb = pixels[:, :, list(layout.order)]
        return _widen(rgb, layout.bits)
    if layout.kind == "planar_rgb":
        channels = [_plane_array(frame, plane, layout.dtype) for plane in layout.planes]
        return _widen(np.stack(channels, axis=-1), layout.bits)
    black, luma_span, chroma_mid, chroma_span = _range_constants(layout.bits, full_range)
    luma = _plane_array(frame, layout.planes[0], layout.dtype).astype(np.float32)
    luma -= black
    luma *= RGB16_MAX / luma_span
    if layout.kind == "gray":
        return _to_uint16(np.repeat(luma[:, :, None], 3, axis=2))
    cb = _plane_array(frame, layout.planes[1], layout.dtype).astype(np.float32)
    cr = _plane_array(frame, layout.planes[2], layout.dtype).astype(np.float32)
    scale = RGB16_MAX / chroma_span
    cb -= chroma_mid
    cb *= scale
    cr -= chroma_mid
    cr *= scale
    r_cr, g_cb, g_cr, b_cb = _chroma_factors(matrix)
    offsets = (r_cr * cr, g_cb * cb + g_cr * cr, b_cb * cb)  # added to luma, at chroma resolution
    sub_h, sub_w = cb.shape
    block_y, block_x = height // sub_h, width // sub_w
    out = np.empty((height, width, 3), np.uint16)
    if block_y * sub_h == height and block_x * sub_w == width:
        # Spread each chroma sample over its block by broadcasting, without materialising it.
        luma_blocks = luma.reshape(sub_h, block_y, sub_w, block_x)
        out_blocks = out.reshape(sub_h, block_y, sub_w, block_x, 3)
        value = np.empty_like(luma_blocks)
        for channel, offset in enumerate(offsets):
            np.add(luma_blocks, offset[:, None, :, None], out=value)
            out_blocks[..., channel] = _round_clip(value)
        return out
    for channel, offset in enumerate(offsets):
        out[:, :, channel] = _round_clip(luma + _upsample(offset, height, width))
    return out


def _round_clip(values: np.ndarray) -> np.ndarray:
    """Float code values (any overshoot) -> clipped to 0..65535 and offset for rounding, in place."""
    np.clip(values, 0, RGB16_MAX, out=values)
    values += 0.5
    return values


def _to_uint16(values: np.ndarray) -> np.ndarray:
    """Float 0..65535 (any overshoot) -> uint16, clipped and rounded to nearest."""
    np.clip(values, 0, RGB16_MAX, out=values)
    values += 0.5
    return values.astype(np.uint16)


def _widen(samples: np.ndarray, bits: int) -> np.ndarray:
    """RGB code values of ``bits`` depth -> uint16 0..65535 (exact: 2^b-1 maps to 65535)."""
    if bits == 16:
        return np.ascontiguousarray(samples, dtype=np.uint16)
    if bits == 8:
        return samples.astype(np.uint16) * np.uint16(257)
    scaled = samples.astype(np.float32) * (RGB16_MAX / ((1 << bits) - 1)) + 0.5
    return scaled.astype(np.uint16)


def _narrow(rgb: np.ndarray, bits: int) -> np.ndarray:
    """uint16 0..65535 -> code values of ``bits`` depth, rounded to nearest."""
    if bits == 16:
        return rgb
    top = (1 << bits) - 1
    scaled = rgb.astype(np.float32) * (top / RGB16_MAX) + 0.5
    return scaled.astype(np.uint16 if bits > 8 else np.uint8)


def _block_mean(values: np.ndarray, sub_h: int, sub_w: int) -> np.ndarray:
    """Mean of ``values`` [H, W, C] over the blocks of a ``[sub_h, sub_w]`` chroma grid (edges padded)."""
    height, width = values.shape[:2]
    block_y, block_x = -(-height // sub_h), -(-width // sub_w)
    padded_h, padded_w = sub_h * block_y, sub_w * block_x
    if (padded_h, padded_w) != (height, width):
        values = np.pad(values, ((0, padded_h - height), (0, padded_w - width), (0, 0)), mode="edge")
    if block_y == block_x == 1:
        return values
    total = np.zeros((sub_h, sub_w, values.shape[2]), np.float32)
    for dy in range(block_y):
        for dx in range(block_x):
            total += values[dy::block_y, dx::block_x]
    total *= 1.0 / (block_y * block_x)
    return total


def rgb16_to_frame(rgb: np.ndarray, pix_fmt: str, matrix: str, full_range: bool) -> av.VideoFrame:
    """Encode ``[H, W, 3]`` uint16 RGB (0..65535) into a new frame of ``pix_fmt``.

    YUV formats use ``matrix`` and ``full_range``; alpha planes are filled opaque. Formats we
    cannot write directly are produced by swscale from a 16-bit intermediate of our own making.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint16:
        raise ValueError(f"expected [H, W, 3] uint16 RGB, got {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[:2]
    layout = _layout(pix_fmt)
    if layout is None:
        bridge = _BRIDGE_RGB if is_rgb_format(pix_fmt) else _BRIDGE_YUV
        return rgb16_to_frame(rgb, bridge, matrix, full_range).reformat(format=pix_fmt)
    frame = av.VideoFrame(width, height, pix_fmt)
    _fill_alpha(frame, pix_fmt)
    if layout.kind == "packed_rgb":
        target = _plane_array(frame, 0, layout.dtype, layout.channels).reshape(height, width, layout.channels)
        target[...] = np.iinfo(layout.dtype).max  # padding / alpha bytes
        target[:, :, list(layout.order)] = _narrow(rgb, layout.bits)
        return frame
    if layout.kind == "planar_rgb":
        narrowed = _narrow(rgb, layout.bits)
        for channel, plane in enumerate(layout.planes):
            _plane_array(frame, plane, layout.dtype)[...] = narrowed[:, :, channel]
        return frame
    black, luma_span, chroma_mid, chroma_span = _range_constants(layout.bits, full_range)
    top = (1 << layout.bits) - 1
    weights = np.array(_luma_weights(matrix), np.float32)
    rgb_float = rgb.astype(np.float32)
    rgb_float *= 1.0 / RGB16_MAX
    _store(frame, layout.planes[0], layout.dtype, rgb_float @ (weights * luma_span) + black, top)
    if layout.kind == "gray":
        return frame
    chroma_plane = frame.planes[layout.planes[1]]
    mean_rgb = _block_mean(rgb_float, chroma_plane.height, chroma_plane.width)  # [h, w, 3]
    kr, _, kb = weights
    to_cb = (np.array([0.0, 0.0, 1.0], np.float32) - weights) / (2 * (1 - kb))
    to_cr = (np.array([1.0, 0.0, 0.0], np.float32) - weights) / (2 * (1 - kr))
    _store(frame, layout.planes[1], layout.dtype, mean_rgb @ (to_cb * chroma_span) + chroma_mid, top)
    _store(frame, layout.planes[2], layout.dtype, mean_rgb @ (to_cr * chroma_span) + chroma_mid, top)
    return frame


def _luma_weights(matrix: str) -> tuple[float, float, float]:
    kr, kb = MATRIX_WEIGHTS[matrix]
    return kr, 1.0 - kr - kb, kb


def _store(frame: av.VideoFrame, plane: int, dtype: type, values: np.ndarray, top: int) -> None:
    np.clip(values, 0, top, out=values)
    values += 0.5
    _plane_array(frame, plane, dtype)[...] = values


def _fill_alpha(frame: av.VideoFrame, pix_fmt: str) -> None:
    """Opaque alpha for formats with an alpha plane (yuva*, gbrap*)."""
    for component in av.VideoFormat(pix_fmt).components:
        if component.is_alpha and av.VideoFormat(pix_fmt).is_planar:
            dtype = np.uint16 if component.bits > 8 else np.uint8
            _plane_array(frame, component.plane, dtype)[...] = (1 << component.bits) - 1


def rgb16_to_chw(rgb: np.ndarray) -> np.ndarray:
    """``[H,W,3]`` uint16 full range -> ``[3,H,W]`` float32 in [0,1], what the networks take."""
    chw = np.empty((3, *rgb.shape[:2]), np.float32)
    np.multiply(rgb.transpose(2, 0, 1), np.float32(1.0 / RGB16_MAX), out=chw, casting="unsafe")
    return chw


def chw_to_rgb16(chw: np.ndarray) -> np.ndarray:
    """``[3,H,W]`` float in [0,1] -> ``[H,W,3]`` uint16 full range (rounded, clipped)."""
    scaled = np.clip(chw.transpose(1, 2, 0), 0.0, 1.0) * RGB16_MAX + 0.5
    return scaled.astype(np.uint16)


def nearest_pix_fmt(wanted: str, supported: list[str]) -> str:
    """The encoder format closest to ``wanted``: same family (YUV/RGB), enough bits, same chroma grid."""
    if wanted in supported:
        return wanted
    wanted_bits = bit_depth(wanted)
    wanted_rgb = is_rgb_format(wanted)
    probe_size = 64

    def chroma_grid(name: str) -> tuple[int, int]:
        fmt = av.VideoFormat(name)
        return fmt.chroma_width(probe_size), fmt.chroma_height(probe_size)

    def cost(name: str) -> tuple[int, int, int, int, int]:
        fmt = av.VideoFormat(name)
        bits = bit_depth(name)
        family_mismatch = int(is_rgb_format(name) != wanted_rgb)
        too_few_bits = max(0, wanted_bits - bits)
        grid_mismatch = int(chroma_grid(name) != chroma_grid(wanted)) if not wanted_rgb else 0
        unreadable = int(_layout(name) is None)
        has_alpha = int(any(c.is_alpha for c in fmt.components))
        return (family_mismatch, too_few_bits, grid_mismatch + has_alpha, bits - wanted_bits, unreadable)

    return min(supported, key=cost)
