"""The evaluation's numbers as one flat record (the JSON keys), its targets, and Markdown tables."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Acceptance targets on the synthetic default build: key → (comparison, threshold, the reference
#: printed beside it, or None). A reference is the evaluation's own yardstick for what the layer
#: allows (a supervised reading of the same layer); the table prints the figure's ratio to it.
TARGETS: dict[str, tuple[str, float, str | None]] = {
    "known_filter_top1": (">=", 0.90, None),
    "known_filter_auprc": (">=", 0.90, None),
    "grounding_accuracy": (">=", 0.50, "grounding_best_filter"),
    "grounding_vs_best_baseline": (">=", 1.5, None),
    "retrieval_map": (">=", 0.55, "retrieval_probe_map"),
    "retrieval_varying_margin": (">", 0.0, None),
    "cited_precision": (">=", 0.90, None),
    "deletion_ratio": (">=", 3.0, None),
    "randomization_overlap": ("<=", 0.20, None),
    "failure_attribute_recall": (">=", 0.75, None),
}

#: The references' names, as the table prints them.
REFERENCES = {"grounding_best_filter": "supervised best filter", "retrieval_probe_map": "supervised linear probe"}


def reference_of(key: str, metrics: dict[str, Any]) -> tuple[str, float | None, float | None]:
    """(the reference's name, its value, the figure's ratio to it) for a target with a reference."""
    reference_key = TARGETS.get(key, ("", 0.0, None))[2]
    if reference_key is None:
        return "", None, None
    value, reference = metrics.get(key), metrics.get(reference_key)
    if not _finite(reference):
        return REFERENCES[reference_key], None, None
    ratio = float(value) / float(reference) if _finite(value) and reference > 0 else None
    return REFERENCES[reference_key], float(reference), ratio


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def target_met(key: str, value: Any) -> bool | None:
    if key not in TARGETS or not _finite(value):
        return None
    comparison, threshold, _ = TARGETS[key]
    return {">=": value >= threshold, ">": value > threshold, "<=": value <= threshold}[comparison]


@dataclass
class EvaluationRecord:
    """Flat metrics (None where a metric does not apply, with the reason in `notes`)."""

    metrics: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    variants: list[dict[str, Any]] = field(default_factory=list)

    def targets(self) -> dict[str, bool | None]:
        return {key: target_met(key, self.metrics.get(key)) for key in TARGETS}

    def _repr_markdown_(self) -> str:
        """In Jupyter: the table `filterspeak evaluate` prints."""
        return markdown_table(self)

    def to_json(self) -> dict[str, Any]:
        """Strict JSON: a value that is not a finite number (NaN, ±inf) is written as null, with a
        note naming it, since jq and JavaScript reject NaN."""
        notes = dict(self.notes)
        document = {**self.metrics, "targets": self.targets(), "context": self.context, "variants": self.variants}
        document = _finite_or_null(document, "", notes)
        return {**document, "notes": notes}


def _finite_or_null(value: Any, key: str, notes: dict[str, str]) -> Any:
    """`value` with every non-finite float (at any depth) replaced by None and noted under its key."""
    if isinstance(value, dict):
        return {k: _finite_or_null(v, f"{key}.{k}" if key else str(k), notes) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(v, f"{key}[{i}]", notes) for i, v in enumerate(value)]
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        notes.setdefault(key, f"not a finite number ({value}): written as null")
        return None
    return value


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.3f}"
    return str(value)


_ROWS = (
    ("known_filter_top1", "Known-filter top-1", None),
    ("known_filter_auprc", "Known-filter AUPRC", None),
    ("grounding_accuracy", "Grounding accuracy", "grounding_best_baseline"),
    ("grounding_vs_best_baseline", "Grounding / best baseline", None),
    ("grounding_cited_accuracy", "Grounding accuracy, cited attributes", None),
    ("grounding_best_filter", "Grounding accuracy of the best single filter per attribute (supervised reference)", None),
    ("grounding_part_locator", "Grounding accuracy of a linear part locator on the maps (supervised reference)", None),
    ("retrieval_map", "Retrieval mAP", "retrieval_class_prior_map"),
    ("retrieval_varying_map", "Retrieval mAP, within-class attributes", "retrieval_varying_class_prior_map"),
    ("retrieval_varying_margin", "… margin over the class prior", None),
    ("retrieval_probe_map", "Retrieval mAP of a supervised linear probe (ceiling)", None),
    ("cited_precision", "Cited precision (correct decisions)", None),
    ("known_filter_retrieval_map", "Retrieval mAP of planted attributes, known-filter model", None),
    ("known_filter_grounding_accuracy", "Grounding accuracy of planted attributes, known-filter model", None),
    ("deletion_ratio", "Deletion ratio (cited / random)", None),
    ("randomization_overlap", "Randomisation overlap", None),
    ("failure_attribute_recall", "Failure attribute recall (planted pairs)", "failure_attribute_recall_shuffled"),
)


# The baselines a figure is plotted against: row key -> (baseline's name, its key).
BASELINES = {
    "grounding_accuracy": ("best baseline", "grounding_best_baseline"),
    "retrieval_map": ("class prior", "retrieval_class_prior_map"),
    "retrieval_varying_map": ("class prior", "retrieval_varying_class_prior_map"),
    "failure_attribute_recall": ("shuffled vocabulary", "failure_attribute_recall_shuffled"),
}


def headline_figures(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's rows that have a value: name, value, baseline (name and value), target, met."""
    figures = []
    for key, label, _baseline in _ROWS:
        value = metrics.get(key)
        if not _finite(value):
            continue
        baseline_name, baseline_key = BASELINES.get(key, ("", None))
        baseline = metrics.get(baseline_key) if baseline_key else None
        target = TARGETS.get(key)
        reference_name, reference, ratio = reference_of(key, metrics)
        figures.append(
            {
                "name": label,
                "reference_name": reference_name,
                "reference": reference,
                "reference_ratio": ratio,
                "value": float(value),
                "baseline_name": baseline_name,
                "baseline": float(baseline) if _finite(baseline) else None,
                "target": f"{target[0]} {target[1]:g}" if target else "",
                "met": target_met(key, value),
            }
        )
    return figures


def markdown_table(record: EvaluationRecord) -> str:
    lines = ["| metric | value | baseline | target | reference | ratio to it | met |", "|---|---|---|---|---|---|---|"]
    targets = record.targets()
    baseline_label = {
        "grounding_best_baseline": lambda m: (
            f"{_number(m.get('grounding_best_baseline'))} (best of centre {_number(m.get('grounding_centre'))}, "
            f"random {_number(m.get('grounding_random'))}, CAM {_number(m.get('grounding_cam'))})"
        ),
        "retrieval_class_prior_map": lambda m: (
            f"class prior {_number(m.get('retrieval_class_prior_map'))}, random {_number(m.get('retrieval_random_map'))}"
        ),
        "retrieval_varying_class_prior_map": lambda m: f"class prior {_number(m.get('retrieval_varying_class_prior_map'))}",
        "failure_attribute_recall_shuffled": lambda m: (
            f"shuffled vocabulary {_number(m.get('failure_attribute_recall_shuffled'))} ({m.get('failure_evaluated_pairs', 0)} pairs)"
        ),
    }
    for key, label, baseline in _ROWS:
        value = record.metrics.get(key)
        target = TARGETS.get(key)
        met = targets.get(key)
        reference_name, reference, ratio = reference_of(key, record.metrics)
        lines.append(
            f"| {label} | {_number(value)} | {baseline_label[baseline](record.metrics) if baseline else ''} | "
            f"{f'{target[0]} {target[1]:g}' if target else ''} | {f'{reference_name} {_number(reference)}' if reference_name else ''} | "
            f"{_number(ratio) if reference_name else ''} | {'' if met is None else ('yes' if met else 'NO')} |"
        )
    for key, note in record.to_json()["notes"].items():  # why a value is missing (n/a), NaNs included
        lines.append(f"\n- {key}: {note}")
    return "\n".join(lines)


VARIANT_COLUMNS = (
    ("known_filter_top1", "known top-1"),
    ("known_filter_auprc", "known AUPRC"),
    ("grounding_accuracy", "grounding"),
    ("retrieval_map", "retrieval mAP"),
    ("retrieval_varying_map", "mAP within-class"),
    ("deletion_ratio", "deletion ratio"),
    ("cited_precision", "cited precision"),
    ("randomization_overlap", "randomisation overlap"),
)


def variants_table(variants: list[dict[str, Any]]) -> str:
    header = "| variant | " + " | ".join(label for _, label in VARIANT_COLUMNS) + " |"
    lines = [header, "|---" * (len(VARIANT_COLUMNS) + 1) + "|"]
    for variant in variants:
        cells = [_number(variant["metrics"].get(key)) for key, _ in VARIANT_COLUMNS]
        lines.append(f"| {variant['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
