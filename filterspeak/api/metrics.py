"""The evaluation's metrics, one class each in `METRIC_REGISTRY`: each declares its name and help,
why it may be unavailable, the twin build it needs, whether it runs the network again, its
table rows, and `compute`, its flat JSON values. The evaluation loop (`evaluate_stages`), the
allowed names (`METRICS`, `check_metrics`), the twins `evaluate_build` makes, the targets, the
Markdown tables and the report's headline figures all come from here: adding a metric is one
class in `METRIC_REGISTRY`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from filterspeak.api.evaluate_build import (
    _Network,
    _network,
    evaluate_cited_precision,
    evaluate_deletion,
    evaluate_failures,
    evaluate_grounding,
    evaluate_known_filters,
    evaluate_planted_retrieval,
    evaluate_randomization,
    evaluate_retrieval,
)
from filterspeak.evaluation import failure_recall
from filterspeak.evaluation.report import Baseline, Column, Reference, Row, Target, number, table_rows
from filterspeak.registry import Registry, UnknownVariant
from filterspeak.tasks.graph import BuildView


@dataclass
class Inputs:
    """What a metric's `compute` reads."""

    stages: BuildView  # the build evaluated
    device: str
    chosen: tuple[str, ...]  # the metrics asked for
    twin: BuildView | None = None  # the twin build the metric declared, where one was made
    network: _Network | None = None  # the build's network, loaded once when a chosen metric runs it
    references: bool = True  # also the supervised references (they depend on the network and layer only)


@dataclass
class Computed:
    """A metric's flat JSON values, and notes on them (key -> why)."""

    values: dict[str, Any]
    notes: dict[str, str] = field(default_factory=dict)


class Metric(Protocol):
    """One evaluation metric. A class that subclasses this keeps the defaults it does not declare."""

    name: str
    help: str
    unavailable: str = "cannot be computed for this build"  # the note when `compute` returns None
    network: bool = False  # whether `compute` runs the build's network again (`Inputs.network`)
    rows: tuple[Row, ...] = ()

    def twin(self, stages: BuildView) -> dict[str, Any] | None:
        """The option changes of the twin build it needs, from the evaluated build ({}: the build
        itself); None: no twin."""
        return None

    def context(self, twin: BuildView | None) -> dict[str, Any]:
        """What the evaluation's context records of its twin build (its keys present, None, when
        no twin was made)."""
        return {}

    def compute(self, inputs: Inputs) -> Computed | None:
        """Its flat JSON values, or None when the build cannot support it."""
        ...


class KnownFilters(Metric):
    name = "known_filters"
    help = "p(a|f) of the backbone's planted concept filters names their concepts (the known-filter twin)"
    unavailable = "needs a dataset with per-image truth (synthetic) and the built-in backbone"
    concept_filters = 8  # planted in the twin when the build's backbone has none
    rows = (
        Row("known_filter_top1", "Known-filter top-1", Target(">=", 0.90), column=Column("known top-1")),
        Row("known_filter_auprc", "Known-filter AUPRC", Target(">=", 0.90), column=Column("known AUPRC")),
        Row("known_filter_retrieval_map", "Retrieval mAP of planted attributes, known-filter model", after="cited_precision"),
        Row(
            "known_filter_grounding_accuracy",
            "Grounding accuracy of planted attributes, known-filter model",
            after="known_filter_retrieval_map",
        ),
    )

    def twin(self, stages: BuildView) -> dict[str, Any] | None:
        spec = stages.options.backbone_spec
        if not spec.trainable or not len(stages.read("image_truth", ["image_id"])):
            return None
        return {} if spec.concept_filters else {"concept_filters": self.concept_filters}

    def context(self, twin: BuildView | None) -> dict[str, Any]:
        return {
            "known_filter_backbone": None if twin is None else twin.options.backbone_spec.name,
            "planted_concepts": None if twin is None else twin.metrics("backbones").get("concept_filters"),
        }

    def compute(self, inputs: Inputs) -> Computed | None:
        planted_in = inputs.twin if inputs.twin is not None else inputs.stages
        known = evaluate_known_filters(planted_in)
        if known is None:
            return None
        values = {"known_filter_top1": known.top1, "known_filter_auprc": known.auprc, "known_filters": known.filters}
        values["known_filter_found"] = list(known.found)
        # what retrieval and grounding reach where the network is known to encode the attribute
        if "retrieval" in inputs.chosen and (planted_map := evaluate_planted_retrieval(planted_in)) is not None:
            values["known_filter_retrieval_map"] = planted_map
        if "grounding" in inputs.chosen:
            planted = set(planted_in.metrics("backbones").get("concept_filters") or [])
            planted_grounding = evaluate_grounding(planted_in, _network(planted_in, inputs.device), planted)
            if planted_grounding is not None:
                values["known_filter_grounding_accuracy"] = planted_grounding.accuracy
        return Computed(values)


def _grounding_baseline(m: Mapping[str, Any]) -> str:
    return (
        f"{number(m.get('grounding_best_baseline'))} (best of centre {number(m.get('grounding_centre'))}, "
        f"random {number(m.get('grounding_random'))}, CAM {number(m.get('grounding_cam'))})"
    )


class Grounding(Metric):
    name = "grounding"
    help = "the heat map of each attribute truly present peaks inside its part's mask"
    unavailable = "needs part masks (the synthetic dataset has them)"
    network = True
    rows = (
        Row(
            "grounding_accuracy",
            "Grounding accuracy",
            Target(">=", 0.50),
            Baseline("best baseline", "grounding_best_baseline", _grounding_baseline),
            Reference("grounding_best_filter", "supervised best filter"),
            Column("grounding"),
        ),
        Row("grounding_vs_best_baseline", "Grounding / best baseline", Target(">=", 1.5)),
        Row("grounding_cited_accuracy", "Grounding accuracy, cited attributes"),
        Row("grounding_best_filter", "Grounding accuracy of the best single filter per attribute (supervised reference)"),
        Row("grounding_part_locator", "Grounding accuracy of a linear part locator on the maps (supervised reference)"),
    )

    def compute(self, inputs: Inputs) -> Computed | None:
        g = evaluate_grounding(inputs.stages, inputs.network, references=inputs.references)
        if g is None:
            return None
        values = {
            "grounding_accuracy": g.accuracy,
            "grounding_best_baseline": g.best_baseline,
            "grounding_vs_best_baseline": g.accuracy / g.best_baseline if g.best_baseline > 0 else None,
            "grounding_centre": g.baselines["centre"],
            "grounding_random": g.baselines["random"],
            "grounding_cam": g.baselines["cam"],
            "grounding_pairs": g.pairs,
            "grounding_cited_accuracy": g.cited_accuracy,
            "grounding_cited_pairs": g.cited_pairs,
            "grounding_by_part": g.by_part,
            "grounding_miss_regions": g.miss_regions,
        }
        if not math.isnan(g.best_filter):
            values.update(grounding_best_filter=g.best_filter, grounding_part_locator=g.part_locator)
        return Computed(values)


class Retrieval(Metric):
    name = "retrieval"
    help = "p(a|x) ranks the test images by attribute truth (mAP), and the cited attributes of correct decisions are truly present"
    unavailable = "needs per-image or class-level attribute truth"
    rows = (
        Row(
            "retrieval_map",
            "Retrieval mAP",
            Target(">=", 0.55),
            Baseline(
                "class prior",
                "retrieval_class_prior_map",
                lambda m: f"class prior {number(m.get('retrieval_class_prior_map'))}, random {number(m.get('retrieval_random_map'))}",
            ),
            Reference("retrieval_probe_map", "supervised linear probe"),
            Column("retrieval mAP"),
        ),
        Row(
            "retrieval_varying_map",
            "Retrieval mAP, within-class attributes",
            baseline=Baseline("class prior", "retrieval_varying_class_prior_map"),
            column=Column("mAP within-class"),
        ),
        Row("retrieval_varying_margin", "… margin over the class prior", Target(">", 0.0)),
        Row("retrieval_probe_map", "Retrieval mAP of a supervised linear probe (ceiling)"),
        Row(
            "cited_precision",
            "Cited precision (correct decisions)",
            Target(">=", 0.90),
            column=Column("cited precision", after="deletion_ratio"),
        ),
    )

    def compute(self, inputs: Inputs) -> Computed | None:
        r = evaluate_retrieval(inputs.stages)
        if r is None:
            return None
        notes = {}
        if not r.varying_attributes:  # NaN otherwise, which strict JSON readers (jq, JavaScript) reject
            notes["retrieval_varying"] = (
                "no attribute varies within a class (class-level captions, such as CUB's derived ones): "
                "within-class retrieval has nothing to rank"
            )
        varying = {
            "retrieval_varying_map": r.varying_map,
            "retrieval_varying_class_prior_map": r.varying_class_prior_map,
            "retrieval_varying_margin": r.varying_map - r.varying_class_prior_map,
        }
        values = {key: value if r.varying_attributes else None for key, value in varying.items()}
        values.update(
            retrieval_map=r.map,
            retrieval_class_prior_map=r.class_prior_map,
            retrieval_random_map=r.random_map,
            retrieval_attributes=r.attributes,
            retrieval_varying_attributes=r.varying_attributes,
            retrieval_probe_map=r.probe_map,
            retrieval_per_attribute=r.per_attribute,
        )
        if (precision := evaluate_cited_precision(inputs.stages)) is not None:
            values["cited_precision"] = precision
        return Computed(values, notes)


class Deletion(Metric):
    name = "deletion"
    help = "zeroing the filters behind the cited attributes drops the decided class's probability more than random filters"
    network = True
    rows = (Row("deletion_ratio", "Deletion ratio (cited / random)", Target(">=", 3.0), column=Column("deletion ratio")),)

    def compute(self, inputs: Inputs) -> Computed | None:
        d = evaluate_deletion(inputs.stages, inputs.network)
        return Computed(
            {
                "deletion_ratio": d.ratio,
                "deletion_cited_drop": d.cited_drop,
                "deletion_random_drop": d.random_drop,
                "deletion_images": d.images,
                "deletion_filters_per_image": d.mean_filters,
            }
        )


class Randomization(Metric):
    name = "randomization"
    help = "the sentences of the same network re-initialised cite other attributes (the randomised twin)"
    unavailable = "needs the randomised twin (evaluate_build makes it)"
    rows = (Row("randomization_overlap", "Randomisation overlap", Target("<=", 0.20), column=Column("randomisation overlap")),)

    def twin(self, stages: BuildView) -> dict[str, Any] | None:
        # the built-in with 0 training epochs; a pretrained backbone without its weights file
        return {"epochs": 0, "concept_filters": 0} if stages.options.backbone_spec.trainable else {"weights": None, "weights_sha256": None}

    def context(self, twin: BuildView | None) -> dict[str, Any]:
        return {"randomised_backbone": None if twin is None else twin.options.backbone_spec.name}

    def compute(self, inputs: Inputs) -> Computed | None:
        if inputs.twin is None:
            return None
        overlap, compared = evaluate_randomization(inputs.stages, inputs.twin)
        return Computed({"randomization_overlap": overlap, "randomization_images": compared})


class Failures(Metric):
    name = "failures"
    help = "the failure analysis names the attribute that tells each planted pair of twin classes apart"
    unavailable = "needs planted confusions (a synthetic build with --confusable-pairs)"
    rows = (
        Row(
            "failure_attribute_recall",
            "Failure attribute recall (planted pairs)",
            Target(">=", 0.75),
            Baseline(
                "shuffled vocabulary",
                "failure_attribute_recall_shuffled",
                lambda m: (
                    f"shuffled vocabulary {number(m.get('failure_attribute_recall_shuffled'))} "
                    f"({m.get('failure_evaluated_pairs', 0)} pairs)"
                ),
            ),
        ),
    )

    def compute(self, inputs: Inputs) -> Computed | None:
        f = evaluate_failures(inputs.stages)
        if f is None:
            return None
        values = {
            "failure_attribute_recall": None if math.isnan(f.recall) else f.recall,
            "failure_attribute_recall_shuffled": None if math.isnan(f.shuffled_recall) else f.shuffled_recall,
            "failure_planted_pairs": f.pairs,
            "failure_evaluated_pairs": f.evaluated,
        }
        notes = {} if f.evaluated else {"failures": f"no planted pair has {failure_recall.MIN_ERRORS} or more test confusions"}
        return Computed(values, notes)


METRIC_REGISTRY: Registry[Metric] = Registry("metric", (KnownFilters(), Grounding(), Retrieval(), Deletion(), Randomization(), Failures()))


def rows_of(registry: Registry[Metric]) -> tuple[Row, ...]:
    """Every metric's rows, in the registry's order (the tables place a row with `after` there)."""
    rows = tuple(row for metric in registry.values() for row in metric.rows)
    if len({row.key for row in rows}) < len(rows):
        raise ValueError("two rows have the same key")
    table_rows(rows)  # a row placed after a key no row has fails here, not when a table is printed
    return rows


METRICS = METRIC_REGISTRY.names
ROWS = rows_of(METRIC_REGISTRY)


def check_metrics(metrics: Iterable[str], registry: Registry[Metric] = METRIC_REGISTRY) -> None:
    """One line naming every unknown metric (and the choices), or saying none was given."""
    metrics = tuple(metrics)
    unknown = sorted(set(metrics) - set(registry))
    if unknown or not metrics:
        raise UnknownVariant(f"unknown metric(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(registry.names)}")


@dataclass
class BuildEvaluation:
    """The chosen metrics' flat JSON values, and notes: why a chosen metric is missing, then the metrics' own."""

    metrics: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def evaluate_stages(
    stages: BuildView,
    device: str = "auto",
    metrics: tuple[str, ...] = METRICS,
    references: bool = True,
    twins: Mapping[str, BuildView] | None = None,
    registry: Registry[Metric] = METRIC_REGISTRY,
) -> BuildEvaluation:
    """The metrics named in `metrics` for one build, in the registry's order. `twins`: metric name ->
    the twin build it declared (known_filters: the known-filter model); `references=False` skips the
    supervised grounding references, which depend on the network and layer only (not on the
    method's options): for method variants."""
    check_metrics(metrics, registry)
    twins = twins or {}
    chosen = [metric for metric in registry.values() if metric.name in metrics]
    network = _network(stages, device) if any(metric.network for metric in chosen) else None
    result, unavailable = BuildEvaluation(), {}
    for metric in chosen:
        computed = metric.compute(Inputs(stages, device, tuple(metrics), twins.get(metric.name), network, references))
        if computed is None:
            unavailable[metric.name] = metric.unavailable
        else:
            result.metrics.update(computed.values)
            result.notes.update(computed.notes)
    result.notes = {**unavailable, **result.notes}
    return result
