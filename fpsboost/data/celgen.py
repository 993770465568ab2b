"""Procedural cel animation with exact ground truth at any time.

A :class:`CelScene` is a stack of layers (painted backgrounds, cel-shaded sprites with outlines,
static caption text, and with ``MotionStyle.moving_text_probability`` lines of text scrolling like
credits) with analytic motion: translation with acceleration, rotation, scaling, a non-rigid
sinusoidal deformation, a camera pan and zoom with parallax, and global brightness changes
(flashes, fades). Because motion is analytic, the scene renders the frame at any real time t and
the optical flow between any two times, so every in-between (and every future frame) is known.

Time is in frame units: frame k is at time k.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

OUTLINE_COLOR_MAX = 60  # outlines are dark: each channel below this (0-255)
TEXT_SAMPLES = ("EPISODE 12", "NEXT TIME", "fpsboost", "LIVE", "00:23:59", "HEY!", "To be continued", "SCORE 9999")


@dataclass(frozen=True)
class MotionStyle:
    """How much the scene moves, in fractions of the canvas width per frame."""

    max_speed: float = 0.10
    max_rotation: float = 0.08  # radians per frame
    max_zoom: float = 0.03  # relative scale change per frame
    deform_probability: float = 0.4
    flash_probability: float = 0.15
    text_probability: float = 0.25
    # Hard cases added on top of a scene (off in the held-out sets, whose scenes stay as they were):
    small_fast_probability: float = 0.0  # small sprites moving about their own size per frame
    flat_background_probability: float = 0.0  # untextured background, as in many cels
    moving_text_probability: float = 0.0  # lines of text scrolling over the scene, as end credits do
    crossing_probability: float = 0.0  # 2-3 sprites that pass over each other, easing in or out (occlusion)


TRAINING_STYLE = MotionStyle(small_fast_probability=0.3, flat_background_probability=0.25)  # moving text: --moving-text-probability
# CelFlow v2 trains on more occlusion: sprites crossing each other with easing (fpsboost train --crossing-probability).


@dataclass
class Layer:
    texture: torch.Tensor  # [4, h, w] premultiplied RGBA in [0,1]
    position: np.ndarray  # canvas pixel of the texture centre at t=0, (x, y)
    velocity: np.ndarray  # pixels per frame
    acceleration: np.ndarray  # pixels per frame^2
    angle: float
    angular_velocity: float
    scale: float
    scale_rate: float  # log-scale per frame
    parallax: float  # how strongly the camera moves this layer (0 = fixed to screen)
    deform_amplitude: float = 0.0  # texture pixels
    deform_wavelength: float = 50.0
    deform_speed: float = 0.0  # radians per frame
    deform_phase: float = 0.0


def _random_color(rng: np.random.Generator, low: int = 40, high: int = 255) -> np.ndarray:
    return rng.integers(low, high, size=3).astype(np.float32)


def _cel_sprite(rng: np.random.Generator, size: int) -> np.ndarray:
    """An RGBA uint8 sprite: flat colour regions, 2-3 cel tones, dark outlines, thin inner lines."""
    mask = np.zeros((size, size), np.uint8)
    centre = size / 2
    for _ in range(rng.integers(1, 4)):
        kind = rng.integers(0, 3)
        cx, cy = (centre + rng.normal(0, size * 0.12, 2)).astype(int)
        if kind == 0:
            axes = (int(rng.uniform(0.12, 0.4) * size), int(rng.uniform(0.12, 0.4) * size))
            cv2.ellipse(mask, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
        elif kind == 1:
            count = rng.integers(3, 8)
            angles = np.sort(rng.uniform(0, 2 * np.pi, count))
            radii = rng.uniform(0.15, 0.42, count) * size
            points = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1).astype(np.int32)
            cv2.fillPoly(mask, [points], 255)
        else:
            w, h = rng.uniform(0.15, 0.45, 2) * size
            cv2.rectangle(mask, (int(cx - w / 2), int(cy - h / 2)), (int(cx + w / 2), int(cy + h / 2)), 255, -1)
    base = _random_color(rng)
    # Cel shading: a light direction splits the shape into lit, mid and shadow tones.
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(direction) * (xx - centre) + np.sin(direction) * (yy - centre)) / size
    tones = rng.integers(2, 4)
    thresholds = np.sort(rng.uniform(-0.2, 0.2, tones - 1))
    level = np.digitize(ramp, thresholds).astype(np.float32)
    shade = 0.6 + 0.4 * level / max(tones - 1, 1)
    rgb = base[None, None, :] * shade[..., None]
    if rng.random() < 0.3:  # soft gradient overlay, as on skies, hair highlights, glows
        rgb = rgb * (0.85 + 0.3 * (yy / size))[..., None]
    # A second colour region (clothes, eyes) inside the shape.
    if rng.random() < 0.7:
        region = np.zeros_like(mask)
        cv2.circle(region, tuple((centre + rng.normal(0, size * 0.1, 2)).astype(int)), int(size * rng.uniform(0.06, 0.18)), 255, -1)
        region &= mask
        rgb[region > 0] = _random_color(rng)
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(rgb, contours, -1, _random_color(rng, 0, OUTLINE_COLOR_MAX).tolist(), int(rng.integers(1, 3)))
    outline_width = int(rng.integers(1, 5))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    outline_color = _random_color(rng, 0, OUTLINE_COLOR_MAX).tolist()
    cv2.drawContours(rgb, contours, -1, outline_color, outline_width)
    alpha = mask.copy()
    cv2.drawContours(alpha, contours, -1, 255, outline_width)
    for _ in range(rng.integers(0, 4)):  # thin detail lines (hair strands, folds)
        p0 = tuple(int(v) for v in centre + rng.normal(0, size * 0.15, 2))
        p1 = tuple(int(v) for v in centre + rng.normal(0, size * 0.15, 2))
        cv2.line(rgb, p0, p1, outline_color, 1, cv2.LINE_AA)
    rgb = np.clip(rgb, 0, 255) * (alpha[..., None] > 0)
    return np.concatenate([rgb, alpha[..., None].astype(np.float32)], axis=2).astype(np.uint8)


def _painted_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """An opaque RGB uint8 background: sky gradient, painted low-frequency texture, hills, clouds."""
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    top, bottom = _random_color(rng, 60), _random_color(rng, 60)
    image = top * (1 - yy) + bottom * yy + np.zeros((1, width, 1), np.float32)
    for octave in (8, 32):  # painted look: blurred noise at two sizes
        noise = rng.normal(0, 1, (max(height // octave, 2), max(width // octave, 2), 3)).astype(np.float32)
        image += cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC) * rng.uniform(4, 14)
    for _ in range(rng.integers(0, 4)):  # flat-coloured hills / buildings with outlines
        base_y = rng.uniform(0.4, 0.95) * height
        xs = np.linspace(0, width, rng.integers(3, 9))
        ys = base_y + rng.normal(0, height * 0.08, len(xs))
        points = np.concatenate([np.stack([xs, ys], 1), [[width, height], [0, height]]]).astype(np.int32)
        cv2.fillPoly(image, [points], _random_color(rng, 30).tolist())
        cv2.polylines(image, [points[:-2]], False, _random_color(rng, 0, OUTLINE_COLOR_MAX).tolist(), int(rng.integers(1, 4)))
    for _ in range(rng.integers(0, 5)):  # clouds / leaves: soft ellipses
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        axes = (int(rng.uniform(0.03, 0.12) * width), int(rng.uniform(0.02, 0.06) * height))
        cv2.ellipse(image, centre, axes, 0, 0, 360, _random_color(rng, 150).tolist(), -1, cv2.LINE_AA)
    return np.clip(image, 0, 255).astype(np.uint8)


TEXT_FILL = (250, 250, 250, 255)
TEXT_OUTLINE = (20, 20, 20, 255)
TEXT_OUTLINE_EXTRA_PX = 2  # the outline is drawn this much thicker, under the fill


def _draw_text(rgba: np.ndarray, text: str, org: tuple[int, int], scale: float, thickness: int, outline: bool) -> None:
    """White text on ``rgba`` (in place), over a dark outline when ``outline``."""
    strokes = ((TEXT_OUTLINE, TEXT_OUTLINE_EXTRA_PX),) if outline else ()
    for color, extra in strokes + ((TEXT_FILL, 0),):
        cv2.putText(rgba, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness + extra, cv2.LINE_AA)


def _text_layer(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """RGBA uint8 canvas-sized layer with static caption text (white with a dark outline)."""
    rgba = np.zeros((height, width, 4), np.uint8)
    text = TEXT_SAMPLES[rng.integers(len(TEXT_SAMPLES))]
    scale = rng.uniform(0.4, 1.0) * width / 320
    org = (int(rng.uniform(0.02, 0.4) * width), int(rng.uniform(0.15, 0.95) * height))
    _draw_text(rgba, text, org, scale, max(1, int(scale * 2)), outline=True)
    return rgba


def _credits_layer(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """RGBA uint8 layer twice the canvas high: 3-10 lines of thin text, outlined or plain, to
    scroll like end credits or a ticker (celgen's caption text never moves)."""
    rgba = np.zeros((2 * height, width, 4), np.uint8)
    scale = rng.uniform(0.3, 0.8) * width / 320
    spacing = max(int(rng.uniform(1.3, 2.5) * 30 * scale), 6)
    left = int(rng.uniform(0.02, 0.4) * width)
    thickness = max(1, int(scale * rng.uniform(1.0, 2.0)))
    outline = rng.random() < 0.5
    top = int(rng.uniform(0.05, 0.3) * height)
    for line in range(rng.integers(3, 11)):
        text = TEXT_SAMPLES[rng.integers(len(TEXT_SAMPLES))]
        _draw_text(rgba, text, (left + int(rng.uniform(-0.05, 0.05) * width), top + line * spacing), scale, thickness, outline)
    return rgba


def _to_texture(rgba: np.ndarray) -> torch.Tensor:
    texture = torch.from_numpy(rgba).float().permute(2, 0, 1) / 255.0
    texture[:3] *= texture[3:4]  # premultiplied alpha composites and resamples without dark fringes
    return texture


def _pixel_grid(left: int, top: int, height: int, width: int) -> torch.Tensor:
    """``[height, width, 2]`` canvas coordinates (x, y) of a window's pixels."""
    ys, xs = torch.meshgrid(torch.arange(top, top + height, dtype=torch.float32),
                            torch.arange(left, left + width, dtype=torch.float32), indexing="ij")
    return torch.stack([xs, ys], -1)


class CelScene:
    """A random animated scene; :meth:`render` gives frames and :meth:`flow` exact motion."""

    def __init__(self, seed: int, height: int = 256, width: int = 256, style: MotionStyle = MotionStyle()) -> None:
        rng = np.random.default_rng(seed)
        self.height, self.width = height, width
        self.layers: list[Layer] = []
        speed = style.max_speed * width * rng.uniform(0.05, 1.0) ** 1.5  # mostly moderate, sometimes large
        pan_angle = rng.uniform(0, 2 * np.pi)
        self.camera_pan = speed * rng.uniform(0, 1) * np.array([math.cos(pan_angle), math.sin(pan_angle)]) * (rng.random() < 0.6)
        self.camera_zoom = rng.uniform(-style.max_zoom, style.max_zoom) * (rng.random() < 0.3)
        for depth in range(rng.integers(1, 3)):
            factor = 2.0
            background = _painted_background(rng, int(height * factor), int(width * factor))
            if depth > 0:  # a nearer background layer: keep only a band, transparent above
                alpha = np.zeros(background.shape[:2], np.uint8)
                cv2.rectangle(alpha, (0, int(background.shape[0] * rng.uniform(0.5, 0.8))), (background.shape[1], background.shape[0]), 255, -1)
                background = np.concatenate([background, alpha[..., None]], 2)
            else:
                background = np.concatenate([background, np.full(background.shape[:2] + (1,), 255, np.uint8)], 2)
            self.layers.append(Layer(
                _to_texture(background), np.array([width / 2, height / 2]) + rng.normal(0, width * 0.1, 2),
                np.zeros(2), np.zeros(2), 0.0, 0.0, 1.0, 0.0, parallax=0.4 + 0.4 * depth,
            ))
        for _ in range(rng.integers(1, 6)):
            size = int(rng.uniform(0.2, 0.6) * min(height, width))
            direction = rng.uniform(0, 2 * np.pi)
            velocity = speed * rng.uniform(0.2, 1.2) * np.array([math.cos(direction), math.sin(direction)])
            start = rng.uniform([-0.1 * width, -0.1 * height], [1.1 * width, 1.1 * height])
            deform = rng.random() < style.deform_probability
            self.layers.append(Layer(
                _to_texture(_cel_sprite(rng, size)), start, velocity,
                rng.normal(0, speed * 0.05, 2), rng.uniform(0, 2 * np.pi),
                rng.uniform(-style.max_rotation, style.max_rotation) * (rng.random() < 0.5),
                rng.uniform(0.7, 1.3), rng.uniform(-style.max_zoom, style.max_zoom) * (rng.random() < 0.3),
                parallax=1.0,
                deform_amplitude=rng.uniform(1, max(size * 0.04, 1.0)) if deform else 0.0,
                deform_wavelength=rng.uniform(0.3, 1.0) * size, deform_speed=rng.uniform(0.1, 0.6),
                deform_phase=rng.uniform(0, 2 * np.pi),
            ))
        if rng.random() < style.text_probability:
            self.layers.append(Layer(_to_texture(_text_layer(rng, height, width)), np.array([width / 2, height / 2]),
                                     np.zeros(2), np.zeros(2), 0.0, 0.0, 1.0, 0.0, parallax=0.0))
        self.flash_time = rng.uniform(0, 8) if rng.random() < style.flash_probability else None
        self.flash_strength = rng.uniform(-0.5, 0.8)
        self.fade_rate = rng.uniform(-0.05, 0.05) * (rng.random() < 0.1)
        # Drawn last so that, with these options off, a seed renders exactly the scene it always did.
        if rng.random() < style.small_fast_probability:
            self._add_small_fast_sprites(rng, style)
        if rng.random() < style.flat_background_probability:
            self._flatten_background(rng)
        if rng.random() < style.moving_text_probability:
            self._add_moving_text(rng, style)
        if style.crossing_probability and rng.random() < style.crossing_probability:
            self._add_crossing_sprites(rng, style)
        self._screen = _pixel_grid(0, 0, height, width)  # [H, W, 2] canvas pixels that render() draws

    def window(self, left: int, top: int, height: int, width: int) -> "CelScene":
        """The same scene seen through a ``height`` x ``width`` window of its canvas.

        Renders and flows of the window cost only its own pixels, while motion keeps the canvas's
        pixel scale: a small training crop of a wide canvas moves as far as a full wide frame.
        """
        view = copy.copy(self)
        view._screen = _pixel_grid(left, top, height, width)
        return view

    def _add_small_fast_sprites(self, rng: np.random.Generator, style: MotionStyle) -> None:
        """1-3 sprites of 6-15 % of the canvas moving 0.4-1.5x their own size per frame."""
        below_text = len(self.layers) - (1 if self.layers[-1].parallax == 0.0 else 0)
        for _ in range(rng.integers(1, 4)):
            size = max(int(rng.uniform(0.06, 0.15) * min(self.height, self.width)), 8)
            speed = min(size * rng.uniform(0.4, 1.5), style.max_speed * self.width * 1.5)
            direction = rng.uniform(0, 2 * np.pi)
            layer = Layer(
                _to_texture(_cel_sprite(rng, size)), rng.uniform([0, 0], [self.width, self.height]),
                speed * np.array([math.cos(direction), math.sin(direction)]), np.zeros(2),
                rng.uniform(0, 2 * np.pi), 0.0, 1.0, 0.0, parallax=1.0,
            )
            self.layers.insert(below_text, layer)

    def _add_moving_text(self, rng: np.random.Generator, style: MotionStyle) -> None:
        """Text lines on top of everything, moving at one speed: up (credits) or sideways (a ticker)."""
        speed = style.max_speed * self.width * rng.uniform(0.02, 0.5)
        direction = np.array([0.0, -1.0]) if rng.random() < 0.7 else np.array([rng.choice([-1.0, 1.0]), 0.0])
        self.layers.append(Layer(
            _to_texture(_credits_layer(rng, self.height, self.width)),
            np.array([self.width / 2, self.height * rng.uniform(0.6, 1.2)]), speed * direction, np.zeros(2),
            0.0, 0.0, 1.0, 0.0, parallax=0.0,
        ))

    def _add_crossing_sprites(self, rng: np.random.Generator, style: MotionStyle) -> None:
        """2-3 sprites that overlap near one point at a random time of the first frames, each easing
        in or out (accelerating along or against its motion), so one uncovers what another hides."""
        below_text = len(self.layers) - (1 if self.layers[-1].parallax == 0.0 else 0)
        meeting = rng.uniform([0.3 * self.width, 0.3 * self.height], [0.7 * self.width, 0.7 * self.height])
        meeting_time = rng.uniform(1.0, 6.0)
        for _ in range(rng.integers(2, 4)):
            size = max(int(rng.uniform(0.12, 0.35) * min(self.height, self.width)), 8)
            speed = style.max_speed * self.width * rng.uniform(0.1, 0.8)
            direction = rng.uniform(0, 2 * np.pi)
            velocity = speed * np.array([math.cos(direction), math.sin(direction)])
            # Easing: the speed changes by up to half of itself per frame, along the motion.
            acceleration = velocity * rng.uniform(-0.15, 0.15)
            start = meeting - velocity * meeting_time - 0.5 * acceleration * meeting_time**2
            self.layers.insert(below_text, Layer(
                _to_texture(_cel_sprite(rng, size)), start, velocity, acceleration, rng.uniform(0, 2 * np.pi),
                rng.uniform(-style.max_rotation, style.max_rotation) * (rng.random() < 0.3), 1.0, 0.0, parallax=1.0,
            ))

    def _flatten_background(self, rng: np.random.Generator) -> None:
        """Replace the farthest background by a flat colour or a plain vertical gradient."""
        texture = self.layers[0].texture
        top, bottom = torch.from_numpy(_random_color(rng, 60) / 255), torch.from_numpy(_random_color(rng, 60) / 255)
        if rng.random() < 0.5:
            bottom = top
        ramp = torch.linspace(0, 1, texture.shape[1]).view(1, -1, 1)
        colour = top.view(3, 1, 1).float() * (1 - ramp) + bottom.view(3, 1, 1).float() * ramp
        texture[:3] = colour.expand(3, texture.shape[1], texture.shape[2])
        texture[3] = 1.0

    # -- geometry ---------------------------------------------------------------------------
    def _transform(self, layer: Layer, time: float) -> tuple[np.ndarray, np.ndarray]:
        """Screen = A @ (u - texture_centre) + b at ``time``; returns (A [2x2], b [2])."""
        position = layer.position + layer.velocity * time + 0.5 * layer.acceleration * time * time
        position = position - self.camera_pan * time * layer.parallax
        zoom = math.exp(self.camera_zoom * time * layer.parallax)
        centre = np.array([self.width / 2, self.height / 2])
        position = centre + (position - centre) * zoom
        scale = layer.scale * math.exp(layer.scale_rate * time) * zoom
        angle = layer.angle + layer.angular_velocity * time
        rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        return rotation * scale, position

    def _deform(self, layer: Layer, u: torch.Tensor, time: float) -> torch.Tensor:
        """Texture-space displacement [..., 2] of the non-rigid wobble at ``time``."""
        if layer.deform_amplitude == 0:
            return torch.zeros_like(u)
        phase = layer.deform_phase + layer.deform_speed * time
        k = 2 * math.pi / layer.deform_wavelength
        return layer.deform_amplitude * torch.stack([torch.sin(u[..., 1] * k + phase), torch.sin(u[..., 0] * k + 1.3 * phase)], -1)

    def _texture_coords(self, layer: Layer, time: float) -> torch.Tensor:
        """Texture pixel sampled by every screen pixel at ``time`` ([H, W, 2])."""
        matrix, offset = self._transform(layer, time)
        inverse = torch.from_numpy(np.linalg.inv(matrix)).float()
        h, w = layer.texture.shape[1:]
        u = (self._screen - torch.from_numpy(offset).float()) @ inverse.T + torch.tensor([w / 2, h / 2])
        return u - self._deform(layer, u, time)

    def _sample(self, layer: Layer, coords: torch.Tensor) -> torch.Tensor:
        h, w = layer.texture.shape[1:]
        grid = torch.stack([coords[..., 0] * 2 / (w - 1) - 1, coords[..., 1] * 2 / (h - 1) - 1], -1)
        return F.grid_sample(layer.texture[None], grid[None], mode="bilinear", padding_mode="zeros", align_corners=True)[0]

    def _brightness(self, time: float) -> float:
        gain = 1.0 + self.fade_rate * time
        if self.flash_time is not None:
            gain += self.flash_strength * math.exp(-((time - self.flash_time) / 0.6) ** 2)
        return max(gain, 0.05)

    # -- public -------------------------------------------------------------------------------
    def render(self, time: float) -> torch.Tensor:
        """The frame at ``time``: ``[3, H, W]`` float in [0,1]."""
        image = torch.zeros(3, *self._screen.shape[:2])
        for layer in self.layers:
            sample = self._sample(layer, self._texture_coords(layer, time))
            image = sample[:3] + image * (1 - sample[3:4])
        gain = self._brightness(time)
        return (image * gain).clamp(0, 1) if gain <= 1 else 1 - (1 - image) / gain

    def flow(self, source_time: float, target_time: float) -> torch.Tensor:
        """Exact backward-warping flow ``[2, H, W]``: where each pixel at ``source_time`` is at ``target_time``."""
        destination = self._screen.clone()
        for layer in self.layers:  # back to front: the topmost opaque layer wins
            coords = self._texture_coords(layer, source_time)
            visible = self._sample(layer, coords)[3] > 0.5
            if not visible.any():
                continue
            u = coords + self._deform(layer, coords, target_time)
            matrix, offset = self._transform(layer, target_time)
            h, w = layer.texture.shape[1:]
            moved = (u - torch.tensor([w / 2, h / 2])) @ torch.from_numpy(matrix).float().T + torch.from_numpy(offset).float()
            destination = torch.where(visible[..., None], moved, destination)
        return (destination - self._screen).permute(2, 0, 1).contiguous()
