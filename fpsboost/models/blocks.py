"""Small building blocks of the networks: convolutions, residual stacks, warping."""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def eager_cpu_inference(tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` is on the CPU outside ONNX export, tracing and training: where the CPU-only
    fast paths below may write into tensors of their own making (a traced graph would record them
    wrongly, autograd cannot follow ``out=``, CUDA gains nothing)."""
    exporting = torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
    return tensor.device.type == "cpu" and not exporting and not torch.is_grad_enabled()


def cat_for_convolution(tensors: list[torch.Tensor]) -> torch.Tensor:
    """``torch.cat`` along channels, for a block of convolutions to read: on the CPU written straight
    into channels-last memory, where oneDNN's 3x3 kernels with few output channels are faster (854x480,
    2 in-betweens, 2 threads: visibility head 55 -> 42 ms, coarse block 36 -> 28 ms, cat included; same
    numbers to 2e-6; the edge sharpener has since its own form, :func:`conv3x3_one_output`; in bf16
    the blocks take channels-first input, see ``visibility._run_block``). Weights stay in the default layout (turning the
    whole network channels-last converted tensors back and forth and gained nothing in the job), and
    CUDA, ONNX export and training (``out=`` has no gradient) get the plain concatenation."""
    if not eager_cpu_inference(tensors[0]):
        return torch.cat(tensors, dim=1)
    first = tensors[0]
    channels = sum(tensor.shape[1] for tensor in tensors)
    out = torch.empty((first.shape[0], channels, *first.shape[2:]), dtype=first.dtype, device=first.device,
                      memory_format=torch.channels_last)
    return torch.cat(tensors, dim=1, out=out)


def conv3x3_one_output(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, padding=1)`` for ``weight`` ``[1,C,3,3]``, to within float rounding.

    On the CPU oneDNN runs a convolution with one output channel at a few per cent of its speed
    with many (the v2 edge sharpener, 8 channels in at 854x480, 2 in-betweens: 26-28 ms on one
    thread). Here each of the 9 taps first mixes the channels, in one batched matrix product
    (``[9,C] @ [C,H*W]``), and the taps are then added in, shifted: 7-10 ms. For eager CPU
    inference (:func:`eager_cpu_inference`); elsewhere use the convolution itself.
    """
    batch, channels, height, width = x.shape
    taps = weight.reshape(channels, 9).t()  # [9, C]: row 3 * (dy + 1) + (dx + 1)
    mixed = torch.bmm(taps.expand(batch, 9, channels), x.reshape(batch, channels, height * width))
    mixed = mixed.view(batch, 9, height, width)
    out = mixed[:, 4:5] + bias.view(1, 1, 1, 1)
    for tap in range(9):
        dy, dx = tap // 3 - 1, tap % 3 - 1
        if (dy, dx) == (0, 0):
            continue
        # out[y, x] += mixed[tap, y + dy, x + dx] wherever that lies inside (zero padding elsewhere).
        rows_out, rows_in = slice(max(-dy, 0), height - max(dy, 0)), slice(max(dy, 0), height - max(-dy, 0))
        cols_out, cols_in = slice(max(-dx, 0), width - max(dx, 0)), slice(max(dx, 0), width - max(-dx, 0))
        out[:, :, rows_out, cols_out] += mixed[:, tap:tap + 1, rows_in, cols_in]
    return out


def opencv_sums_apply(x: torch.Tensor) -> bool:
    """Whether :func:`opencv_window_sums` may stand in for a torch box filter of ``x``: eager CPU
    inference on float32 (a bf16 tensor has no numpy form; a graph or autograd needs torch operations)."""
    return eager_cpu_inference(x) and x.dtype == torch.float32


def opencv_window_sums(x: torch.Tensor, window: int) -> torch.Tensor:
    """``[B,1,H,W]``: the sums of ``x`` (``[B,1,H,W]``, float32 on the CPU) over ``window`` x ``window``
    squares, zero outside the picture, from OpenCV's running box sums. One-channel box filters are slow
    in torch on the CPU (oneDNN convolutions, stride-1 pooling): at 854x480 1.0 ms against 3.7 ms for two
    separable average pools."""
    sums = [cv2.boxFilter(plane, -1, (window, window), normalize=False, borderType=cv2.BORDER_CONSTANT)
            for plane in x[:, 0].numpy()]
    return torch.from_numpy(np.stack(sums)).unsqueeze(1)


def pad_bottom_right(image: torch.Tensor, bottom: int, right: int) -> torch.Tensor:
    """``F.pad(image, (0, right, 0, bottom), mode="replicate")``, the same numbers; on the CPU outside
    export and training, copied into a new tensor with the last row and column repeated (oneDNN's
    replication pad took 3.0 ms for two 854x480 frames on one thread, this 0.6)."""
    if not eager_cpu_inference(image) or image.dim() != 4:
        return F.pad(image, (0, right, 0, bottom), mode="replicate")
    if bottom == 0 and right == 0:
        return image
    height, width = image.shape[-2:]
    out = image.new_empty((*image.shape[:-2], height + bottom, width + right))
    out[..., :height, :width] = image
    out[..., :height, width:] = image[..., :, width - 1:]
    out[..., height:, :] = out[..., height - 1:height, :]
    return out


def conv_prelu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution followed by a per-channel PReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1),
        nn.PReLU(out_channels),
    )


class ResidualConv(nn.Module):
    """``x + beta * conv(x)`` then PReLU; ``beta`` starts small so deep stacks train from the start."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.beta = nn.Parameter(torch.full((1, channels, 1, 1), 0.1))
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.beta * self.conv(x))


class RefineBlock(nn.Module):
    """Predicts a dense residual at the resolution of its input.

    Input ``[B, in_channels, H, W]`` (H, W divisible by 4); two stride-2 convolutions take it to
    H/4, ``depth`` residual convolutions work there, and a transposed convolution plus pixel
    shuffle return ``[B, out_channels, H, W]``.
    """

    def __init__(self, in_channels: int, out_channels: int, width: int, depth: int) -> None:
        super().__init__()
        self.encode = nn.Sequential(conv_prelu(in_channels, width // 2, 2), conv_prelu(width // 2, width, 2))
        self.body = nn.Sequential(*[ResidualConv(width) for _ in range(depth)])
        self.decode = nn.Sequential(nn.ConvTranspose2d(width, out_channels * 4, 4, 2, 1), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.body(self.encode(x)))


def pixel_grid(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """``[1, 2, H, W]`` pixel coordinates (x, y) with the dtype and device of ``like``."""
    # Counted in float32 then cast: ONNX's Range has no float16, so a half-precision export needs this.
    ys = torch.arange(height, dtype=torch.float32, device=like.device).to(like.dtype)
    xs = torch.arange(width, dtype=torch.float32, device=like.device).to(like.dtype)
    ys = ys.view(1, 1, height, 1).expand(1, 1, height, width)
    xs = xs.view(1, 1, 1, width).expand(1, 1, height, width)
    return torch.cat([xs, ys], dim=1)


def backward_warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` [B,C,H,W] at ``pixel + flow`` ([B,2,H,W], pixels, x then y); borders clamp."""
    # Sampling positions stay float32 even in a half-precision network: fp16 holds pixel
    # coordinates only to 1/2 px above 1024, which would shake hard edges at 1080p and 4K.
    working_dtype = image.dtype
    image, flow = image.float(), flow.float()
    height, width = image.shape[-2], image.shape[-1]
    # grid_sample wants [-1, 1] with align_corners=True: -1 is the first pixel centre, +1 the last.
    scale_x = 2.0 / max(width - 1, 1)
    scale_y = 2.0 / max(height - 1, 1)
    # Pixel coordinates counted in float32: ONNX's Range has no float16.
    xs = torch.arange(width, dtype=torch.float32, device=flow.device)
    ys = torch.arange(height, dtype=torch.float32, device=flow.device)
    if eager_cpu_inference(flow):
        # One [H,W,2] grid of pixel coordinates added to the flow read channels-last, in place: for two
        # 854x480 flows on one thread 2.1 ms, where the per-channel sums below and their stack took
        # 4.0; the same bits. (A graph for export keeps the form whose scales follow the input's size.)
        pixels = torch.stack([xs.view(1, width).expand(height, width), ys.view(height, 1).expand(height, width)], dim=-1)
        grid = ((flow.permute(0, 2, 3, 1) + pixels) * flow.new_tensor([scale_x, scale_y])).sub_(1.0)
    else:
        # Rows and columns broadcast (no full grid is built: that copy cost more than the sampling at 480p).
        grid = torch.stack([(xs.view(1, 1, width) + flow[:, 0]) * scale_x - 1.0,
                            (ys.view(1, height, 1) + flow[:, 1]) * scale_y - 1.0], dim=-1)
    warped = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return warped.to(working_dtype)


def forward_splat(values: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Push each pixel's ``values`` ([B,C,H,W]) to ``pixel + flow`` ([B,2,H,W], pixels, x then y) and
    sum what lands on each pixel, spread bilinearly over the four pixels around where it lands; what
    lands outside the frame is dropped. Returns ``[B,C,H,W]`` (the dual of :func:`backward_warp`)."""
    # In float32 whatever the network's precision, as backward_warp samples: fp16 holds pixel indices
    # only to 2 above 2048 (and ONNX's Range has no float16).
    working_dtype, values, flow = values.dtype, values.float(), flow.float()
    batch, channels, height, width = values.shape
    # The sums go to a canvas with a margin around the frame (one pixel before it, two after, for the
    # far corners), cropped at the end: a landing point is first clamped into that margin, so every
    # corner's index lies on the canvas and no share needs a test of whether it landed inside (a point
    # far outside leaves all of its weight in the margin).
    canvas_width, canvas_size = width + 3, (height + 3) * (width + 3)
    xs = torch.arange(width, dtype=torch.float32, device=flow.device).view(1, 1, width)
    ys = torch.arange(height, dtype=torch.float32, device=flow.device).view(1, height, 1)
    x = torch.nan_to_num(flow[:, 0] + xs, nan=-1.0).clamp_(-1, width)
    y = torch.nan_to_num(flow[:, 1] + ys, nan=-1.0).clamp_(-1, height)
    left, top = x.floor(), y.floor()
    right_share, bottom_share = x - left, y - top
    column_shares, row_shares = (1 - right_share, right_share), (1 - bottom_share, bottom_share)
    offsets = torch.arange(batch, device=flow.device).view(batch, 1, 1) * canvas_size
    first = (offsets + ((top + 1) * canvas_width + (left + 1)).long()).reshape(-1)
    rows = values.permute(0, 2, 3, 1).contiguous()  # [B,H,W,C]: one row of channels per pixel
    eager = eager_cpu_inference(values)
    sums = values.new_zeros(batch * canvas_size, channels)
    for dy in (0, 1):
        for dx in (0, 1):
            index = first + (dy * canvas_width + dx) if (dy, dx) != (0, 0) else first
            share = (rows * (row_shares[dy] * column_shares[dx]).unsqueeze(-1)).reshape(-1, channels)
            if eager:
                sums.index_add_(0, index, share)
            else:
                # ONNX export writes index_add as a scatter that keeps only one of several shares landing
                # on a pixel; scatter_add becomes ScatterElements with reduction "add" (opset 16 on).
                sums = sums.scatter_add(0, index.unsqueeze(1).expand(-1, channels), share)
    sums = sums.view(batch, height + 3, canvas_width, channels)[:, 1:height + 1, 1:width + 1]
    return sums.permute(0, 3, 1, 2).to(working_dtype)


def upsample_flow(flow: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinearly enlarge a flow field by an integer factor, scaling its vectors to match."""
    if factor == 1:
        return flow
    # Scaled before enlarging: a quarter of the multiplications, and for a power of two the same bits.
    return F.interpolate(flow * factor, scale_factor=float(factor), mode="bilinear", align_corners=False)


def downsample_flow(flow: torch.Tensor, factor: int) -> torch.Tensor:
    """Average-pool a flow field by an integer factor, scaling its vectors to match."""
    return flow if factor == 1 else downsample(flow, factor) / factor


def downsample(image: torch.Tensor, factor: int) -> torch.Tensor:
    """Average-pool by an integer factor (H and W must be divisible by it)."""
    if factor == 2:
        # The four phases summed: 0.8 ms for a 480p frame on one CPU thread, where avg_pool2d took 2.6.
        return (image[..., ::2, ::2] + image[..., 1::2, ::2] + image[..., ::2, 1::2] + image[..., 1::2, 1::2]) * 0.25
    return image if factor == 1 else F.avg_pool2d(image, factor)
