"""`filterspeak serve`: one process that schedules and runs the build and explain flows.

The no-infrastructure alternative to prefect.yaml + work pool + worker (`prefect.serve`): runs
execute as subprocesses of this process for as long as it lives. The deployments carry the same
names as in prefect.yaml, so `prefect deployment run build/nightly-build` triggers either setup.

    python -m filterspeak.flows.serve [--store DIR] [--cron "0 2 * * *"] [--timezone TZ] [--options JSON] [--dask ADDRESS]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from filterspeak.errors import OptionError
from filterspeak.options import BuildOptions
from filterspeak.storage.paths import resolve_store

NIGHTLY_CRON = "0 2 * * *"  # as prefect.yaml's nightly-build
EXPLAIN_DEPLOYMENT = "on-demand"


def served_deployments(
    store: str | None = None, cron: str | None = NIGHTLY_CRON, timezone: str = "UTC", options: dict | None = None, dask: str | None = None
) -> list:
    """The RunnerDeployments `serve` runs: a scheduled build, an on-demand rebuild, on-demand explain.

    `options` (a partial BuildOptions dict) are the nightly build's; they are checked here so a
    typo fails at start, not at 2 am. `dask` (a scheduler address) runs both builds' extraction on
    that cluster (the `dask` build option). Module entrypoints: the served runs import the installed package."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    from filterspeak.flows.build import build
    from filterspeak.flows.explain import explain

    options = dict(options or {}) | ({"dask": dask} if dask else {})
    try:
        BuildOptions(**options)
    except TypeError as error:
        raise OptionError(f"unknown build option in {sorted(options)}: {error}") from None
    root = resolve_store(store)  # absolute (or a URL): a run's working directory may differ from ours
    common = {"entrypoint_type": EntrypointType.MODULE_PATH}
    return [
        build.to_deployment(
            "nightly-build",
            schedules=[Cron(cron, timezone=timezone)] if cron else None,
            parameters={"store": root, "progress": False, **({"options": options} if options else {})},
            description="Rebuild the store on a schedule; only stages whose inputs changed re-run.",
            **common,
        ),
        build.to_deployment(
            "rebuild",
            parameters={"store": root, "progress": False, **({"options": {"dask": dask}} if dask else {})},
            description="Build on demand, e.g. for a new backbone or weights file: pass options (backbone, weights, layer).",
            **common,
        ),
        explain.to_deployment(
            EXPLAIN_DEPLOYMENT,
            parameters={"store": root},
            description="Sentences for image files (parameter `images`), with the store's latest build.",
            **common,
        ),
    ]


def serve_forever(
    store: str | None = None, cron: str | None = NIGHTLY_CRON, timezone: str = "UTC", options: dict | None = None, dask: str | None = None
) -> None:
    """Register the deployments with the Prefect API and run their flow runs until interrupted."""
    from prefect import serve

    serve(*served_deployments(store, cron, timezone, options, dask))


def add_serve_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--store", default=None, help="store directory, or s3://bucket/prefix, for every served run")
    parser.add_argument(
        "--dask", default=None, help="address of a Dask scheduler (tcp://host:8786): the builds' extraction runs on its workers"
    )
    parser.add_argument("--cron", default=NIGHTLY_CRON, help=f'nightly build schedule (default "{NIGHTLY_CRON}"; "" for none)')
    parser.add_argument("--timezone", default="UTC", help="the schedule's time zone (default UTC)")
    parser.add_argument(
        "--options",
        type=json.loads,
        default=None,
        help='nightly build options as JSON, e.g. \'{"dataset": "cub100", "data_dir": "data/cub100"}\'',
    )
    return parser


def run_serve(args: argparse.Namespace) -> int:
    """The `filterspeak serve` command. Served runs are subprocesses that log to the UI: they get
    INFO, not the quiet WARNING the CLI sets for its own terminal output."""
    if os.environ.get("PREFECT_LOGGING_LEVEL") == "WARNING":
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
    serve_forever(args.store, args.cron or None, args.timezone, args.options, args.dask)
    return 0


if __name__ == "__main__":
    sys.exit(run_serve(add_serve_arguments(argparse.ArgumentParser(prog="python -m filterspeak.flows.serve")).parse_args()))
