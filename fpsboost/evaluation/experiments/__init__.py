"""The experiments behind ``benchmarks/``: one module each, run as ``fpsboost bench EXPERIMENT``.

Each module defines a frozen ``Settings`` dataclass (every field becomes a ``--field-name`` option of
its command; a field's ``metadata["help"]`` is the option's help) and ``run(settings) -> None``,
which measures and records its results with :func:`fpsboost.evaluation.report.write_report` into
``settings.out_dir`` (by default its folder under ``benchmarks/``). This index names them without
importing them, so listing the experiments loads no torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from ...errors import OptionError


@dataclass(frozen=True)
class Experiment:
    """One experiment: its command name, module (in this package), results folder and what it asks."""

    name: str
    module: str
    results: str
    summary: str


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("ceiling", "ceiling", "benchmarks/ceiling",
               "What limits in-between quality: how far warp-and-blend can go on the held-out synthetic set."),
    Experiment("flow", "flow", "benchmarks/flow", "How accurate the network's motion is: end-point error against the exact flow."),
    Experiment("flow-scale", "flow_scale", "benchmarks/flow_scale",
               "Which --flow-scale suits which frame size: quality and time at 1, 0.5 and 0.25."),
    Experiment("dis-settings", "dis_settings", "benchmarks/dis_settings",
               "Does a better-tuned DIS give better motion? DIS settings against the medium preset, plain blend."),
    Experiment("dis-hypotheses", "dis_hypotheses", "benchmarks/dis_settings/hypotheses",
               "DIS on luma alone, or with a second hypothesis on the pair's chroma: chosen outside the test sets."),
    Experiment("edges", "edges", "benchmarks/edges",
               "The picture's edges: DIS on the picture rather than the padded pair, and the in-frame rule."),
    Experiment("credits", "credits", "benchmarks/credits", "Scrolling credits: the network against DIS and a blend."),
    Experiment("dark", "dark", "benchmarks/dark", "Dark scenes, fades and flashes: with and without the photometric handling."),
    Experiment("v2", "v2_design", "benchmarks/v2",
               "CelFlow v2: where its motion comes from, what its learnt visibility does, how much of the oracle it recovers."),
    Experiment("v2-speed", "v2_speed", "benchmarks/v2", "v1 against v2: network time per in-between, interleaved rounds."),
    Experiment("splat-rule", "splat_rule", "benchmarks/v2/splat/rule",
               "Which rule makes the flows at t from the splat, and its constants: chosen outside the test sets."),
    Experiment("four-frame", "four_frame", "benchmarks/v2/four_frame",
               "Motion from four frames: does the acceleration candidate help? Held-out synthetic and real."),
    Experiment("four-frame-trust", "four_frame_trust", "benchmarks/v2/four_frame",
               "How much of the acceleration the four-frame network trusts, and where its blend departs from 1 - t."),
    Experiment("extrapolation", "extrapolation", "benchmarks/extrapolation",
               "Extrapolation quality per step after the last frame: network against baselines."),
    Experiment("extrapolation-acceleration", "extrapolation_acceleration", "benchmarks/v2/extrapolation",
               "Should the tail continue motion with its acceleration? Constant speed against measured acceleration."),
    Experiment("cadence", "cadence", "benchmarks/cadence",
               "Re-timing held drawings against exact ground truth: anime on twos and threes."),
    Experiment("cadence-false-holds", "cadence_false_holds", "benchmarks/cadence",
               "False holds on real footage: frames called held that are new pictures."),
    Experiment("cadence-pan-shift", "cadence_pan_shift", "benchmarks/cadence",
               "Where the pan rule's thresholds come from: the global shift of held frames against pans."),
    Experiment("cadence-prior-cost", "cadence_prior_cost", "benchmarks/cadence",
               "What the cadence prior costs: characters on twos with a small element moving on ones."),
    Experiment("cadence-codec-holds", "cadence_codec_holds", "benchmarks/cadence",
               "Hold detection through real encoders: how often a lossy codec breaks a held drawing."),
    Experiment("backends", "backends", "benchmarks/backends", "torch against onnxruntime on the CPU: network ms per in-between."),
    Experiment("gpu", "gpu", "benchmarks/gpu", "What only a CUDA machine can check: the GPU's frames against the CPU's, per precision."),
    Experiment("e2e", "e2e", "benchmarks/speed", "End to end on a CPU: fpsboost IN OUT against ffmpeg minterpolate, side by side."),
    Experiment("batch", "batch", "benchmarks/batch",
               "fpsboost batch on one machine: 1 worker against 2, and equality with the single job."),
)


def find_experiment(name: str) -> Experiment:
    """The experiment called ``name``; an :class:`OptionError` naming the known ones otherwise."""
    for experiment in EXPERIMENTS:
        if experiment.name == name:
            return experiment
    raise OptionError(f"unknown experiment {name!r}: use {', '.join(e.name for e in EXPERIMENTS)}")


def load_experiment(experiment: Experiment) -> ModuleType:
    """Import the experiment's module (its ``Settings`` and ``run``)."""
    return importlib.import_module(f"{__name__}.{experiment.module}")
