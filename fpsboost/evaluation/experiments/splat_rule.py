"""Which rule makes the flows at t from the splat, and with which constants? Chosen outside the test sets.

    fpsboost bench splat-rule --real-dir DIR [--per-split 10] [--windows 20] [--threads 2]

The shipped network (or ``--weights``) is scored with its synthesis's ``motion_to_t`` set to "splat"
(the hole filled where the landed weights sum to little) and to "splat-relative" over a grid of
its two constants (:data:`~fpsboost.models.visibility.SPLAT_MAX_INCONSISTENCY`,
:data:`~fpsboost.models.visibility.SPLAT_UNCOVERED`), on the selection sets
(:mod:`fpsboost.evaluation.selection_sets`) and the training's own validation scenes (48 at 192 px,
and the same on a 1.5x canvas). No test set takes part. Writes ``results.json`` and ``RESULTS.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ..baselines import NetworkMethod
from ..report import write_report
from ..selection_sets import ordered_columns, score, selection_sets
from ..speed import limit_threads

VALIDATION_SIZE, WIDE_CANVAS = 192, 1.5  # as fpsboost train validates
# (SPLAT_MAX_INCONSISTENCY, SPLAT_UNCOVERED) tried under "splat-relative".
RELATIVE_GRID = ((5.0, 0.05), (5.0, 0.2), (6.0, 0.1), (6.0, 0.2), (6.0, 0.3), (7.0, 0.2))


@dataclass(frozen=True)
class Settings:
    real_dir: str | None = field(default=None, metadata={"help": "folder with bikes.mp4 (the film: here or in the data cache)"})
    weights: str | None = field(default=None, metadata={"help": "weights to measure (default: the shipped model)"})
    per_split: int = field(default=10, metadata={"help": "synthetic scenes per motion split"})
    windows: int = field(default=20, metadata={"help": "windows per real clip"})
    validation_scenes: int = field(default=48, metadata={"help": "the training's validation scenes (48 as it validates)"})
    threads: int = 2
    out_dir: str = "benchmarks/v2/splat/rule"


def score_variants(settings: Any, variants: list[tuple[str, Callable[[Any], None]]], restore: Callable[[], None]
                   ) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """PSNR per set for each ``(name, apply)`` variant, ``apply(network)`` setting it up, and the sets'
    sizes; ``restore()`` puts back what the variants change, however the measuring ends. ``settings``:
    real_dir, weights, per_split, windows, validation_scenes (as this module's :class:`Settings`)."""
    import torch

    from ...data.datasets import validation_set
    from ...training.interpolator import validate

    sets = selection_sets(settings.real_dir, settings.per_split, settings.windows)
    count = settings.validation_scenes
    validation = {"validation 192 px": validation_set(count, VALIDATION_SIZE, neighbours=True),
                  "validation 1.5x canvas": validation_set(count, VALIDATION_SIZE, canvas_scale=WIDE_CANVAS, neighbours=True)}
    method = NetworkMethod(settings.weights)
    network = method.backend.model
    psnr: dict[str, dict[str, float]] = {}
    try:
        for name, apply in variants:
            apply(network)
            psnr[name] = score(method, sets)
            psnr[name].update({key: round(validate(network, samples, torch.device("cpu"))["psnr"], 3) for key, samples in validation.items()})
            network.eval()  # validate leaves the network in training mode
    finally:
        restore()
    return psnr, {name: len(items) for name, items in sets.items()}


def table(title: str, command: str, psnr: dict[str, dict[str, float]]) -> list[str]:
    """RESULTS.md's lines: a row per variant, a column per set."""
    columns = ordered_columns(next(iter(psnr.values())))
    lines = [f"# {title}", "", f"Made by `{command}` (command and commit in results.json). PSNR dB of the network "
             "with each variant; the sets are described in `fpsboost/evaluation/selection_sets.py`.", "",
             "| variant | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    return lines + [f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |" for name, row in psnr.items()]


def run(settings: Settings) -> None:
    from ...models import visibility

    limit_threads(settings.threads)
    shipped = (visibility.SPLAT_MAX_INCONSISTENCY, visibility.SPLAT_UNCOVERED)

    def rule(constants: tuple[float, float] | None) -> Callable[[Any], None]:
        def apply(network: Any) -> None:  # the experiment's own network: its rule needs no restoring
            network.synthesizer.motion_to_t = "splat" if constants is None else "splat-relative"
            if constants is not None:
                visibility.SPLAT_MAX_INCONSISTENCY, visibility.SPLAT_UNCOVERED = constants
        return apply

    def restore() -> None:
        visibility.SPLAT_MAX_INCONSISTENCY, visibility.SPLAT_UNCOVERED = shipped

    variants = [("splat", rule(None))] + [(f"splat-relative, d up to {d:g} px, uncovered {u:g}", rule((d, u)))
                                          for d, u in RELATIVE_GRID]
    psnr, items = score_variants(settings, variants, restore)
    write_report(settings.out_dir, {"settings": asdict(settings), "psnr": psnr, "items": items},
                 table("The splat's rule, chosen outside the test sets", "fpsboost bench splat-rule", psnr))
