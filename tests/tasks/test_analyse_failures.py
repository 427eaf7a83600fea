"""The failure-analysis stage on a hand-made case: known p(a|x), one error, known tables and words;
and `filterspeak failures` on it, with and without errors."""

import json

import pandas as pd
import pytest

from filterspeak.flows.cli import main
from filterspeak.options import BuildOptions
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.schemas import BACKBONE_LAYER
from filterspeak.tasks import attribute_scores as attribute_scores_stage
from filterspeak.tasks import captions as captions_stage
from filterspeak.tasks import dataset as dataset_stage
from filterspeak.tasks import decisions
from filterspeak.tasks import explanations as explanations_stage
from filterspeak.tasks import failures as failures_stage
from filterspeak.tasks.graph import BuildView
from filterspeak.tasks.stage import Context, Inputs, Produced, run
from stage_runs import stored_tables

CONTEXT = Context("net", "layer", progress=False)
PARTITION = dict(zip(BACKBONE_LAYER, ("net", "layer")))
# p(a|x) for (red crown, black wing). Train: Cardinals 1, 2 and Crows 3, 4, so the profiles are
# Cardinal (0.7, 0.3), Crow (0.3, 0.7). Test: Crow 5 and Cardinal 7 are right; Cardinal 6 is taken
# for a Crow, and looks three quarters of the way like one.
SCORES = {1: (0.8, 0.2), 2: (0.6, 0.4), 3: (0.2, 0.8), 4: (0.4, 0.6), 5: (0.3, 0.7), 6: (0.4, 0.6), 7: (0.7, 0.3)}
TRUE = {1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 0, 7: 0}


def _upstream(paths: StorePaths, predicted: dict[int, int]) -> list:
    images = pd.DataFrame({"image_id": list(TRUE), "split": ["train"] * 4 + ["test"] * 3, "path": "x", "class_id": list(TRUE.values())})
    classes = pd.DataFrame({"class_id": [0, 1], "name": ["Cardinal", "Crow"]})
    attributes = pd.DataFrame(
        {"attribute_id": [0, 1], "phrase": ["red crown", "black wing"], "modifier": ["red", "black"], "noun": ["crown", "wing"]}
    )
    attributes["document_frequency"], attributes["prior"] = 2, 0.5
    scores = pd.DataFrame([(i, a, s[a]) for i, s in SCORES.items() for a in (0, 1)], columns=["image_id", "attribute_id", "score"])
    tested = [5, 6, 7]
    predictions = pd.DataFrame(
        {
            "image_id": tested,
            "predicted_class_id": [predicted[i] for i in tested],
            "true_class_id": [TRUE[i] for i in tested],
            "probability": [0.9, 0.6, 0.8],
            "logit": 1.0,
        }
    )
    predictions["correct"] = predictions["predicted_class_id"] == predictions["true_class_id"]
    cited = pd.DataFrame({"image_id": tested, "rank": 1, "attribute_id": [1, 1, 0], "phrase": ["black wing", "black wing", "red crown"]})
    cited["rank"], cited["score"] = cited["rank"].astype("int32"), 0.9
    return [
        stored_tables(paths, "dataset", {"images": images, "classes": classes}, dataset_stage.TABLES, metrics={"classes": 2}),
        stored_tables(paths, "captions", {"attributes": attributes}, captions_stage.TABLES),
        stored_tables(paths, "attribute_scores", {"image_attribute_scores": scores}, attribute_scores_stage.TABLES, PARTITION),
        stored_tables(
            paths,
            "explanations",
            {"predictions": predictions, "explanation_attributes": cited},
            {**explanations_stage.TABLES, "predictions": decisions.TABLES["predictions"]},
            PARTITION,
        ),
    ]


def _analyse(tmp_path, predicted):
    paths = StorePaths(tmp_path).ensure()
    upstream = _upstream(paths, predicted)
    result = run(failures_stage.STAGE, paths, Inputs.of(*upstream), failures_stage.FailureParams(), CONTEXT)
    return paths, upstream, result


def test_the_error_is_analysed_in_attribute_words(tmp_path):
    _, _, result = _analyse(tmp_path, {5: 1, 6: 1, 7: 0})
    failures = result.read("failures")
    assert failures[["image_id", "true_class_id", "predicted_class_id"]].values.tolist() == [[6, 0, 1]]
    row = failures.iloc[0]
    assert list(row["for_predicted"]) == ["black wing"]  # what the sentence cites
    assert list(row["missing_from_true"]) == ["red crown"]  # a Cardinal's, 0.3 below its profile
    assert list(row["missing_from_true_scores"]) == pytest.approx([0.3])

    confusions = result.read("confusions")
    assert confusions[["true_class_id", "predicted_class_id", "count"]].values.tolist() == [[0, 1, 1]]
    assert confusions["rate"].tolist() == [0.5]  # of the two Cardinals tested
    assert confusions["sentence"].tolist() == ["Cardinal is taken for Crow once (50%): the errors show a black wing and lack a red crown."]
    # both attributes differ by 0.4 and the error moved 3/4 of the way: 0.4 · (1 + 0.75) / 2
    ranked = result.read("confusion_attributes")
    assert ranked[["rank", "phrase", "direction"]].values.tolist() == [
        [1, "red crown", "missing_from_true"],
        [2, "black wing", "for_predicted"],
    ]
    assert ranked["score"].tolist() == pytest.approx([0.35, 0.35])
    assert result.manifest.metrics["errors"] == 1


def _cli_on(monkeypatch, paths, upstream, result):
    produced = Produced()
    for item in [*upstream, result]:
        produced.add(item)
    build = BuildView(paths, produced, BuildOptions(), "layer")
    monkeypatch.setattr("filterspeak.tasks.graph.open_build", lambda *args: build)


def test_the_failures_command_prints_json_and_sentences(tmp_path, monkeypatch, capsys):
    paths, upstream, result = _analyse(tmp_path, {5: 1, 6: 1, 7: 0})
    _cli_on(monkeypatch, paths, upstream, result)
    assert main(["failures", "--store", str(tmp_path), "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert {k: item[k] for k in ("true_class", "predicted_class", "count", "rate")} == {
        "true_class": "Cardinal",
        "predicted_class": "Crow",
        "count": 1,
        "rate": 0.5,
    }
    assert item["attributes"] == [
        {"phrase": "red crown", "score": 0.35, "direction": "missing_from_true"},
        {"phrase": "black wing", "score": 0.35, "direction": "for_predicted"},
    ]
    assert main(["failures", "--store", str(tmp_path)]) == 0
    assert "- Cardinal is taken for Crow once (50%)" in capsys.readouterr().out


def test_a_build_without_errors_says_so(tmp_path, monkeypatch, capsys):
    paths, upstream, result = _analyse(tmp_path, {5: 1, 6: 0, 7: 0})
    assert len(result.read("failures")) == 0 and len(result.read("confusions")) == 0
    _cli_on(monkeypatch, paths, upstream, result)
    assert main(["failures", "--store", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("No test errors:")
    assert main(["failures", "--store", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_top_zero_is_one_line(tmp_path, capsys):
    assert main(["failures", "--store", str(tmp_path), "--top", "0"]) == 2
    assert capsys.readouterr().err.strip() == "filterspeak: error: --top must be at least 1, got 0"
