"""Network configurations and the named presets: plain dataclasses, no torch (the command line
lists presets without loading the network)."""

from __future__ import annotations

from dataclasses import dataclass

SYNTHESES = ("linear-blend", "visibility")
FLOW_SOURCES = ("network", "classical")
IN_FRAME_RULES = ("off", "everywhere", "camera")  # CelFlowConfig.in_frame_rule
MOTIONS_TO_T = ("linear", "splat", "splat-relative")  # CelFlowConfig.motion_to_t
SPLATTED_MOTIONS = ("splat", "splat-relative")  # the forms of motion_to_t that push the pair flows forward


@dataclass(frozen=True)
class CelFlowConfig:
    """Sizes of a CelFlow network; presets live in :mod:`fpsboost.models.presets`."""

    flow_scales: tuple[int, ...] = (8, 4, 2, 1)
    flow_widths: tuple[int, ...] = (96, 72, 48, 32)
    flow_depths: tuple[int, ...] = (4, 4, 3, 2)
    synth_scale: int = 2
    synth_width: int = 48
    synth_depth: int = 3
    # "linear-blend": v1's synthesiser (mask and residual at 1/8 resolution, learnt nothing);
    # "visibility": v2's (occlusion cues, a mask head, full-resolution edges; fpsboost.models.visibility).
    synthesis: str = "linear-blend"
    head_width: int = 16  # the visibility head's channels (synthesis "visibility" only)
    # "network": v1's learnt PairFlowEstimator; "classical": OpenCV DIS (fpsboost.models.classical_flow).
    flow_source: str = "network"
    # v2: whether the synthesis adds its learnt corrections to the linear-motion flows to t. Trained
    # with them; the shipped v2 leaves them out: on held-out real footage they cost 0.05 dB (bikes),
    # 0.23 dB (Big Buck Bunny at 640x360) and 0.62 dB (at 1280x720), for +0.11 dB on synthetic cels
    # (benchmarks/v2/RESULTS.md). A file's config says which; no weights change.
    flow_correction: bool = True
    # v2: whether the synthesis is offered quadratic motion from each frame's neighbours (the pairs'
    # accelerations, fpsboost.models.acceleration) and learns where to trust it. Off: two-frame motion.
    four_frame_motion: bool = False
    # v2: where a warp's source lies outside the picture (content entering or leaving the frame),
    # the other frame's warp draws the pixel (fpsboost.models.visibility.keep_in_frame). A rule, not
    # weights: "off", "everywhere", or "camera" (only where both warps move with the pair's dominant
    # translation). The shipped file says "camera": +0.27 dB on the held-out film at 1280x720, +0.12
    # on synthetic cels, +0.14 re-timing held drawings (benchmarks/edges/). Files written when this
    # was a flag say true or false: "everywhere" or "off".
    in_frame_rule: str = "off"
    # v2: how the pair flows become the flows from time t to each frame. "linear": read at the pixel of
    # time t itself (Super SloMo's formula), wrong along moving edges; "splat": each frame's pixels
    # pushed forward to t along their flow carry it there (fpsboost.models.visibility.splatted_motion_flows).
    # A rule, not weights, as in_frame_rule. "splat-relative": the same, but a pixel that only one frame
    # sees still carries its own motion into the hole it reveals (fpsboost.models.visibility.SPLAT_UNCOVERED).
    motion_to_t: str = "linear"
    # v2: channels of a learnt choice between the two warps at full resolution (FullResolutionChoice), on top
    # of the mask decided at the synthesis scale: the ceiling benchmark's perfect choice per pixel gains 0.9 dB
    # at full resolution over one at half, but trained it learnt nothing (benchmarks/ceiling/). 0: none, the
    # edge sharpener's one convolution only (every shipped file).
    full_choice_width: int = 0
    # v2 with motion_to_t "splat": whether the learnt blocks also see, per frame, how much of it the splat
    # brought to each pixel of time t (0 where that frame does not see the pixel; an occlusion cue of time t).
    coverage_cues: bool = False

    def __post_init__(self) -> None:
        if self.synthesis not in SYNTHESES:
            raise ValueError(f"unknown synthesis {self.synthesis!r}: use {', '.join(SYNTHESES)}")
        if isinstance(self.in_frame_rule, bool):
            object.__setattr__(self, "in_frame_rule", "everywhere" if self.in_frame_rule else "off")
        if self.in_frame_rule not in IN_FRAME_RULES:
            raise ValueError(f"unknown in-frame rule {self.in_frame_rule!r}: use {', '.join(IN_FRAME_RULES)}")
        if self.motion_to_t not in MOTIONS_TO_T:
            raise ValueError(f"unknown motion to t {self.motion_to_t!r}: use {', '.join(MOTIONS_TO_T)}")
        if self.coverage_cues and self.motion_to_t not in SPLATTED_MOTIONS:
            raise ValueError("coverage_cues needs a splatted motion_to_t (the coverage is the splat's)")
        if self.full_choice_width < 0:
            raise ValueError(f"full_choice_width must be at least 0, got {self.full_choice_width}")
        if self.flow_source not in FLOW_SOURCES:
            raise ValueError(f"unknown flow source {self.flow_source!r}: use {', '.join(FLOW_SOURCES)}")

    @property
    def stride(self) -> int:
        """Inputs are padded to a multiple of this (coarsest scale times the blocks' own 4x)."""
        return max(max(self.flow_scales), self.synth_scale) * 4

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in self.__dict__.items()}

    @classmethod
    def from_dict(cls, values: dict) -> "CelFlowConfig":
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})


PRESETS: dict[str, CelFlowConfig] = {
    "celflow-s": CelFlowConfig(),
    # v2: DIS pair flows, a synthesis that learns visibility (fpsboost.models.visibility).
    "celflow-v2": CelFlowConfig(synthesis="visibility", flow_source="classical"),
    # v2 with motion from four frames: each pair's neighbours offer a quadratic-motion candidate.
    "celflow-v2-four-frame": CelFlowConfig(synthesis="visibility", flow_source="classical", flow_correction=False,
                                           four_frame_motion=True),
    # The four-frame network with its synthesis's learnt blocks at 1/4 of the frame instead of 1/2, for
    # speed: shipped as weights/celflow-v2-fast.safetensors (benchmarks/v2/fast/).
    "celflow-v2-four-frame-quarter": CelFlowConfig(synthesis="visibility", flow_source="classical", flow_correction=False,
                                                   four_frame_motion=True, synth_scale=4),
    # The four-frame network with its flows to t splatted forward (motion_to_t "splat").
    "celflow-v2-four-frame-splat": CelFlowConfig(synthesis="visibility", flow_source="classical", flow_correction=False,
                                                 four_frame_motion=True, motion_to_t="splat"),
    # The splat network with a learnt choice at full resolution (8 channels; FullResolutionChoice).
    "celflow-v2-four-frame-splat-full": CelFlowConfig(synthesis="visibility", flow_source="classical",
                                                      flow_correction=False, four_frame_motion=True,
                                                      motion_to_t="splat", full_choice_width=8),
    # The splat network whose learnt blocks also see each frame's splat coverage at t (coverage_cues).
    "celflow-v2-four-frame-splat-coverage": CelFlowConfig(synthesis="visibility", flow_source="classical",
                                                          flow_correction=False, four_frame_motion=True,
                                                          motion_to_t="splat", coverage_cues=True),
    # v2's synthesis on v1's learnt flow estimator (measured, not shipped: benchmarks/v2/RESULTS.md).
    "celflow-v2-netflow": CelFlowConfig(synthesis="visibility"),
}
