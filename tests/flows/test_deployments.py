"""Acceptance: the Operations steps (docs/operations.md) against a real Prefect server, end to end.

`prefect server start` → work pool → `prefect deploy` from prefect.yaml → `prefect deployment run`
with a tiny synthetic build → `prefect worker start --run-once` → the run is COMPLETED, the store
has its tables and the run has its summary artifact; then the `explain` deployment on one image.
Every process started here is stopped at the end, also on failure.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from filterspeak.flows.artifacts import BUILD_STAGES_KEY, BUILD_SUMMARY_KEY, EXPLAIN_KEY
from filterspeak.storage.catalog import query
from filterspeak.storage.paths import StorePaths
from tiny_build import TINY as TINY_BUILD
from tiny_build import parameters

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TINY = parameters(TINY_BUILD)  # the tiny build's options as the deployment run's `options` mapping


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Stop a process started here in its own session, with whatever it spawned."""
    if process.poll() is None:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue


@pytest.fixture
def prefect_server(tmp_path):
    """A Prefect server on a free loopback port with its own PREFECT_HOME; yields (api_url, env)."""
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_UI_ENABLED": "false",
        # the nightly cron must not add runs of its own while the test drives the worker
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PWD": str(REPO),  # prefect.yaml's pull step: {{ $PWD }} at deploy time
    }
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prefect server did not start:\n{(tmp_path / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield api, env
    finally:
        _stop(server)
        log.close()


def _prefect(env: dict, *args: str, timeout: float = 120) -> str:
    """Run a `prefect` CLI command from the repository root; its output, or the test fails with it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "--no-prompt", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        output, _ = process.communicate()
        pytest.fail(f"prefect {' '.join(args)} timed out after {timeout} s:\n{output[-4000:]}")
    finally:
        _stop(process)
    assert process.returncode == 0, f"prefect {' '.join(args)} failed ({process.returncode}):\n{output[-4000:]}"
    return output


def _run_deployment(api: str, env: dict, name: str, **params) -> dict:
    """`prefect deployment run` then one `prefect worker start --run-once`; the finished flow run."""
    created = _prefect(env, "deployment", "run", name, *(f"--param={k}={json.dumps(v)}" for k, v in params.items()))
    run_id = re.search(r"UUID: ([0-9a-f-]{36})", created).group(1)
    worker = _prefect(env, "worker", "start", "--pool", "process", "--run-once", "--limit", "1", timeout=240)
    flow_run = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()
    assert flow_run["state"]["type"] == "COMPLETED", f"{name}: {flow_run['state']}\n{worker[-6000:]}"
    return flow_run


def _artifacts(api: str, flow_run_id: str) -> dict[str, dict]:
    found = httpx.post(f"{api}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}}, timeout=10)
    return {artifact["key"]: artifact for artifact in found.json()}


def test_deploy_from_prefect_yaml_and_run_through_a_worker(prefect_server, tmp_path):
    api, env = prefect_server
    _prefect(env, "work-pool", "create", "process", "--type", "process")
    _prefect(env, "deploy", "--all", "--prefect-file", str(REPO / "prefect.yaml"))

    deployment = httpx.get(f"{api}/deployments/name/build/nightly-build", timeout=10).json()
    assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 2 * * *"]
    assert deployment["work_pool_name"] == "process"
    names = {d["name"] for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()}
    assert names == {"nightly-build", "rebuild", "on-demand"}

    store = tmp_path / "store"
    build_run = _run_deployment(api, env, "build/nightly-build", store=str(store), options=TINY)

    counts = query(
        StorePaths(store),
        """
        SELECT (SELECT count(*) FROM images) AS images,
               (SELECT count(*) FROM filter_attributes) AS filter_attributes,
               (SELECT count(*) FROM explanations) AS explanations,
               (SELECT count(DISTINCT stage) FROM runs) AS stages""",
    ).to_pylist()[0]
    images = TINY_BUILD.num_classes * TINY_BUILD.images_per_class
    assert counts["images"] == images
    assert counts["filter_attributes"] > 0 and counts["explanations"] > 0
    assert counts["stages"] == 10

    artifacts = _artifacts(api, build_run["id"])
    assert {BUILD_STAGES_KEY, BUILD_SUMMARY_KEY} <= set(artifacts)
    stages = json.loads(artifacts[BUILD_STAGES_KEY]["data"])
    assert [row["stage"] for row in stages] == [
        "dataset",
        "captions",
        "backbone",
        "extract",
        "cooccurrence",
        "pdfs",
        "attribute_scores",
        "explanations",
        "failures",
        "report",
    ]
    assert all(row["state"] == "recomputed" for row in stages)
    assert f"images {images}" in stages[0]["rows"]
    assert "test accuracy" in artifacts[BUILD_SUMMARY_KEY]["data"]
    (report_index,) = (Path(store) / "report").glob("*/*/index.html")  # the build's one report
    assert f"]({report_index.as_uri()})" in artifacts[BUILD_SUMMARY_KEY]["data"]  # the run links it

    image = query(StorePaths(store), "SELECT path FROM images WHERE split = 'test' LIMIT 1").to_pylist()[0]["path"]
    explain_run = _run_deployment(api, env, "explain/on-demand", store=str(store), images=[image])
    explained = json.loads(_artifacts(api, explain_run["id"])[EXPLAIN_KEY]["data"])
    assert [row["image"] for row in explained] == [image]
    assert explained[0]["sentence"].startswith("This is a")
