"""How close an in-between is to the truth: PSNR, SSIM, MS-SSIM, FLIP, and the oracle blend.

Every metric takes ``[H,W,3]`` uint8 RGB frames (what a video pipeline writes). PSNR alone rewards
blur; SSIM (Gaussian 11x11, sigma 1.5, mean over RGB) and FLIP (NVIDIA's perceptual error, lower is
better; with the ``flip-evaluator`` package of the ``eval`` extra) see it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..training.common import psnr

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_MIN_SIDE = SSIM_WINDOW * 2 ** (len(MS_SSIM_WEIGHTS) - 1)  # 176: the coarsest scale still fits a window


def to_u8(image: np.ndarray) -> np.ndarray:
    """Round and clip a float image in [0, 255] to uint8."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _to_float(image: np.ndarray) -> np.ndarray:
    """``[H,W,3]`` uint8 -> ``[H,W,3]`` float32 in [0,1]."""
    return image.astype(np.float32) * np.float32(1 / 255)


def _blur(image: np.ndarray) -> np.ndarray:
    """Gaussian window, cropped to the positions where the whole window fits (a "valid" filter)."""
    import cv2

    radius = SSIM_WINDOW // 2
    blurred = cv2.GaussianBlur(image, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)
    return blurred[radius:-radius, radius:-radius]


def _ssim_and_contrast(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean SSIM and mean contrast-structure term of ``[H,W,C]`` float images in [0,1]."""
    mu_x, mu_y = _blur(x), _blur(y)
    var_x = _blur(x * x) - mu_x**2
    var_y = _blur(y * y) - mu_y**2
    covariance = _blur(x * y) - mu_x * mu_y
    contrast = (2 * covariance + SSIM_C2) / (var_x + var_y + SSIM_C2)
    luminance = (2 * mu_x * mu_y + SSIM_C1) / (mu_x**2 + mu_y**2 + SSIM_C1)
    return float((luminance * contrast).mean(dtype=np.float64)), float(contrast.mean(dtype=np.float64))


def _halve(image: np.ndarray) -> np.ndarray:
    """2x2 average pooling (an odd last row/column is dropped)."""
    height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    image = image[:height, :width]
    return (image[0::2, 0::2] + image[1::2, 0::2] + image[0::2, 1::2] + image[1::2, 1::2]) / 4


def ssim_and_ms_ssim(prediction: np.ndarray, truth: np.ndarray) -> tuple[float, float | None]:
    """SSIM and multi-scale SSIM (5 scales; None when the frame is too small) of two ``[H,W,3]``
    uint8 images, sharing the full-resolution pass."""
    x, y = _to_float(prediction), _to_float(truth)
    structural, contrast = _ssim_and_contrast(x, y)
    if min(truth.shape[:2]) < MS_SSIM_MIN_SIDE:
        return structural, None
    value = max(contrast, 0.0) ** MS_SSIM_WEIGHTS[0]
    for level, weight in enumerate(MS_SSIM_WEIGHTS[1:], start=1):
        x, y = _halve(x), _halve(y)
        structural_here, contrast = _ssim_and_contrast(x, y)
        term = structural_here if level == len(MS_SSIM_WEIGHTS) - 1 else contrast
        value *= max(term, 0.0) ** weight
    return structural, value


def ssim(prediction: np.ndarray, truth: np.ndarray) -> float:
    """SSIM of two ``[H,W,3]`` uint8 images (mean over RGB channels), in [-1, 1]."""
    return _ssim_and_contrast(_to_float(prediction), _to_float(truth))[0]


def ms_ssim(prediction: np.ndarray, truth: np.ndarray) -> float | None:
    """Multi-scale SSIM (5 scales) of two ``[H,W,3]`` uint8 images; None when too small."""
    return ssim_and_ms_ssim(prediction, truth)[1]


def flip_error(prediction: np.ndarray, truth: np.ndarray) -> float | None:
    """Mean FLIP error (NVIDIA's perceptual difference for alternating images, 0 = identical, lower is
    better) of two ``[H,W,3]`` uint8 sRGB frames at the default 67 pixels per degree; None when the
    ``flip-evaluator`` package (the ``eval`` extra) is not installed. It ships no weights."""
    try:
        import flip_evaluator
    except ImportError:
        return None
    # The package calls sys.exit on arguments it dislikes: hand it exactly what it wants.
    if prediction.shape != truth.shape or prediction.ndim != 3 or prediction.shape[2] != 3:
        raise ValueError(f"FLIP needs two [H,W,3] frames of one size, got {prediction.shape} and {truth.shape}")
    reference, test = _to_float(truth), _to_float(prediction)
    _, mean_error, _ = flip_evaluator.evaluate(reference, test, "LDR", applyMagma=False)
    return float(mean_error)


def psnr_u8(prediction: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of two ``[H,W,3]`` uint8 images (peak 255)."""
    return psnr(torch.from_numpy(prediction / 255.0), torch.from_numpy(truth / 255.0))


def window_oracle(candidates: list[torch.Tensor], truth: torch.Tensor, window: int = 8) -> torch.Tensor:
    """Per ``window`` x ``window`` block the candidate (``[Q,3,H,W]`` each) with the least squared error
    to the truth. Unlike :func:`oracle_blend`'s choice per pixel, which also fits the noise and the
    resampling blur of each pixel (the lower of two errors is always lower), a block's choice is one a
    method could make from what it sees: the honest upper bound of a blend."""
    errors = torch.stack([F.avg_pool2d(((c - truth) ** 2).mean(1, keepdim=True), window, ceil_mode=True)
                          for c in candidates])
    best = errors.argmin(dim=0)  # [Q,1,h,w]
    best = F.interpolate(best.float(), scale_factor=float(window), mode="nearest")[..., :truth.shape[2], :truth.shape[3]].long()
    stacked = torch.stack(candidates)  # [K,Q,3,H,W]
    return torch.gather(stacked, 0, best.unsqueeze(0).expand(1, -1, 3, -1, -1)).squeeze(0)


def oracle_blend(warped0: torch.Tensor, warped1: torch.Tensor, truth: torch.Tensor, half: bool = False) -> torch.Tensor:
    """Per pixel the warped frame (``[B,3,H,W]``) closer to the truth; ``half``: that choice pooled to
    half resolution and back. It peeks at the truth, so no real method can choose better between two
    warped frames: the ceiling benchmarks' upper bound."""
    pick0 = ((warped0 - truth).abs().sum(1, keepdim=True) < (warped1 - truth).abs().sum(1, keepdim=True)).float()
    if half:
        pick0 = F.interpolate(F.avg_pool2d(pick0, 2), scale_factor=2.0, mode="bilinear", align_corners=False)
    return pick0 * warped0 + (1 - pick0) * warped1
