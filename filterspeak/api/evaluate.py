"""Evaluating a finished build: which builds and variants to score, in plain Python (the
`evaluate` Prefect flow in flows/evaluate.py runs the same function with Prefect tasks). The
metrics are in `filterspeak/api/evaluate_build.py` and `filterspeak/evaluation/`.

For the store's build (or the one named) it also builds, once and cached like any build, two
twins that the metrics need, without making them the store's default build:
- the known-filter model: the built-in backbone with `concept_filters` planted concept filters
  (synthetic data only, where per-image truth exists);
- the randomised model: the same architecture with its weights re-initialised (the built-in
  with 0 training epochs; a pretrained backbone without its weights file).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from filterspeak.api.building import run_build
from filterspeak.api.evaluate_build import METRICS, BuildEvaluation, check_metrics, evaluate_randomization, evaluate_stages
from filterspeak.evaluation import failure_recall
from filterspeak.evaluation.report import EvaluationRecord
from filterspeak.options import BuildOptions
from filterspeak.report.publish import publish_report
from filterspeak.storage.evaluations import save_evaluation
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.graph import REPORT_STAGE, BuildView, Runner, direct, open_build, run_graph
from filterspeak.tasks.stage import Context

# What builds an evaluation's twin: (store, options, progress, latest, report) -> anything (run_build, or the build flow).
Builder = Callable[..., object]

#: The method's open choices (docs/evaluation.md), each changed alone from the defaults: every allowed value of each
#: method option (from its declaration, so a new response or correction is evaluated too), and
#: p(x|f) over the top 20 images instead of all.
METHOD_OPTIONS = ("response", "prior_correction", "attribute_weighting", "estimator")


def _variants() -> tuple[tuple[str, dict[str, Any]], ...]:
    declared = {option.name: option for option in BuildOptions.declared()}
    defaults = ", ".join(f"{name} {declared[name].default}" for name in METHOD_OPTIONS)
    variants = [(f"defaults ({defaults}, all images)", {})]
    for name in METHOD_OPTIONS:
        option = declared[name]
        variants += [(f"{name.replace('_', ' ')} {choice}", {name: choice}) for choice in option.choices if choice != option.default]
    return (*variants, ("top-20 images", {"top_k_images": 20}))


VARIANTS = _variants()
CONCEPT_FILTERS = 8


def _twin(build: Builder, store: str, options: BuildOptions, progress: bool, **changes: Any) -> BuildOptions:
    """Another build of the same data (a random or concept-trained backbone), run in this process:
    the cluster the evaluated build may have used is not assumed to be up."""
    twin = options.replace(dask=None, dask_resources=None, **changes)
    build(store=store, options=twin, progress=progress, latest=False, report=False)
    return twin


def _stages_of(paths: StorePaths, options: BuildOptions, layer: str) -> BuildView:
    return open_build(paths, options.backbone_spec.name, layer)


def method_variant(paths: StorePaths, base: BuildView, changes: dict[str, Any], progress: bool, runner: Runner = direct) -> BuildView:
    """The base build with other method options: the same graph, so only the stages whose
    parameters changed (and what reads them) are computed; the rest is reused."""
    options = base.options.replace(**changes)
    context = Context(options.backbone_spec.name, device=options.device, progress=progress, loader_workers=options.loader_workers)
    outcome = run_graph(paths, options, [base.layer], context, runner, without=REPORT_STAGE)
    return BuildView(paths, outcome.layers[base.layer].produced, options, base.layer)


_UNAVAILABLE = {
    "known_filters": "needs a dataset with per-image truth (synthetic) and the built-in backbone",
    "grounding": "needs part masks (the synthetic dataset has them)",
    "retrieval": "needs per-image or class-level attribute truth",
    "failures": "needs planted confusions (a synthetic build with --confusable-pairs)",
}


def _flatten(result: BuildEvaluation, chosen: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, str]]:
    """The flat JSON keys; a chosen metric the build cannot support gets a note instead."""
    found = {"known_filters": result.known, "grounding": result.grounding, "retrieval": result.retrieval, "failures": result.failures}
    notes = {name: reason for name, reason in _UNAVAILABLE.items() if name in chosen and found[name] is None}
    metrics: dict[str, Any] = {}
    if result.known is not None:
        k = result.known
        metrics.update(known_filter_top1=k.top1, known_filter_auprc=k.auprc, known_filters=k.filters, known_filter_found=list(k.found))
        if result.known_retrieval is not None:
            metrics["known_filter_retrieval_map"] = result.known_retrieval
        if result.known_grounding is not None:
            metrics["known_filter_grounding_accuracy"] = result.known_grounding
    if result.grounding is not None:
        g = result.grounding
        metrics.update(
            grounding_accuracy=g.accuracy,
            grounding_best_baseline=g.best_baseline,
            grounding_vs_best_baseline=g.accuracy / g.best_baseline if g.best_baseline > 0 else None,
            grounding_centre=g.baselines["centre"],
            grounding_random=g.baselines["random"],
            grounding_cam=g.baselines["cam"],
            grounding_pairs=g.pairs,
            grounding_cited_accuracy=g.cited_accuracy,
            grounding_cited_pairs=g.cited_pairs,
            grounding_by_part=g.by_part,
            grounding_miss_regions=g.miss_regions,
        )
        if not math.isnan(g.best_filter):
            metrics.update(grounding_best_filter=g.best_filter, grounding_part_locator=g.part_locator)
    if result.retrieval is not None:
        r = result.retrieval
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
        metrics.update({key: value if r.varying_attributes else None for key, value in varying.items()})
        metrics.update(
            retrieval_map=r.map,
            retrieval_class_prior_map=r.class_prior_map,
            retrieval_random_map=r.random_map,
            retrieval_attributes=r.attributes,
            retrieval_varying_attributes=r.varying_attributes,
            retrieval_probe_map=r.probe_map,
            retrieval_per_attribute=r.per_attribute,
        )
    if result.deletion is not None:
        d = result.deletion
        metrics.update(
            deletion_ratio=d.ratio,
            deletion_cited_drop=d.cited_drop,
            deletion_random_drop=d.random_drop,
            deletion_images=d.images,
            deletion_filters_per_image=d.mean_filters,
        )
    if result.cited_precision is not None:
        metrics["cited_precision"] = result.cited_precision
    if result.failures is not None:
        f = result.failures
        metrics.update(
            failure_attribute_recall=None if math.isnan(f.recall) else f.recall,
            failure_attribute_recall_shuffled=None if math.isnan(f.shuffled_recall) else f.shuffled_recall,
            failure_planted_pairs=f.pairs,
            failure_evaluated_pairs=f.evaluated,
        )
        if not f.evaluated:
            notes["failures"] = f"no planted pair has {failure_recall.MIN_ERRORS} or more test confusions"
    return metrics, notes


def evaluate_build(
    store: str | None = None,
    backbone: str | None = None,
    layer: str | None = None,
    variants: bool = False,
    device: str = "auto",
    progress: bool = True,
    metrics: tuple[str, ...] = METRICS,
    extra_variants: tuple[tuple[str, dict[str, Any]], ...] = (),
    runner: Runner = direct,
    build: Builder = run_build,
) -> EvaluationRecord:
    """Score the build's explanations against ground truth; with `variants`, every method variant
    too, and `extra_variants` (more (name, option changes) pairs, such as combinations) either way.
    `metrics` picks some of known_filters, grounding, retrieval, deletion, randomization, failures."""
    metrics = tuple(metrics)
    check_metrics(metrics)
    paths = StorePaths.at(store)
    base = open_build(paths, backbone, layer)
    options = base.options
    spec = options.backbone_spec
    has_truth = bool(len(base.read("image_truth", ["image_id"])))

    known = None
    if "known_filters" in metrics and spec.trainable and has_truth:
        concept_options = (
            options if spec.concept_filters else _twin(build, paths.location, options, progress, concept_filters=CONCEPT_FILTERS)
        )
        known = _stages_of(paths, concept_options, base.layer)
    randomised = None
    if "randomization" in metrics:
        random_changes = {"epochs": 0, "concept_filters": 0} if spec.trainable else {"weights": None, "weights_sha256": None}
        randomised = _stages_of(paths, _twin(build, paths.location, options, progress, **random_changes), base.layer)

    result = EvaluationRecord()
    result.metrics, result.notes = _flatten(evaluate_stages(base, device, known, metrics), metrics)
    if randomised is not None:
        overlap, compared = evaluate_randomization(base, randomised)
        result.metrics.update(randomization_overlap=overlap, randomization_images=compared)
    result.context = {
        "store": paths.location,
        "backbone": base.backbone,
        "layer": base.layer,
        "dataset": options.dataset,
        "known_filter_backbone": None if known is None else known.options.backbone_spec.name,
        "randomised_backbone": None if randomised is None else randomised.options.backbone_spec.name,
        "planted_concepts": None if known is None else known.metrics("backbones").get("concept_filters"),
        "test_images": len(base.split_ids("test")),
        "test_accuracy": base.metrics("predictions").get("decision_accuracy"),
    }
    per_variant = tuple(m for m in metrics if m != "randomization")
    for name, changes in (VARIANTS if variants else ()) + tuple(extra_variants):
        variant = method_variant(paths, base, changes, progress, runner)
        variant_known = method_variant(paths, known, changes, progress, runner) if known is not None else None
        variant_metrics, _ = _flatten(evaluate_stages(variant, device, variant_known, per_variant, references=False), per_variant)
        if randomised is not None:  # the same method on the re-initialised network
            overlap, _ = evaluate_randomization(variant, method_variant(paths, randomised, changes, progress, runner))
            variant_metrics["randomization_overlap"] = overlap
        result.variants.append({"name": name, "changes": changes, "metrics": variant_metrics})
    # the store keeps it for the build's report, whose overview plots it from now on
    save_evaluation(paths, base.backbone, base.layer, base.result("explanations").manifest.fingerprint, result.to_json())
    if "report" in base.produced.by_stage:
        publish_report(paths, base.backbone, base.layer)
    return result
