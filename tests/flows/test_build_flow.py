"""End to end through Prefect on the tiny synthetic build: build, reuse, a second backbone, SQL, explain.

The store starts as a copy of the session's small store (its first build, features.3, computed
there); the builds some tests add to it (a second backbone, a second layer) are module fixtures,
run once by whichever test needs them first, so every test passes alone, in any order, and reads
only the parts of the store it asked for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from filterspeak.datasets.synthetic import render_bird, sample_bird
from filterspeak.flows.build import build
from filterspeak.flows.cli import main
from filterspeak.options import BuildOptions
from filterspeak.storage.catalog import query, rebuild_catalog
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.graph import TABLES, VIEWS
from tiny_build import TINY, TINY_BACKBONE

pytestmark = pytest.mark.slow

STAGES = ["dataset", "captions", "backbone", "extract", "cooccurrence", "pdfs", "attribute_scores", "explanations", "failures", "report"]
FIRST, SECOND = TINY_BACKBONE, TINY.replace(train_seed=1).backbone_spec.name  # smallcnn-w4-s0-e1, smallcnn-w4-s1-e1


@pytest.fixture(scope="module")
def built(tmp_path_factory, small_store):
    """The store after its first build (FIRST, features.3), and that build's report: a copy of the
    session's small store, which other tests read unchanged."""
    source, first = small_store
    store = tmp_path_factory.mktemp("store") / "S"
    shutil.copytree(source, store, symlinks=True)
    rebuild_catalog(StorePaths(store), TABLES, VIEWS)  # its views name the files of the copy, not of the small store
    return store, first


@pytest.fixture(scope="module")
def second_backbone(built):
    """The report of a build of a second backbone (SECOND) on the built store."""
    store, _ = built
    return build(store=str(store), options=TINY.replace(train_seed=1), progress=False)


@pytest.fixture(scope="module")
def second_layer(built):
    """The report of a build of FIRST on two layers (features.3 already built, features.2 new)."""
    store, _ = built
    return build(store=str(store), options=TINY.replace(layer="features.3,features.2"), progress=False)


def test_first_build_computes_every_stage_and_fills_the_catalog(built):
    store, report = built
    assert [r.stage for r in report.stages] == STAGES
    assert not any(r.reused for r in report.stages)
    paths = StorePaths(store)
    # the first build's rows only: other tests may have added backbones, layers and runs to the store
    counts = query(
        paths,
        """
        SELECT (SELECT count(*) FROM images) AS images,
               (SELECT count(*) FROM activations WHERE backbone = $b AND layer = $l) AS activations,
               (SELECT count(*) FROM explanations WHERE backbone = $b AND layer = $l) AS explanations,
               (SELECT count(DISTINCT filter) FROM filter_stats WHERE backbone = $b AND layer = $l) AS filters,
               (SELECT count(*) FROM runs WHERE run_id = $run) AS runs""",
        {"b": FIRST, "l": "features.3", "run": report.run_id},
    ).to_pylist()[0]
    assert (report.backbone, report.layer) == (FIRST, "features.3")
    assert counts["images"] == TINY.num_classes * TINY.images_per_class
    assert counts["filters"] == 4 * TINY.width
    assert counts["activations"] == counts["images"] * 4 * TINY.width
    test_images = query(paths, "SELECT count(*) AS n FROM images WHERE split = 'test'").to_pylist()[0]["n"]
    assert counts["explanations"] == test_images > 0
    assert counts["runs"] == len(STAGES)
    sentence = query(paths, "SELECT sentence FROM explanations LIMIT 1").to_pylist()[0]["sentence"]
    assert sentence.startswith("This is a")


def test_second_build_reuses_everything(built):
    store, first = built
    again = build(store=str(store), options=TINY, progress=False)
    assert [r.reused for r in again.stages] == [True] * len(STAGES)
    assert again.examples == first.examples


def test_new_backbone_reruns_only_what_depends_on_it(built, second_backbone):
    store, _ = built
    assert second_backbone.backbone == SECOND
    reused = {r.stage: r.reused for r in second_backbone.stages}
    assert reused["dataset"] and reused["captions"]
    assert not any(
        reused[s] for s in ["backbone", "extract", "cooccurrence", "pdfs", "attribute_scores", "explanations", "failures", "report"]
    )
    rows = query(
        StorePaths(store), "SELECT backbone, count(*) AS n FROM explanations WHERE layer = 'features.3' GROUP BY 1 ORDER BY 1"
    ).to_pylist()
    assert [r["backbone"] for r in rows] == [FIRST, SECOND]
    assert rows[0]["n"] == rows[1]["n"]


def test_several_layers_in_one_build_reuse_the_layer_already_built(built, second_layer):
    store, _ = built
    report = second_layer
    reused = {(r.stage, r.layer): r.reused for r in report.stages}
    assert reused[("extract", "features.3")] and not reused[("extract", "features.2")]
    assert reused[("explanations", "features.3")] and not reused[("explanations", "features.2")]
    assert report.layers == ["features.3", "features.2"]
    rows = query(
        StorePaths(store),
        """
        SELECT layer, count(DISTINCT filter) AS filters FROM filter_stats WHERE backbone = $first GROUP BY 1 ORDER BY 1""",
        {"first": FIRST},
    ).to_pylist()
    assert rows == [{"layer": "features.2", "filters": 3 * TINY.width}, {"layer": "features.3", "filters": 4 * TINY.width}]


def test_every_backbone_and_layer_gets_its_report_and_the_store_an_index_of_them(built, second_backbone, second_layer):
    store, first = built
    built_reports = {(FIRST, "features.3"), (SECOND, "features.3"), (FIRST, "features.2")}
    assert set(second_layer.reports) == {"features.3", "features.2"}
    for index in [*first.reports.values(), *second_backbone.reports.values(), *second_layer.reports.values()]:
        assert Path(index).is_file()
    index = (Path(store) / "report" / "index.html").read_text()
    for backbone, layer in built_reports:
        assert f'href="{backbone}/{layer}/index.html"' in index
        assert (Path(store) / "report" / backbone / layer / "filters.html").is_file()


def test_cli_sql_formats(built, capsys):
    store, _ = built
    assert (
        main(
            [
                "sql",
                "--store",
                str(store),
                "SELECT filter, attribute_id, probability FROM filter_attributes ORDER BY 1, 2 LIMIT 5",
                "--format",
                "json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 5 and set(rows[0]) == {"filter", "attribute_id", "probability"}
    assert main(["sql", "--store", str(store), "SELECT name FROM classes ORDER BY class_id LIMIT 2", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "name"
    assert main(["sql", "--store", str(store), "DELETE FROM classes"]) == 2
    assert "read-only" in capsys.readouterr().err


def test_cli_explain_a_new_image(built, tmp_path, capsys):
    store, _ = built
    rng = np.random.default_rng(123)
    image, _ = render_bird(sample_bird(3, TINY.synthetic, rng), 64, rng)  # another size than the build's: explain resizes
    path = tmp_path / "new_bird.png"
    Image.fromarray(image).save(path)
    assert main(["explain", "--store", str(store), "--backbone", FIRST, str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["image"] == str(path)
    assert result["sentence"].startswith("This is a")
    assert main(["explain", "--store", str(store), str(tmp_path / "missing.png")]) == 2
    assert "image not found" in capsys.readouterr().err


def test_diff_compares_two_backbones(built, second_backbone, second_layer, capsys):
    store, _ = built  # holds FIRST (features.3 and features.2) and SECOND (features.3)
    assert main(["diff", "--store", str(store), f"{FIRST}:features.3", SECOND]) == 0
    out = capsys.readouterr().out
    assert f"A = {FIRST}:features.3" in out and f"B = {SECOND}:features.3" in out
    changed = query(
        StorePaths(store),
        """
        SELECT count(*) AS n FROM explanations a JOIN explanations b USING (image_id)
        WHERE a.backbone = $first AND b.backbone = $second AND a.layer = 'features.3' AND b.layer = 'features.3'
          AND a.sentence <> b.sentence""",
        {"first": FIRST, "second": SECOND},
    ).to_pylist()[0]["n"]
    assert f"Test-image sentences that changed: {changed} of " in out
    counts = query(
        StorePaths(store), "SELECT backbone, layer, sum(filters) AS n FROM attribute_filter_counts GROUP BY ALL ORDER BY ALL"
    ).to_pylist()
    named = query(
        StorePaths(store), "SELECT backbone, layer, count(*) AS n FROM filter_stats WHERE top_attribute_id >= 0 GROUP BY ALL ORDER BY ALL"
    ).to_pylist()
    assert counts == named and len(counts) == 3  # each filter with a distribution counted once, per backbone


def test_pretrained_backbone_with_other_classes_gets_a_trained_head(tmp_path, prefect_harness):
    """A torchvision network (random weights in a local file) on 12 bird classes: the build
    verifies the weights, extracts the layer, fits a linear head and explains with it."""
    import torch
    import torchvision

    weights = tmp_path / "resnet18.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    options = TINY.replace(images_per_class=4, image_size=64, backbone="resnet18", weights=str(weights), layer="layer4")
    report = build(store=str(tmp_path / "store"), options=options, progress=False)
    assert [r.stage for r in report.stages] == [
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
    assert report.metrics["decomposition"] == "linear_gap" and report.metrics["filters"] == 512
    paths = StorePaths(tmp_path / "store")
    decomposition = query(paths, "SELECT DISTINCT decomposition FROM explanations").to_pylist()
    assert decomposition == [{"decomposition": "linear_gap"}]
    # the trained head's logit is exactly Σ_f α_f + bias for every image
    check = query(
        paths,
        """
        SELECT max(abs(p.logit - (c.total + h.bias))) AS gap
        FROM predictions p
        JOIN (SELECT image_id, sum(contribution) AS total FROM contributions GROUP BY 1) c USING (image_id)
        JOIN head_bias h ON h.class_id = p.predicted_class_id""",
    ).to_pylist()[0]["gap"]
    assert check < 1e-6


def test_bad_backbone_options_fail_before_any_work(tmp_path, prefect_harness):
    from filterspeak.backbones.features import LayerNotFound
    from filterspeak.backbones.registry import BackboneError

    with pytest.raises(LayerNotFound, match="layer 'nope' not found; valid layers: features, features.0"):
        build(store=str(tmp_path / "a"), options=TINY.replace(layer="nope"), progress=False)
    with pytest.raises(BackboneError, match="weights file not found"):
        build(
            store=str(tmp_path / "b"),
            options=BuildOptions(backbone="resnet18", weights=str(tmp_path / "x.pth"), layer="layer4"),
            progress=False,
        )
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # nothing was started


def test_a_store_recorded_by_the_previous_format_keeps_working(built, tmp_path, capsys, monkeypatch):
    """A build record written before the stage graph (format 1: no `format`, a `decision` key), whose
    options hold one option since renamed, one since removed and lack one since added."""
    import shutil

    from filterspeak import options as options_module
    from filterspeak.tasks.graph import open_build

    store, _ = built
    copy = tmp_path / "old-store"
    shutil.copytree(store, copy, symlinks=True)
    record_path = copy / "builds" / f"{FIRST}__features.3.json"
    current = json.loads(record_path.read_text())
    options = dict(current["options"])
    options["sentence_count"] = options.pop("sentence_attributes")  # the name it had before a (pretend) rename
    options["old_knob"] = 3  # an option that no longer exists
    del options["min_relative_score"]  # an option added since: takes its default
    record_path.write_text(
        json.dumps(
            {
                "backbone": current["backbone"],
                "layer": current["layer"],
                "stages": current["stages"],
                "options": options,
                "run_id": current["run_id"],
                "decision": "extract",
            }
        )
    )
    monkeypatch.setattr(options_module, "RENAMED", {"sentence_count": "sentence_attributes"})

    view = open_build(StorePaths(copy), FIRST, "features.3")
    assert view.options.sentence_attributes == TINY.sentence_attributes and view.options.min_relative_score == 0.3
    assert view.table_result("predictions").stage == "extract"

    image = next(iter(sorted((copy / "stages" / "dataset").glob("*/dataset/images/*.png"))))
    assert main(["explain", "--store", str(store), "--backbone", FIRST, str(image)]) == 0
    expected = capsys.readouterr().out
    assert main(["explain", "--store", str(copy), "--backbone", FIRST, str(image)]) == 0
    assert capsys.readouterr().out == expected and expected.startswith(f"{image}: This is a")
