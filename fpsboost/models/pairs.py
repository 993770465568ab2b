"""A frame pair before its motion is measured: brightness matched (fades, flashes), dark pairs
contrast-stretched; and the pair's flows (:class:`PairFlows`), whichever estimator made them."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

# Dark pairs (night scenes, fades) are stretched before their flow is estimated: the estimator
# learnt motion on lit scenes and, on a pair whose contrast is a few code values, saw motion in
# the noise (still pairs of held-out scenes at 0.12 brightness: 7.35 px of flow on average).
# Pairs whose pixel standard deviation is below MIN_PAIR_CONTRAST are stretched up to it, by at
# most MAX_CONTRAST_GAIN times; lit pairs are untouched. Measured in benchmarks/dark/RESULTS.md.
MIN_PAIR_CONTRAST = 0.1
MAX_CONTRAST_GAIN = 8.0
# Fades and flashes change the whole picture's brightness between two frames. The network is asked
# to move things, not to cross-fade them, so a pair whose second frame is a global brightness map
# of the first (per channel: gain = ratio of standard deviations, offset = difference of means
# after it) is first brought to the first frame's brightness, and the map is applied back at t.
# Only a clear change of the average brightness counts: in plain motion the standard deviations
# move too (things enter and leave), and the mean by up to 0.021 on the real test clips. And only
# between frames that both have a picture (a fade from black has nothing to map).
FADE_MEAN_CHANGE = 0.03
FADE_MIN_CONTRAST = 0.02
FADE_MAX_GAIN = 4.0
# Black follows no brightness map (a fade cannot darken it, a clip leaves it at 0), and a pan or a
# cut-in that reveals a black border changes the mean without any fade: a pan drawn on twos
# revealing the black past its background's edge (black from 9 % to 16 % of the picture) read as
# gain 1.27, offset -0.25, and the in-betweens drawn from the second frame came out grey there. So the
# map is measured on the pixels that are black (every channel at most BLACK_LEVEL) in neither frame.
BLACK_LEVEL = 2 / 255
MIN_MEASURED_SHARE = 1e-3  # below this share of the picture left to measure, the statistics read as none
# And only where the two frames' lit pixels are mostly the same ones: light text scrolling over black is
# lit in both frames only where lines overlap, and those few edge pixels differ in brightness. Credits
# rolling 4-16 px a frame read as maps of offset -0.03 to -0.11, and their in-betweens came out at 10-11 dB.
FADE_MIN_LIT_OVERLAP = 0.5
# A pair's brightness statistics are read from every STATISTICS_STEP-th row and column: a quarter of
# the pixels gives the same means and spreads to within 6e-4 (on a 854x480 cel pair, against the
# 0.03 a fade must move the mean), and the map for 8 pairs at 854x480 took 91 ms instead of 309 (it
# runs twice per pair: before DIS and in the network).
STATISTICS_STEP = 2


@dataclass
class BrightnessChange:
    """Per pair and channel, ``image1 ~ gain * image0 + offset`` (``[P,3,1,1]``; 1 and 0 where none)."""

    gain: torch.Tensor
    offset: torch.Tensor

    def changes_anything(self) -> bool:
        """Whether any pair has a brightness map (eager code only: a traced graph would fix the answer)."""
        return bool(((self.gain != 1) | (self.offset != 0)).any())

    def undo(self, image1: torch.Tensor) -> torch.Tensor:
        """``image1`` at ``image0``'s brightness."""
        return ((image1 - self.offset) / self.gain).clamp(0, 1)

    def at(self, frames: torch.Tensor, pair_index: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """In-betweens made at ``image0``'s brightness, given the brightness of time ``t`` (linear in t)."""
        t = t.view(-1, 1, 1, 1).to(frames.dtype)
        gain, offset = self.gain[pair_index], self.offset[pair_index]
        return (frames * (1 + t * (gain - 1)) + t * offset).clamp(0, 1)


def sampled(image: torch.Tensor) -> torch.Tensor:
    """Every :data:`STATISTICS_STEP`-th row and column of ``image`` (a view): what global statistics read."""
    return image[..., ::STATISTICS_STEP, ::STATISTICS_STEP]


def mean_and_spread(image: torch.Tensor, dims: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation over ``dims`` (kept), from the means of x and x^2: one cheap pass
    each (``torch.std`` took 8.4 ms on a 480p frame on one CPU thread, this 1 ms)."""
    mean = image.mean(dim=dims, keepdim=True)
    variance = (image * image).mean(dim=dims, keepdim=True) - mean * mean
    return mean, variance.clamp(min=0).sqrt()


def masked_mean_and_spread(image: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image and channel (``[P,C,1,1]``), the mean and standard deviation of ``image`` over the
    pixels ``weight`` (``[P,1,H,W]``, 0 or 1) keeps; 0 and 0 where it keeps (almost) none."""
    # Means, not sums: a half-precision sum over a 4K frame would overflow.
    share = weight.mean(dim=(2, 3), keepdim=True).clamp(min=MIN_MEASURED_SHARE)
    mean = (image * weight).mean(dim=(2, 3), keepdim=True) / share
    variance = (image * image * weight).mean(dim=(2, 3), keepdim=True) / share - mean * mean
    return mean, variance.clamp(min=0).sqrt()


def brightness_change(image0: torch.Tensor, image1: torch.Tensor) -> BrightnessChange:
    """The global brightness map from ``image0`` to ``image1`` (``[P,3,H,W]``) where it is clear,
    measured where neither frame is black (:data:`BLACK_LEVEL`), on a grid of every
    :data:`STATISTICS_STEP`-th pixel."""
    image0, image1 = sampled(image0), sampled(image1)
    lit0, lit1 = image0.amax(dim=1, keepdim=True) > BLACK_LEVEL, image1.amax(dim=1, keepdim=True) > BLACK_LEVEL
    lit = (lit0 & lit1).to(image0.dtype)
    overlap = lit.mean(dim=(2, 3), keepdim=True) / (lit0 | lit1).to(image0.dtype).mean(dim=(2, 3), keepdim=True).clamp(min=MIN_MEASURED_SHARE)
    (mean0, spread0), (mean1, spread1) = masked_mean_and_spread(image0, lit), masked_mean_and_spread(image1, lit)
    gain = spread1 / spread0.clamp(min=FADE_MIN_CONTRAST)
    offset = mean1 - gain * mean0
    clear = ((mean1 - mean0).mean(dim=1, keepdim=True).abs() > FADE_MEAN_CHANGE) & (overlap >= FADE_MIN_LIT_OVERLAP)
    usable = (spread0 > FADE_MIN_CONTRAST) & (spread1 > FADE_MIN_CONTRAST) & (gain < FADE_MAX_GAIN) & (gain > 1 / FADE_MAX_GAIN)
    # One decision per pair: all channels mapped, or none.
    apply = (clear & usable.all(dim=1, keepdim=True)).expand_as(gain)
    return BrightnessChange(torch.where(apply, gain, torch.ones_like(gain)), torch.where(apply, offset, torch.zeros_like(offset)))


def stretch_dark_contrast(image0: torch.Tensor, image1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both frames of each pair under one affine brightness map that lifts a dark pair's contrast
    (``[B,3,H,W]`` each; identity where the pair's standard deviation reaches MIN_PAIR_CONTRAST).

    The same map for both frames keeps the motion between them; the mean moves towards mid-grey
    as the gain grows, so a stretched dark pair stays inside the range the estimator knows.
    """
    mean, gain, centre, dark = _dark_stretch(image0, image1)
    return tuple(torch.where(dark, (image - mean) * gain + centre, image) for image in (image0, image1))


def stretch_dark_pairs(image0: torch.Tensor, image1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`stretch_dark_contrast` for eager code outside the network graph (DIS's input): a batch
    with no dark pair passes through without touching its pixels (lit footage, nearly all of it,
    paid a full-resolution stretch per frame for nothing)."""
    mean, gain, centre, dark = _dark_stretch(image0, image1)
    if not bool(dark.any()):
        return image0, image1
    return tuple(torch.where(dark, (image - mean) * gain + centre, image) for image in (image0, image1))


def _dark_stretch(image0: torch.Tensor, image1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per pair ``[B,1,1,1]``: the pair's mean (on the :func:`sampled` grid), the stretch's gain and new centre, and whether it is dark."""
    # Both frames' pixels together, without copying them into one tensor.
    image0, image1 = sampled(image0), sampled(image1)
    mean = (image0.mean(dim=(1, 2, 3), keepdim=True) + image1.mean(dim=(1, 2, 3), keepdim=True)) / 2
    square = ((image0 * image0).mean(dim=(1, 2, 3), keepdim=True) + (image1 * image1).mean(dim=(1, 2, 3), keepdim=True)) / 2
    spread = (square - mean * mean).clamp(min=0).sqrt()
    gain = (MIN_PAIR_CONTRAST / spread.clamp(min=1e-4)).clamp(min=1.0, max=MAX_CONTRAST_GAIN)
    centre = mean + (0.5 - mean) * (1 - 1 / gain)
    return mean, gain, centre, gain > 1  # lit pairs pass through bit for bit


@dataclass
class PairFlows:
    """t-independent state of one batch of pairs: full-resolution flows ``[B,2,H,W]`` in pixels."""

    flow_0to1: torch.Tensor
    flow_1to0: torch.Tensor
    intermediate: list[torch.Tensor] = field(default_factory=list)  # [B,4,H,W] after each block (training)
    # [B,4,H,W] or None: each frame's acceleration (frame 0's, then frame 1's, pixels per pair interval
    # squared) from the neighbouring frames' flows (fpsboost.models.acceleration); zero where none belongs.
    acceleration: torch.Tensor | None = None
