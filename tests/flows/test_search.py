"""`filterspeak search` on the tiny synthetic build (the session's small store): it ranks by the stored p(a|x), and its
rankings, scored by average precision, give exactly the evaluation's retrieval mAP (one scoring)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from filterspeak.api.evaluate_build import evaluate_retrieval, truth_presence
from filterspeak.api.search import search
from filterspeak.evaluation.ranking import average_precision
from filterspeak.flows.cli import main
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.graph import open_build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def build(small_store):
    return open_build(StorePaths.at(small_store[0]))


def test_search_json_ranks_by_the_stored_scores(small_store, build, capsys):
    store, _ = small_store
    capsys.readouterr()
    assert main(["search", "--store", store, "red crown", "--json", "--top", "5"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["phrase"], document["query"], document["split"]) == ("red crown", "red crown", "test")
    results = document["results"]
    assert [r["rank"] for r in results] == [1, 2, 3, 4, 5]
    scores = build.read("image_attribute_scores")
    attribute_id = build.phrases.index("red crown")
    test_ids = build.split_ids("test")
    stored = scores[(scores["attribute_id"] == attribute_id) & scores["image_id"].isin(test_ids)]
    assert results[0]["score"] == stored["score"].max()
    expected = stored.sort_values(["score", "image_id"], ascending=[False, True]).head(5)
    assert [r["image_id"] for r in results] == expected["image_id"].tolist()
    assert [r["score"] for r in results] == expected["score"].tolist()
    images = build.read("images").set_index("image_id")
    names = build.read("classes").set_index("class_id")["name"]
    for r in results:
        assert r["split"] == "test" and r["class"] == names[images.loc[r["image_id"], "class_id"]]
        assert r["path"].endswith(images.loc[r["image_id"], "path"])


def test_plain_output_names_the_resolved_phrase_and_the_query(small_store, capsys):
    capsys.readouterr()
    assert main(["search", "--store", small_store[0], "Red Crowns", "--top", "3", "--split", "all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert "3 all images ranked by p('red crown'|x) (for 'Red Crowns')" in lines[0]
    assert lines[1].split()[0] == "1"


def test_mean_average_precision_of_search_is_the_evaluations_retrieval_map(build):
    test_ids = build.split_ids("test")
    presence = truth_presence(build, test_ids)
    row = {int(i): r for r, i in enumerate(test_ids)}
    precisions = []
    for a, phrase in enumerate(build.phrases):
        labels = presence[:, a]
        if labels.all() or not labels.any():
            continue
        result = search(build, phrase, top=len(test_ids), split="test")
        assert result.phrase == phrase and len(result.hits) == len(test_ids)
        scores = np.full(len(test_ids), np.nan)
        for hit in result.hits:
            scores[row[hit.image_id]] = hit.score
        precisions.append(average_precision(scores, labels))
    ours = float(np.mean(precisions))
    evaluated = evaluate_retrieval(build)
    print(
        f"search mAP {ours:.12f} over {len(precisions)} attributes; evaluation retrieval_map {evaluated.map:.12f} over {evaluated.attributes}"
    )
    assert len(precisions) == evaluated.attributes
    assert ours == pytest.approx(evaluated.map, abs=1e-12)


def test_an_unknown_phrase_is_one_line_with_a_suggestion(small_store, capsys):
    capsys.readouterr()
    assert main(["search", "--store", small_store[0], "red crwn"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("filterspeak: error: unknown phrase 'red crwn'") and "'red crown'" in captured.err


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--top", "0"], "--top must be at least 1, got 0"), (["--split", "val"], "--split must be one of test, train, all, got 'val'")],
)
def test_a_bad_option_is_one_line(small_store, capsys, options, message):
    capsys.readouterr()
    assert main(["search", "--store", small_store[0], "red crown", *options]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"filterspeak: error: {message}\n"
