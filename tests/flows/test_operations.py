"""Operations without a server: the build's artifact table, prefect.yaml against the flows, `serve`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from filterspeak.flows import artifacts
from filterspeak.flows.artifacts import publish_build_artifacts, stage_rows, summary_markdown
from filterspeak.flows.build import BuildReport
from filterspeak.flows.cli import _parser
from filterspeak.flows.serve import NIGHTLY_CRON, served_deployments
from filterspeak.storage.cache import StageResult
from filterspeak.storage.manifest import StageManifest, TableOutput
from filterspeak.storage.runs import StageRecord

REPO = Path(__file__).resolve().parents[2]


def _result(stage: str, fingerprint: str, reused: bool, tables: dict[str, list[int]]) -> StageResult:
    outputs = [TableOutput(table, f"{table}/{i}.parquet", rows) for table, parts in tables.items() for i, rows in enumerate(parts)]
    return StageResult(StageManifest(stage, fingerprint, inputs={}, tables=outputs), Path("/store") / stage, reused)


@pytest.fixture
def report_and_results():
    """A rebuild after a new backbone: data stages reused, backbone stages recomputed."""
    results = [
        _result("dataset", "d" * 16, True, {"images": [96], "classes": [12], "errors": [0]}),
        _result("captions", "c" * 16, True, {"attributes": [62], "image_attributes": [792]}),
        _result("backbone", "b" * 16, False, {"backbones": [1]}),
        _result("extract", "e" * 16, False, {"activations": [1000, 536], "predictions": [96]}),
        _result("explanations", "x" * 16, False, {"explanations": [24]}),
    ]
    seconds = {"dataset": 0.01, "captions": 0.02, "backbone": 3.5, "extract": 1.25, "explanations": 0.4}
    records = [
        StageRecord(
            r.stage,
            r.manifest.fingerprint,
            r.reused,
            seconds[r.stage],
            *(("net", "features.3") if r.stage not in ("dataset", "captions") else ()),
        )
        for r in results
    ]
    report = BuildReport(
        store="/store",
        run_id="20261126T020000-abcdef",
        backbone="net",
        layer="features.3",
        layers=["features.3"],
        stages=records,
        examples=["This is a Scarlet Tanager because it has a red crown."],
        seconds=5.2,
        metrics={
            "test_accuracy": 0.875,
            "test_accuracy_by_layer": {"features.3": 0.875},
            "decomposition": "linear_gap",
            "vocabulary_size": 62,
            "filters": 16,
            "images": 96,
            "classes": 12,
            "captions": 480,
        },
    )
    return report, results


def test_stage_rows_say_what_each_stage_did(report_and_results):
    report, results = report_and_results
    rows = stage_rows(report, results)
    assert [(r["stage"], r["layer"], r["state"], r["seconds"]) for r in rows] == [
        ("dataset", "", "reused", 0.01),
        ("captions", "", "reused", 0.02),
        ("backbone", "features.3", "recomputed", 3.5),
        ("extract", "features.3", "recomputed", 1.25),
        ("explanations", "features.3", "recomputed", 0.4),
    ]
    assert rows[0]["rows"] == "images 96, classes 12, errors 0"
    assert rows[3]["rows"] == "activations 1536, predictions 96"  # partitions summed per table
    assert rows[2]["fingerprint"] == "b" * 12
    assert stage_rows(report)[0]["rows"] == ""  # no manifests: row counts unknown, not invented


def test_summary_markdown_has_accuracy_stages_and_examples(report_and_results):
    report, results = report_and_results
    text = summary_markdown(report, results)
    assert "test accuracy: **0.875**" in text
    assert "stages: 2 of 5 reused" in text
    assert "| extract | features.3 | recomputed | 1.25 | activations 1536, predictions 96 |" in text
    assert "- This is a Scarlet Tanager because it has a red crown." in text


def test_publishing_never_fails_the_build(report_and_results, monkeypatch, caplog):
    import prefect.artifacts

    report, results = report_and_results
    published = []
    monkeypatch.setattr(prefect.artifacts, "create_table_artifact", lambda table, key, description: published.append((key, table)))
    monkeypatch.setattr(prefect.artifacts, "create_markdown_artifact", lambda markdown, key, description: published.append((key, markdown)))
    assert publish_build_artifacts(report, results)
    assert [key for key, _ in published] == [artifacts.BUILD_STAGES_KEY, artifacts.BUILD_SUMMARY_KEY]
    assert published[0][1] == stage_rows(report, results)

    def unreachable(*args, **kwargs):
        raise ConnectionError("no API at http://127.0.0.1:9/api")

    monkeypatch.setattr(prefect.artifacts, "create_table_artifact", unreachable)
    assert publish_build_artifacts(report, results) is False
    assert "could not publish" in caplog.text and "no API" in caplog.text


def _yaml_deployments() -> dict[str, dict]:
    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return {d["name"]: d for d in config["deployments"]}


def test_prefect_yaml_parameters_are_valid_flow_parameters():
    """What `prefect deploy` would register: each entrypoint loads and its parameters validate."""
    from prefect.flows import load_flow_from_entrypoint

    deployments = _yaml_deployments()
    assert set(deployments) == {"nightly-build", "rebuild", "on-demand"}
    for name, deployment in deployments.items():
        path, function = deployment["entrypoint"].split(":")
        flow = load_flow_from_entrypoint(f"{REPO / path}:{function}")
        parameters = dict(deployment["parameters"])
        if flow.name == "explain":
            parameters["images"] = ["bird.png"]  # required: given when the run is triggered
        validated = flow.validate_parameters(parameters)
        assert deployment["work_pool"]["name"] == "process", name
        if flow.name == "build":
            assert type(validated["options"]).__name__ == "BuildOptions"  # a mapping in YAML, the dataclass in the flow
    assert deployments["nightly-build"]["schedules"] == [{"cron": NIGHTLY_CRON, "timezone": "UTC"}]
    rebuild = deployments["rebuild"]["parameters"]["options"]
    assert {"backbone", "weights", "layer"} <= set(rebuild) and "schedules" not in deployments["rebuild"]


def test_serve_offers_the_same_deployments_as_prefect_yaml(tmp_path):
    served = served_deployments(str(tmp_path / "store"), options={"dataset": "synthetic", "epochs": 3})
    assert [(d.flow_name, d.name) for d in served] == [("build", "nightly-build"), ("build", "rebuild"), ("explain", "on-demand")]
    assert set(_yaml_deployments()) == {d.name for d in served}
    nightly = served[0]
    assert [s.schedule.cron for s in nightly.schedules] == [NIGHTLY_CRON]
    assert nightly.parameters == {"store": str(tmp_path / "store"), "progress": False, "options": {"dataset": "synthetic", "epochs": 3}}
    assert nightly.entrypoint == "filterspeak.flows.build.build"
    assert served_deployments(str(tmp_path), cron=None)[0].schedules == []
    with pytest.raises(ValueError, match="unknown build option"):
        served_deployments(str(tmp_path), options={"epoch": 3})


def test_cli_serve_arguments():
    args = _parser().parse_args(["serve", "--store", "S", "--cron", "30 3 * * *", "--options", '{"dataset": "cub100"}'])
    assert (args.command, args.store, args.cron, args.timezone, args.options) == ("serve", "S", "30 3 * * *", "UTC", {"dataset": "cub100"})


def test_serve_runs_both_builds_on_a_dask_cluster_and_an_s3_store():
    args = _parser().parse_args(["serve", "--store", "s3://bucket/store/", "--dask", "tcp://10.0.0.5:8786"])
    assert (args.store, args.dask) == ("s3://bucket/store/", "tcp://10.0.0.5:8786")
    nightly, rebuild, explain = served_deployments(args.store, options={"epochs": 3}, dask=args.dask)
    assert nightly.parameters == {"store": "s3://bucket/store", "progress": False, "options": {"epochs": 3, "dask": "tcp://10.0.0.5:8786"}}
    assert rebuild.parameters["options"] == {"dask": "tcp://10.0.0.5:8786"}
    assert explain.parameters == {"store": "s3://bucket/store"}
