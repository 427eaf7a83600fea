"""The `report` stage on the tiny synthetic build (the session's small store): what its pages show is what the tables say
(a filter's top images, a decision's strongest filters, the heat maps the network gives), its
thumbnails are made once, and publishing replaces a report only with a complete one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from filterspeak.api import publish
from filterspeak.backbones import features
from filterspeak.backbones.images import load_images
from filterspeak.backbones.quantised_maps import dequantise
from filterspeak.flows.cli import main
from filterspeak.interpret.heatmap_images import COLOUR_MAP
from filterspeak.report.collect import Sizes
from filterspeak.report.pictures import DIMMED, Thumbnails
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.stored_maps import map_arrays
from filterspeak.tasks import report as report_stage
from filterspeak.tasks.graph import open_build
from filterspeak.tasks.readers import response_matrix
from filterspeak.tasks.stage import Context

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def build(small_store):
    return open_build(StorePaths.at(small_store[0]))


@pytest.fixture(scope="module")
def collected(build, tmp_path_factory):
    """The report's content collected again, into a new site folder, with the store's thumbnails."""
    site = tmp_path_factory.mktemp("site")
    params = report_stage.params_from(build.options)
    thumbnails = Thumbnails(build.paths.cache_dir(report_stage.THUMBNAILS), params.image_size, params.resize)
    inputs = build.produced.inputs().for_stage(report_stage.STAGE)
    content = report_stage.make_site(inputs, params, Context(build.backbone, build.layer), site, thumbnails)
    return content, site, thumbnails


def _alpha(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGBA"))[..., 3].astype(float)


def test_the_build_published_its_report_and_the_stores_index(small_store, build):
    store, report = small_store
    index = Path(report.reports[build.layer])
    assert index == publish.report_folder(build.paths, build.backbone, build.layer) / "index.html" and index.is_file()
    origin = json.loads((index.parent / publish.MARKER).read_text())
    assert origin == {"backbone": build.backbone, "layer": build.layer, "report": build.result("report").manifest.fingerprint}
    listed = build.read("report_files")
    site = build.result("report").file_path("site")
    on_disk = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert sorted(listed["path"]) == on_disk
    assert {"index.html", "filters.html", "attributes.html", "classes.html", "decisions.html", "failures.html"} <= set(on_disk)
    for row in listed.itertuples():
        assert (site / row.path).stat().st_size == row.bytes
        if row.path != "index.html":  # the published index.html also plots the store's evaluation, if any
            assert (index.parent / row.path).stat().st_ino == (site / row.path).stat().st_ino
    store_index = (Path(store) / "report" / "index.html").read_text()
    assert f"{index.parent.parent.name}/{index.parent.name}/index.html" in store_index


def test_filter_cards_show_the_top_train_images_dimmed_where_the_filter_does_not_fire(build, collected):
    content, site, _ = collected
    card = content.filters[0]  # the most selective filter comes first
    assert card.selectivity == max(f.selectivity for f in content.filters)
    train = build.split_ids("train")
    responses = response_matrix(build, "filter_responses", "max_response", train)[:, card.filter_id]
    expected = train[np.argsort(-responses, kind="stable")[:4]]
    assert [p.thumbnail for p in card.pictures] == [f"img/t/{i}.jpg" for i in expected]
    # the overlay of the top image: clear at the map's peak, DIMMED where the filter is silent
    maps = build.read_arrow("feature_maps")
    row = maps.filter(np.asarray(maps["image_id"]) == expected[0])
    feature_map = dequantise(*map_arrays(row))[0, card.filter_id]
    alpha = _alpha(site / card.pictures[0].overlay)
    assert alpha.shape == feature_map.shape
    assert alpha.flat[np.argmax(feature_map)] == 0
    if (feature_map <= 0).any():
        assert alpha[feature_map <= 0].max() == round(255 * DIMMED)


def test_decisions_are_every_error_then_a_fixed_sample_with_their_strongest_filters(build, collected):
    content, _, _ = collected
    predictions = build.read("predictions").set_index("image_id").loc[build.split_ids("test")]
    errors = sorted(predictions.index[~predictions["correct"]])
    shown = [d.image_id for d in content.decisions]
    assert shown[: len(errors)] == errors and all(not d.correct for d in content.decisions[: len(errors)])
    assert len(shown) - len(errors) == min(Sizes().correct_decisions, int(predictions["correct"].sum()))
    decision = content.decisions[0]
    alpha = response_matrix(build, "filter_contributions", "contribution", np.array([decision.image_id]))[0]
    top = np.argsort(-alpha, kind="stable")[: Sizes().contributions]
    assert [bar.href for bar in decision.contributions] == [f"filters.html#filter-{f}" for f in top]
    assert [bar.value for bar in decision.contributions] == pytest.approx(alpha[top])
    sentence = build.read("explanations").set_index("image_id").loc[decision.image_id, "sentence"]
    assert decision.sentence == sentence


def test_a_decisions_heat_map_peaks_where_the_networks_map_does(build, collected):
    content, site, _ = collected
    decision = next(d for d in content.decisions if d.heatmaps)
    cited = build.read("explanation_attributes").query(f"image_id == {decision.image_id}").sort_values("rank")
    images = build.read("images").set_index("image_id")
    preprocessing = build.options.preprocessing
    batch = load_images(
        build.table_result("images").located([images.loc[decision.image_id, "path"]]), preprocessing.image_size, preprocessing.resize
    )
    with torch.no_grad():
        maps = features.forward_to_layer(build.model().eval(), build.layer, batch, preprocessing, torch.device("cpu")).feature_maps[0]
    weights = build.attribute_map_weights
    for picture, attribute_id in zip(decision.heatmaps, cited["attribute_id"]):
        heat = np.tensordot(weights[attribute_id], maps.numpy(), axes=1)
        colours = np.asarray(Image.open(site / picture.overlay).convert("RGB")).reshape(-1, 3).astype(int)
        levels = np.argmin(((colours[:, None, :] - COLOUR_MAP[None, :, :].astype(int)) ** 2).sum(axis=2), axis=1)
        assert np.argmax(levels) == np.argmax(heat)  # the hottest cell is the network's
        assert picture.caption == cited.set_index("attribute_id").loc[attribute_id, "phrase"]


def test_thumbnails_are_made_once_and_linked_into_every_report(build, collected):
    content, site, thumbnails = collected
    assert thumbnails.made == 0  # the build's report made them all; this second report reused them
    shown = site / content.decisions[0].picture.thumbnail
    published = publish.report_folder(build.paths, build.backbone, build.layer) / content.decisions[0].picture.thumbnail
    cached = list(build.paths.cache_dir(report_stage.THUMBNAILS).rglob("*.jpg"))
    assert shown.stat().st_ino == published.stat().st_ino
    assert shown.stat().st_ino in {p.stat().st_ino for p in cached}


def test_report_command_writes_a_copy_and_refuses_a_folder_it_did_not_write(small_store, tmp_path, capsys):
    store, _ = small_store
    capsys.readouterr()
    assert main(["report", "--store", store, "--out", str(tmp_path / "copy")]) == 0
    index = Path(capsys.readouterr().out.strip())
    assert index == tmp_path / "copy" / "index.html" and index.is_file()
    assert main(["report", "--store", store, "--out", str(tmp_path / "copy")]) == 0  # its own folder: replaced
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["report", "--store", store, "--out", str(foreign)]) == 2  # a FilterSpeakError: one line, exit 2
    assert "is not a FilterSpeak report" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_a_failed_publish_leaves_the_previous_report_in_place(small_store, tmp_path, monkeypatch):
    store, _ = small_store
    target = tmp_path / "served"
    publish.publish_report(StorePaths.at(store), out=target)
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    copied = 0

    def failing(source, destination):
        nonlocal copied
        copied += 1
        if copied == 5:
            raise OSError("disk full")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(source.read_bytes())

    monkeypatch.setattr(publish, "link_or_copy", failing)
    with pytest.raises(OSError, match="disk full"):
        publish.publish_report(StorePaths.at(store), out=target)
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["served"]  # no half-made copy left beside it


def test_the_stores_index_lists_every_backbone_and_layer(tmp_path):
    paths = StorePaths(tmp_path)
    for backbone, layer in [("net-a", "features.3"), ("net-a", "features.7"), ("net-b", "layer4")]:
        folder = publish.report_folder(paths, backbone, layer)
        folder.mkdir(parents=True)
        (folder / publish.MARKER).write_text(json.dumps({"backbone": backbone, "layer": layer, "report": "x"}))
    html = publish.write_store_index(paths).read_text()
    for backbone, layer in [("net-a", "features.3"), ("net-a", "features.7"), ("net-b", "layer4")]:
        assert f'href="{backbone}/{layer}/index.html"' in html and layer in html


def test_a_build_recorded_before_the_report_stage_is_told_to_rebuild(small_store, tmp_path, capsys):
    store, _ = small_store
    older = tmp_path / "older"
    (older / "builds").mkdir(parents=True)
    (older / "stages").symlink_to(Path(store) / "stages")
    for record in (Path(store) / "builds").glob("*.json"):
        value = json.loads(record.read_text())
        value.get("stages", {}).pop("report", None)
        (older / "builds" / record.name).write_text(json.dumps(value))
    capsys.readouterr()
    assert main(["report", "--store", str(older)]) == 2
    assert "predates the HTML report" in capsys.readouterr().err
    assert not (older / "report").exists()
