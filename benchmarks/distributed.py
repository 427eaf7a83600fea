"""Extraction on a Dask cluster against extraction in the build's own process, in the same run.

    python benchmarks/distributed.py [--images-per-class 200] [--rounds 3]

Starts, on 127.0.0.1, an S3 server (moto) and two Dask clusters (a scheduler with one `dask worker`
process, another with two), with the test suite's harness (tests/services.py). It builds the default
synthetic dataset (3,200 images: 50 shards; one training epoch) twice, once on the local disk and
once on S3, and then times the `extract` stage
alone (its output and work area are deleted before each timing; the stages after it are reused)
in four ways, one after the other in each round so that the machine's drift hits all of them:

    local      the store on disk, shards computed in the build's process (the default build)
    local-s3   the store on S3, shards computed in the build's process
    dask-1     the store on S3, shards as Prefect tasks on the 1-worker cluster (jobs of up to 32 shards)
    dask-2     the store on S3, shards as Prefect tasks on the 2-worker cluster

A first round, not counted, warms the workers up (they import PyTorch and load the network on
their first job) and is printed as the cold start. It prints shards/s for each (the median over rounds), each one's time over `local`'s per round
(median), and the per-shard overhead of the distributed path: (dask-1 - local) / shards and
(dask-1 - local-s3) / shards, the part due to the cluster alone. This machine has two cores, so
the two workers share them (and the build's process, moto and the scheduler too): dask-2 measures
overhead, not speed-up. docs/performance.md projects the speed-up of N GPU workers from these.
Images are decoded in the computing process (--loader-workers 0 for `local`, as on the workers).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from offline_environment import configure

configure()
# This file's own name would hide Dask's `distributed` package: drop its folder from the path (after
# importing offline_environment from it), and add the tests' services harness.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

MODES = ("local", "local-s3", "dask-1", "dask-2")


def _drop_extraction(store: str) -> None:
    """Forget every extraction output and work area of the store, here and in its bucket."""
    from filterspeak.storage.paths import StorePaths

    paths = StorePaths.at(store)
    for folder in ("stages/extract", "work/extract"):
        shutil.rmtree(paths.root / folder, ignore_errors=True)
        if paths.remote is not None:
            paths.remote.remove_folder(folder)


def _extract_seconds(store: str, options) -> tuple[float, float, int]:
    """(seconds of the extract stage, of its shards alone, shards) of a build that computes extraction only."""
    from filterspeak.flows.build import build

    _drop_extraction(store)
    report = build(store=store, options=options, progress=False)
    extract = next(record for record in report.stages if record.stage == "extract")
    assert not extract.reused and all(r.reused for r in report.stages if r.stage not in ("extract",)), report.stages
    metrics = _extract_metrics(store)
    return extract.seconds, metrics["shards_seconds"], int(metrics["shards"])


def _extract_metrics(store: str) -> dict:
    from filterspeak.storage.paths import StorePaths
    from filterspeak.tasks.graph import open_build

    return open_build(StorePaths.at(store)).result("extract").metrics


def _empty_jobs(address: str, jobs: int = 20) -> float:
    """Seconds per job of Prefect tasks that do nothing (the builtin `abs`) on the cluster."""
    from prefect import flow

    from filterspeak.flows.distributed import shard_runner

    @flow(name="empty-jobs")
    def run() -> float:
        with shard_runner(address) as shards:
            started = time.perf_counter()
            shards.map(abs, list(range(jobs)), lambda _result: None)
            return (time.perf_counter() - started) / jobs

    return run()


def _one_shard_of_images(store: str, mirror: Path) -> float:
    """Seconds to fetch 64 images of the store's dataset into an empty mirror, as a worker does."""
    from filterspeak.storage.paths import StorePaths
    from filterspeak.tasks.graph import open_build

    built = open_build(StorePaths.at(store)).result("dataset")
    names = built.read("images", ["path"])["path"].tolist()[:64]
    os.environ["FILTERSPEAK_CACHE"], previous = str(mirror), os.environ["FILTERSPEAK_CACHE"]
    try:
        started = time.perf_counter()
        StorePaths.at(store).files_of("dataset", built.manifest.fingerprint, names)
        return time.perf_counter() - started
    finally:
        os.environ["FILTERSPEAK_CACHE"] = previous


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images-per-class", type=int, default=200, help="synthetic images per species (16 species)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from prefect.testing.utilities import prefect_test_harness
    from services import DaskCluster, S3Server

    from filterspeak.flows.build import build
    from filterspeak.options import BuildOptions

    scratch = Path(tempfile.mkdtemp(prefix="bench-distributed-"))
    server = S3Server(auth=True, root=scratch)
    os.environ.update(server.env(), FILTERSPEAK_CACHE=str(scratch / "client-mirror"))
    bucket = server.make_bucket("bench")
    clusters = {}
    try:

        def worker_env(_index, folder):
            return {**server.env(), "FILTERSPEAK_CACHE": str(Path(folder) / "mirror")}

        clusters = {"dask-1": DaskCluster(1, worker_env=worker_env), "dask-2": DaskCluster(2, worker_env=worker_env)}
        base = BuildOptions(device="cpu", images_per_class=args.images_per_class, epochs=1, loader_workers=0)
        stores = {"local": str(scratch / "local-store"), "local-s3": f"s3://{bucket}/store", "dask-1": f"s3://{bucket}/store"}
        stores["dask-2"] = stores["dask-1"]
        options = {
            "local": base,
            "local-s3": base,
            "dask-1": base.replace(dask=clusters["dask-1"].address),
            "dask-2": base.replace(dask=clusters["dask-2"].address),
        }
        with prefect_test_harness():
            for store in sorted(set(stores.values())):  # dataset, backbone and the rest, untimed
                build(store=store, options=base, progress=False)
            seconds = {mode: [] for mode in MODES}
            computing = {mode: [] for mode in MODES}
            shards = 0
            for round_ in range(args.rounds + 1):
                for mode in MODES:
                    spent, computed, shards = _extract_seconds(stores[mode], options[mode])
                    seconds[mode].append(spent)
                    computing[mode].append(computed)
                name = "cold start (not counted)" if round_ == 0 else f"round {round_}"
                print(f"{name}: " + ", ".join(f"{m} {seconds[m][-1]:.2f} s" for m in MODES), flush=True)
            seconds = {mode: spent[1:] for mode, spent in seconds.items()}  # the first: workers import and load the network
            computing = {mode: spent[1:] for mode, spent in computing.items()}
            task_seconds = statistics.median(_empty_jobs(clusters["dask-1"].address) for _ in range(args.rounds))
            fetch_seconds = statistics.median(_one_shard_of_images(stores["dask-1"], scratch / f"fetch-{i}") for i in range(args.rounds))
    finally:
        for cluster in clusters.values():
            cluster.stop()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    images = 16 * args.images_per_class
    print(f"\nextract stage, {images} images in {shards} shards of 64, median of {args.rounds} rounds (2-core CPU)")
    for mode in MODES:
        median = statistics.median(seconds[mode])
        ratios = [ours / local for ours, local in zip(seconds[mode], seconds["local"])]
        assembly = statistics.median(s - c for s, c in zip(seconds[mode], computing[mode])) / shards
        print(
            f"  {mode:<9} {median:7.2f} s  {shards / median:6.2f} shards/s  time / local {statistics.median(ratios):.2f}x"
            f"  (assembling the output from the shards: {assembly * 1000:.0f} ms per shard)"
        )
    overhead = [(d - lo) / shards for d, lo in zip(seconds["dask-1"], seconds["local"])]
    cluster_only = [(d - s) / shards for d, s in zip(seconds["dask-1"], seconds["local-s3"])]
    print(f"per-shard overhead of the distributed path: {statistics.median(overhead) * 1000:.0f} ms over local")
    print(f"  of which the cluster (dask-1 over local-s3): {statistics.median(cluster_only) * 1000:.0f} ms")
    print(f"  local compute per shard: {statistics.median(seconds['local']) / shards * 1000:.0f} ms")
    print(f"parts of it, measured alone: a Prefect task on the cluster that does nothing: {task_seconds * 1000:.0f} ms per job;")
    print(f"  fetching one shard's 64 images from the bucket (the synthetic dataset's are in the store): {fetch_seconds * 1000:.0f} ms")


if __name__ == "__main__":
    main()
