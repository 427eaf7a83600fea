"""`evaluate --json` is strict JSON: jq and JavaScript reject NaN, so a value that is not a finite
number is written as null, and the printed table says why."""

from __future__ import annotations

import json
import math

import numpy as np

from filterspeak.api import metrics as metrics_module
from filterspeak.api.metrics import ROWS, evaluate_stages
from filterspeak.evaluation.report import EvaluationRecord, markdown_table
from filterspeak.evaluation.retrieval import RetrievalResult


def test_non_finite_values_at_any_depth_become_null_with_a_note():
    record = EvaluationRecord(
        metrics={"a": math.nan, "b": 0.5, "per": {"x": math.inf, "y": 0.25}, "c": np.float32("nan"), "list": [1.0, -math.inf]},
        notes={"grounding": "needs part masks"},
        rows=ROWS,
    )
    document = record.to_json()
    text = json.dumps(document, allow_nan=False, default=float)  # raises on any NaN or infinity left
    parsed = json.loads(text)
    assert parsed["a"] is None and parsed["c"] is None and parsed["per"] == {"x": None, "y": 0.25} and parsed["list"] == [1.0, None]
    assert parsed["b"] == 0.5
    assert set(parsed["notes"]) == {"grounding", "a", "c", "per.x", "list[1]"}
    assert parsed["notes"]["grounding"] == "needs part masks"
    assert record.metrics["a"] != record.metrics["a"]  # the record itself is left as it was


def test_no_within_class_attribute_is_null_and_explained_in_the_table(monkeypatch):
    nan = float("nan")
    retrieval = RetrievalResult(
        map=0.38, class_prior_map=0.3, random_map=0.12, varying_map=nan, varying_class_prior_map=nan, attributes=64, varying_attributes=0
    )
    monkeypatch.setattr(metrics_module, "evaluate_retrieval", lambda stages: retrieval)
    monkeypatch.setattr(metrics_module, "evaluate_cited_precision", lambda stages: None)
    evaluation = evaluate_stages(None, metrics=("retrieval",))
    metrics, notes = evaluation.metrics, evaluation.notes
    for key in ("retrieval_varying_map", "retrieval_varying_class_prior_map", "retrieval_varying_margin"):
        assert metrics[key] is None, key
    assert metrics["retrieval_map"] == 0.38
    record = EvaluationRecord(metrics=metrics, notes=notes, rows=ROWS)
    json.dumps(record.to_json(), allow_nan=False, default=float)
    table = markdown_table(record)
    assert "| Retrieval mAP, within-class attributes | n/a |" in table
    assert "- retrieval_varying: no attribute varies within a class" in table
    assert "- retrieval_probe_map: not a finite number (nan): written as null" in table  # no probe here: NaN, said why
