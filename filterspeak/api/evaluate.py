"""Evaluating a finished build: which builds and variants to score, in plain Python (the
`evaluate` Prefect flow in flows/evaluate.py runs the same function with Prefect tasks). The
metrics are declared in `filterspeak/api/metrics.py`.

For the store's build (or the one named) it also builds, once and cached like any build, the
twins that the chosen metrics declare, without making them the store's default build:
- known_filters' known-filter model: the built-in backbone with planted concept filters
  (synthetic data only, where per-image truth exists);
- randomization's randomised model: the same architecture with its weights re-initialised (the
  built-in with 0 training epochs; a pretrained backbone without its weights file).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from filterspeak.api.building import run_build
from filterspeak.api.metrics import METRIC_REGISTRY, METRICS, Metric, check_metrics, evaluate_stages, rows_of
from filterspeak.api.publish import publish_report
from filterspeak.evaluation.report import EvaluationRecord
from filterspeak.options import BuildOptions
from filterspeak.registry import Registry
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
    registry: Registry[Metric] = METRIC_REGISTRY,
) -> EvaluationRecord:
    """Score the build's explanations against ground truth; with `variants`, every method variant
    too, and `extra_variants` (more (name, option changes) pairs, such as combinations) either way.
    `metrics` picks some of the registry's (`METRICS`); each variant is scored on the same metrics,
    against the same method variant of each twin."""
    metrics = tuple(metrics)
    check_metrics(metrics, registry)
    paths = StorePaths.at(store)
    base = open_build(paths, backbone, layer)
    options = base.options

    twins: dict[str, BuildView] = {}  # metric name -> its twin build
    for metric in (metric for metric in registry.values() if metric.name in metrics):
        changes = metric.twin(base)
        if changes is not None:
            twins[metric.name] = (
                base if not changes else _stages_of(paths, _twin(build, paths.location, options, progress, **changes), base.layer)
            )

    result = EvaluationRecord(rows=rows_of(registry))
    evaluation = evaluate_stages(base, device, metrics=metrics, twins=twins, registry=registry)
    result.metrics, result.notes = evaluation.metrics, evaluation.notes
    result.context = {"store": paths.location, "backbone": base.backbone, "layer": base.layer, "dataset": options.dataset}
    for metric in registry.values():  # what each metric records of its twin
        result.context.update(metric.context(twins.get(metric.name)))
    result.context.update(test_images=len(base.split_ids("test")), test_accuracy=base.metrics("predictions").get("decision_accuracy"))
    for name, changes in (VARIANTS if variants else ()) + tuple(extra_variants):
        variant = method_variant(paths, base, changes, progress, runner)
        variant_twins = {
            metric: variant if twin is base else method_variant(paths, twin, changes, progress, runner) for metric, twin in twins.items()
        }
        scored = evaluate_stages(variant, device, metrics=metrics, references=False, twins=variant_twins, registry=registry)
        result.variants.append({"name": name, "changes": changes, "metrics": scored.metrics})
    # the store keeps it for the build's report, whose overview plots it from now on
    save_evaluation(paths, base.backbone, base.layer, base.result("explanations").manifest.fingerprint, result.to_json())
    if "report" in base.produced.by_stage:
        publish_report(paths, base.backbone, base.layer)
    return result
