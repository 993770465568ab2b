"""A RIFE-v4.6-shaped network with random weights, used only as a speed anchor in benchmarks.

Shape facts (from the public RIFE v4.6 description): 4 coarse-to-fine blocks of width
192/128/96/64 at 1/8, 1/4, 1/2 and full scale; each block downsamples by 4 with two stride-2
convolutions, runs 8 3x3 convolutions and predicts a flow residual (t->0, t->1) and a mask.
t is an input channel, so every in-between is a full forward pass. No trained RIFE weights are
used or shipped; only the architecture's cost matters here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import backward_warp, conv_prelu

RIFE46_WIDTHS = (192, 128, 96, 64)
RIFE46_SCALES = (8, 4, 2, 1)
RIFE46_CONVS_PER_BLOCK = 8
RIFE46_PAD = 64


class _IFBlock(nn.Module):
    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        self.head = nn.Sequential(conv_prelu(in_channels, width // 2, 2), conv_prelu(width // 2, width, 2))
        self.body = nn.Sequential(*[conv_prelu(width, width) for _ in range(RIFE46_CONVS_PER_BLOCK)])
        self.tail = nn.Sequential(nn.ConvTranspose2d(width, 4 * 5, 4, 2, 1), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        if scale != 1:
            x = F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
        x = self.head(x)
        x = self.body(x) + x
        x = self.tail(x)
        if scale != 1:
            x = F.interpolate(x, scale_factor=float(scale), mode="bilinear", align_corners=False)
        return x


class Rife46Shaped(nn.Module):
    """``forward(I0, I1, t) -> I_t`` with RIFE v4.6's block structure (about 5 M parameters)."""

    def __init__(self) -> None:
        super().__init__()
        first_in = 3 + 3 + 1
        later_in = 3 + 3 + 3 + 3 + 1 + 1 + 4
        self.blocks = nn.ModuleList(
            _IFBlock(first_in if i == 0 else later_in, width) for i, width in enumerate(RIFE46_WIDTHS)
        )

    def forward(self, image0: torch.Tensor, image1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        height, width = image0.shape[-2:]
        pad_h, pad_w = (-height) % RIFE46_PAD, (-width) % RIFE46_PAD
        image0 = F.pad(image0, (0, pad_w, 0, pad_h))
        image1 = F.pad(image1, (0, pad_w, 0, pad_h))
        t_plane = t.view(-1, 1, 1, 1).expand(-1, 1, image0.shape[2], image0.shape[3])
        flow = mask = None
        warped0, warped1 = image0, image1
        for scale, block in zip(RIFE46_SCALES, self.blocks):
            if flow is None:
                out = block(torch.cat([image0, image1, t_plane], 1), scale)
                flow, mask = out[:, :4], out[:, 4:5]
            else:
                out = block(torch.cat([image0, image1, warped0, warped1, t_plane, mask, flow], 1), scale)
                flow, mask = flow + out[:, :4], mask + out[:, 4:5]
            warped0 = backward_warp(image0, flow[:, :2])
            warped1 = backward_warp(image1, flow[:, 2:4])
        weight = torch.sigmoid(mask)
        return (warped0 * weight + warped1 * (1 - weight))[:, :, :height, :width]
