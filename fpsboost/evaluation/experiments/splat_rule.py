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

from dataclasses import asdict, dataclass
from typing import Any, Callable

from ..report import write_report
from ..selection_sets import SelectionSettings, score_variants, table
from ..speed import limit_threads

# (SPLAT_MAX_INCONSISTENCY, SPLAT_UNCOVERED) tried under "splat-relative".
RELATIVE_GRID = ((5.0, 0.05), (5.0, 0.2), (6.0, 0.1), (6.0, 0.2), (6.0, 0.3), (7.0, 0.2))


@dataclass(frozen=True)
class Settings(SelectionSettings):
    out_dir: str = "benchmarks/v2/splat/rule"


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
