"""Does a second DIS hypothesis per direction, on the pair's chroma, give better motion? Chosen outside the test sets.

    fpsboost bench dis-hypotheses --real-dir DIR [--per-split 10] [--windows 20] [--threads 2]

The shipped network (or ``--weights``) is scored with its DIS on luma alone and with the chroma
hypothesis (:data:`~fpsboost.models.classical_flow.CHROMA_HYPOTHESIS`) chosen per pixel over squares of
several sizes (:data:`~fpsboost.models.classical_flow.CHOICE_WINDOW`), on the selection sets
(:mod:`fpsboost.evaluation.selection_sets`) and the training's own validation scenes. No test set
takes part. Writes ``results.json`` and ``RESULTS.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

from ..report import write_report
from ..selection_sets import SelectionSettings, score_variants, table
from ..speed import limit_threads

CHOICE_WINDOWS = (5, 7, 11, 15, 21)
CHEAPER_FINEST_SCALE = 2  # DIS at its finest scale 2 instead of 1: about a third of the time


@dataclass(frozen=True)
class Settings(SelectionSettings):
    out_dir: str = "benchmarks/dis_settings/hypotheses"


def run(settings: Settings) -> None:
    from ...models import classical_flow

    limit_threads(settings.threads)
    names = ("CHROMA_HYPOTHESIS", "CHOICE_WINDOW", "LUMA_FINEST_SCALE", "CHROMA_FINEST_SCALE")
    shipped = {name: getattr(classical_flow, name) for name in names}

    def hypotheses(chroma: bool, window: int, luma_finest: int | None = None, chroma_finest: int | None = None) -> Callable[[Any], None]:
        def apply(network: Any) -> None:
            for name, value in zip(names, (chroma, window, luma_finest, chroma_finest)):
                setattr(classical_flow, name, value)
        return apply

    def restore() -> None:
        for name, value in shipped.items():
            setattr(classical_flow, name, value)

    window, cheaper = shipped["CHOICE_WINDOW"], CHEAPER_FINEST_SCALE
    variants = [("luma only", hypotheses(False, window)),
                (f"luma only at DIS's finest scale {cheaper}", hypotheses(False, window, cheaper))] + [
        (f"luma and chroma, chosen per {w}x{w} square", hypotheses(True, w)) for w in CHOICE_WINDOWS] + [
        (f"luma and chroma at DIS's finest scale {cheaper}, chosen per {window}x{window} square", hypotheses(True, window, None, cheaper)),
        (f"luma at DIS's finest scale {cheaper} and chroma, chosen per {window}x{window} square", hypotheses(True, window, cheaper)),
        (f"both at DIS's finest scale {cheaper}, chosen per {window}x{window} square", hypotheses(True, window, cheaper, cheaper))]
    psnr, items = score_variants(settings, variants, restore)
    write_report(settings.out_dir, {"settings": asdict(settings), "psnr": psnr, "items": items},
                 table("DIS on luma alone, or with a second hypothesis on chroma, chosen outside the test sets",
                       "fpsboost bench dis-hypotheses", psnr))
