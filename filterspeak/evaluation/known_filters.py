"""Known-filter recovery: do the words found for a filter match what it was trained to detect?

The evaluation's known-filter model (a built-in backbone with `concept_filters=K`) trains its
first K filters to detect K planted attributes. For each such filter f with planted attribute a*:
top-1 asks whether argmax_a p(a|f) = a*; AUPRC scores every attribute by p(a|f) and takes the
average precision of a* (1 / its rank; ties ranked fairly), averaged over the known filters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filterspeak.evaluation.ranking import average_precision


@dataclass(frozen=True)
class KnownFilterResult:
    top1: float
    auprc: float
    filters: int  # known filters whose planted attribute is in the vocabulary
    missing: tuple[str, ...]  # planted attributes the caption vocabulary lacks (scored as misses)
    found: tuple[str, ...]  # argmax_a p(a|f) per known filter ("" for an empty row)


def known_filter_recovery(pdf: np.ndarray, phrases: list[str], planted: list[str]) -> KnownFilterResult:
    """`pdf` (F, A) p(a|f); filter k was trained to detect `planted[k]`."""
    index = {phrase: i for i, phrase in enumerate(phrases)}
    hits, precisions, found = [], [], []
    for filter_id, phrase in enumerate(planted):
        row = pdf[filter_id]
        found.append(phrases[int(row.argmax())] if row.sum() > 0 else "")
        if phrase not in index:
            hits.append(False)
            precisions.append(0.0)
            continue
        labels = np.zeros(len(phrases), dtype=bool)
        labels[index[phrase]] = True
        hits.append(found[-1] == phrase)
        precisions.append(average_precision(row, labels))
    missing = tuple(p for p in planted if p not in index)
    return KnownFilterResult(
        float(np.mean(hits)) if hits else float("nan"),
        float(np.mean(precisions)) if precisions else float("nan"),
        len(planted) - len(missing),
        missing,
        tuple(found),
    )
