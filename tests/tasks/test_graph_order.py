"""The graph's order is derived from the stages' declarations (tasks/graph.ordered), not listed."""

from __future__ import annotations

import itertools
import random

import pytest

from filterspeak.tasks.graph import STAGES, GraphError, ordered
from filterspeak.tasks.stage import SCOPES, StageSpec


def _stage(name: str, reads=(), writes=(), scope: str = "layer", replaces=()) -> StageSpec:
    return StageSpec(
        name=name,
        module=__name__,
        reads={table: None for table in reads},
        writes={table: None for table in writes},
        params=lambda *_: None,
        compute=lambda *_: None,
        scope=scope,
        replaces=frozenset(replaces),
    )


def _check(order) -> None:
    """Every stage after the writers of what it reads, a replacement after the first writer, scopes widest first."""
    position = {spec.name: i for i, spec in enumerate(order)}
    for spec in order:
        for other in order:
            if other is not spec and set(other.writes) & (set(spec.reads) | set(spec.replaces)):
                assert position[other.name] < position[spec.name], f"{spec.name} runs before {other.name}"
    scopes = [SCOPES.index(spec.scope) for spec in order]
    assert scopes == sorted(scopes)


def test_the_pipeline_order_is_derived_and_does_not_depend_on_the_listing():
    names = [spec.name for spec in STAGES]
    assert names == [
        "dataset",
        "captions",
        "backbone",
        "extract",
        "cooccurrence",
        "head",
        "pdfs",
        "attribute_scores",
        "explanations",
        "failures",
        "report",
    ]
    _check(STAGES)
    shuffled = list(STAGES)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert ordered(shuffled) == STAGES


def test_the_trained_head_declares_that_it_replaces_the_decision_tables():
    head, extract = next(s for s in STAGES if s.name == "head"), next(s for s in STAGES if s.name == "extract")
    assert head.replaces == {"predictions", "filter_contributions", "head_weights", "head_bias"} <= set(extract.writes)
    readers = [spec.name for spec in STAGES if set(spec.reads) & head.replaces]
    assert readers == ["pdfs", "explanations", "failures", "report"]
    # the replacement alone decides: with nothing else tying head to extract, it still runs after it
    order = ordered([_stage("reader", reads=["t"]), _stage("late", writes=["t"], replaces=["t"]), _stage("first", writes=["t"])])
    assert [spec.name for spec in order] == ["first", "late", "reader"]


def test_a_diamond_and_scopes_in_every_listing():
    stages = [
        _stage("a", writes=["x"], scope="dataset"),
        _stage("b", reads=["x"], writes=["y"], scope="backbone"),
        _stage("c", reads=["x"], writes=["z"]),
        _stage("d", reads=["y", "z"], writes=["w"]),
        _stage("e", scope="dataset", writes=["v"]),
    ]
    for listing in itertools.permutations(stages):
        order = ordered(listing)
        _check(order)
        assert [spec.name for spec in order] == ["a", "e", "b", "c", "d"]


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([_stage("a", reads=["x"])], r"stage 'a' reads 'x', which no other stage writes"),
        (
            [_stage("a", writes=["x"]), _stage("b", writes=["x"]), _stage("c", reads=["x"])],
            r"table 'x' is written by 'a', 'b': one stage writes it",
        ),
        ([_stage("a", writes=["x"]), _stage("b", replaces=["x"])], r"stage 'b' replaces 'x' but does not write it"),
        ([_stage("a", writes=["x"], replaces=["x"])], r"stage 'a' replaces 'x', which no other stage writes"),
        ([_stage("a", reads=["y"], writes=["x"]), _stage("b", reads=["x"], writes=["y"])], r"in a cycle"),
        (
            [_stage("a", writes=["x"]), _stage("b", reads=["x"], scope="dataset")],
            r"stage 'b' \(scope dataset\) reads 'x' from \['a'\] of a narrower scope",
        ),
    ],
)
def test_declarations_that_make_no_graph_are_refused(stages, message):
    with pytest.raises(GraphError, match=message):
        ordered(stages)


def test_a_stage_that_runs_its_layers_gets_its_compute_per_pass(tmp_path):
    """Extraction declares no compute of its own (its run_layers assembles each layer from the
    pass's shards and hands that to `run`), so running it without one is refused, not guessed."""
    from filterspeak.storage.paths import StorePaths
    from filterspeak.tasks import extract
    from filterspeak.tasks.stage import Inputs, run

    assert extract.STAGE.compute is None and extract.STAGE.run_layers is extract.extract_layers
    with pytest.raises(TypeError, match="stage 'extract' runs through its run_layers"):
        run(extract.STAGE, StorePaths(tmp_path).ensure(), Inputs.of(), None)
