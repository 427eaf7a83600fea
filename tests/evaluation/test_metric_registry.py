"""Each evaluation metric is one class in `METRIC_REGISTRY`: its names are `--metrics`' choices, an
unknown name is one line, and the evaluation loop, its twins, the JSON, the targets, the Markdown
tables and the report's headline figures all come from the classes, so a new metric is one class."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from filterspeak.api import evaluate as evaluate_module
from filterspeak.api.evaluate import evaluate_build
from filterspeak.api.metrics import METRIC_REGISTRY, METRICS, ROWS, Computed, Inputs, Metric, check_metrics, evaluate_stages, rows_of
from filterspeak.errors import OptionError
from filterspeak.evaluation.report import (
    Baseline,
    Column,
    EvaluationRecord,
    Reference,
    Row,
    Target,
    headline_figures,
    markdown_table,
    table_rows,
    variants_table,
)
from filterspeak.options import BuildOptions
from filterspeak.registry import Registry

EVALUATION_DOC = Path(__file__).resolve().parents[2] / "docs" / "evaluation.md"


def test_the_metric_names_are_the_registrys():
    assert METRICS == METRIC_REGISTRY.names == ("known_filters", "grounding", "retrieval", "deletion", "randomization", "failures")
    assert all(METRIC_REGISTRY[name].help for name in METRICS)
    assert METRIC_REGISTRY.help().startswith("known_filters = ")


def test_the_cli_metrics_help_is_the_registrys():
    """`filterspeak evaluate --metrics` lists each registered metric with its help, so a new metric
    needs no edit to the CLI (docs/cli.md is regenerated from the parser)."""
    import argparse

    from filterspeak.flows.cli import _parser

    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    option = next(a for a in commands.choices["evaluate"]._actions if "--metrics" in a.option_strings)
    assert option.help == f"comma list of metrics (default: all): {METRIC_REGISTRY.help()}"
    assert all(f"{name} = {METRIC_REGISTRY[name].help}" in option.help for name in METRICS)


def test_an_unknown_metric_is_one_line_listing_the_choices():
    choices = "choose from known_filters, grounding, retrieval, deletion, randomization, failures"
    with pytest.raises(OptionError) as raised:
        check_metrics(("retrieval", "accuracy", "speed"))
    assert str(raised.value) == f"unknown metric(s) accuracy, speed; {choices}"
    with pytest.raises(OptionError, match=r"^unknown metric\(s\) \(none given\); choose from "):
        check_metrics(())
    with pytest.raises(OptionError) as raised:
        METRIC_REGISTRY["accuracy"]
    assert str(raised.value) == f"unknown metric 'accuracy'; {choices}"
    with pytest.raises(OptionError, match="^unknown metric\\(s\\) accuracy; "):
        evaluate_stages(None, metrics=("accuracy",))


def test_an_unknown_metric_fails_before_the_store_is_opened(tmp_path):
    with pytest.raises(OptionError, match="^unknown metric\\(s\\) accuracy; ") as raised:
        evaluate_build(str(tmp_path / "absent"), metrics=("accuracy",))
    assert "\n" not in str(raised.value)


def _documented_table(first_cell: str) -> list[str]:
    """The lines of docs/evaluation.md's first table whose header starts with `first_cell`."""
    lines = EVALUATION_DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_cell} |"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def test_the_rows_give_the_documented_tables():
    """The rows in table order are the documented evaluation table's, and their columns the variants table's header."""
    documented = [line.split(" | ")[0].lstrip("| ") for line in _documented_table("metric")[2:]]
    assert [row.label for row in table_rows(ROWS)] == documented
    assert variants_table([], ROWS).splitlines()[0] == _documented_table("variant")[0]
    record = EvaluationRecord(rows=ROWS)
    assert list(record.targets()) == [row.key for row in table_rows(ROWS) if row.target is not None]


def test_a_row_placed_after_a_key_no_row_has_is_refused():
    with pytest.raises(ValueError, match="'b' is placed after 'z'"):
        table_rows((Row("a", "A"), Row("b", "B", after="z")))


class Toy(Metric):
    """A metric no module but this test knows: one class, registered in a copy of the registry."""

    name = "toy"
    help = "a made-up figure"
    unavailable = "needs a toy"
    rows = (
        Row(
            "toy_score",
            "Toy score",
            Target(">=", 0.5),
            Baseline("toy floor", "toy_floor"),
            Reference("toy_ceiling", "toy oracle"),
            Column("toy", after="grounding_accuracy"),
            after="retrieval_probe_map",
        ),
    )

    def twin(self, stages):
        return {"epochs": 0}

    def context(self, twin):
        return {"toy_backbone": None if twin is None else twin.backbone}

    def compute(self, inputs: Inputs) -> Computed | None:
        if inputs.twin is None:
            return None
        score = 0.75 if inputs.stages.variant else 0.25
        return Computed({"toy_score": score, "toy_floor": 0.1, "toy_ceiling": 1.0, "toy_twin": inputs.twin.backbone}, {"toy": "a note"})


def _view(backbone: str, variant: bool = False) -> SimpleNamespace:
    """What evaluate_build reads of a build when only the toy metric is chosen."""
    return SimpleNamespace(
        backbone=backbone,
        layer="conv",
        variant=variant,
        options=BuildOptions(),
        produced=SimpleNamespace(by_stage={}),
        split_ids=lambda split: [1, 2, 3],
        metrics=lambda stage: {"decision_accuracy": 0.9},
        result=lambda stage: SimpleNamespace(manifest=SimpleNamespace(fingerprint="f")),
    )


def test_a_new_metric_is_one_class(tmp_path, monkeypatch):
    registry = Registry("metric", (*METRIC_REGISTRY.values(), Toy()))
    built, saved = [], {}
    monkeypatch.setattr(evaluate_module, "open_build", lambda paths, backbone=None, layer=None: _view(backbone or "base"))
    monkeypatch.setattr(evaluate_module, "method_variant", lambda paths, view, changes, progress, runner: _view(f"{view.backbone}+v", True))
    monkeypatch.setattr(evaluate_module, "save_evaluation", lambda paths, backbone, layer, explanations, record: saved.update(record))

    record = evaluate_build(
        str(tmp_path),
        metrics=("toy",),
        extra_variants=(("toy variant", {"estimator": "em"}),),
        build=lambda **kw: built.append(kw),
        registry=registry,
    )

    # its twin: the option changes it declared, built once, and its method variant for the variant
    assert [kw["options"].epochs for kw in built] == [0] and record.metrics["toy_twin"] == BuildOptions(epochs=0).backbone_spec.name
    assert record.variants[0]["metrics"]["toy_twin"].endswith("+v")
    # the context names its twin; the twins of metrics not chosen are None
    assert record.context["toy_backbone"] == record.metrics["toy_twin"]
    assert record.context["known_filter_backbone"] is record.context["randomised_backbone"] is record.context["planted_concepts"] is None
    # the JSON, its targets and notes
    assert saved["toy_score"] == 0.25 and saved["notes"] == {"toy": "a note"}
    others = list(EvaluationRecord(rows=ROWS).targets())  # the toy's row comes before cited precision's, as placed
    assert saved["targets"]["toy_score"] is False and list(saved["targets"]) == [*others[:6], "toy_score", *others[6:]]
    assert others[6] == "cited_precision"
    assert saved["variants"][0]["metrics"]["toy_score"] == 0.75
    # the Markdown table: its row where it is placed, with its baseline, target, reference and ratio
    lines = markdown_table(record).splitlines()
    probe = next(i for i, line in enumerate(lines) if line.startswith("| Retrieval mAP of a supervised linear probe"))
    assert lines[probe + 1] == "| Toy score | 0.250 | toy floor 0.100 | >= 0.5 | toy oracle 1.000 | 0.250 | NO |"
    assert "- toy: a note" in lines
    # the variants table's column, where it is placed
    header, _, row = variants_table(record.variants, record.rows).splitlines()
    assert "| grounding | toy | retrieval mAP |" in header and "| toy variant | n/a | n/a | n/a | 0.750 | n/a |" in row
    # the report's headline figures
    [figure] = headline_figures(saved, rows_of(registry))
    assert figure == {
        "name": "Toy score",
        "reference_name": "toy oracle",
        "reference": 1.0,
        "reference_ratio": 0.25,
        "value": 0.25,
        "baseline_name": "toy floor",
        "baseline": 0.1,
        "target": ">= 0.5",
        "met": False,
    }


def test_a_metric_the_build_cannot_support_gets_its_note():
    registry = Registry("metric", (Toy(),))
    evaluation = evaluate_stages(_view("base"), metrics=("toy",), registry=registry)  # no twin given
    assert evaluation.metrics == {} and evaluation.notes == {"toy": "needs a toy"}
