"""Computing shards of an extraction pass, in this process or in a Dask worker's: the images
decoded while the network runs, each layer's maps reduced to every declared response, each shard
stored in its layer's work area as soon as it is known (storage/shards.py)."""

from __future__ import annotations

import dataclasses
import multiprocessing
from contextlib import closing

import numpy as np
import pyarrow as pa
import torch

from filterspeak.backbones import features, loader
from filterspeak.backbones.devices import resolve_device
from filterspeak.backbones.heads import DecisionHead, GradientTimesActivation, ModelLinearHead, model_head
from filterspeak.backbones.loading import load_model
from filterspeak.interpret.decomposition import GRADIENT_X_ACTIVATION
from filterspeak.interpret.responses import RESPONSES
from filterspeak.progress import Progress
from filterspeak.storage import stored_maps
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.schemas import F32, F64, I64
from filterspeak.storage.shards import ShardArea
from filterspeak.storage.vectors import vector_column
from filterspeak.tasks.extract_plan import ShardJob

RESPONSE_COLUMNS = [response.column for response in RESPONSES.values()]
# One row per image of a shard; list columns hold its per-filter values (scratch, never published).
SHARD_SCHEMA = pa.schema(
    [("image_id", I64)]
    + [(c, pa.list_(F32)) for c in RESPONSE_COLUMNS]
    + [("contributions", pa.list_(F64)), ("logits", pa.list_(F64))]  # null unless gradient x activation / the model decides
    + list(stored_maps.COLUMNS)
)


def _shard_table(image_ids: np.ndarray, result: features.ReducedFeatures, with_logits: bool) -> pa.Table:
    rows = len(image_ids)
    columns = {"image_id": pa.array(image_ids, type=pa.int64())}
    columns.update({column: vector_column(result.responses[column].numpy(), F32) for column in RESPONSE_COLUMNS})
    contributions = None if result.contributions is None else result.contributions.double().numpy()
    columns["contributions"] = vector_column(contributions, F64, rows)
    columns["logits"] = vector_column(result.logits.double().numpy() if with_logits else None, F64, rows)
    columns.update(stored_maps.map_columns(*result.maps.arrays()))
    return pa.table(columns)


def planned_head(model: torch.nn.Module, plan: dict | None) -> DecisionHead | None:
    """The model's own head as decided on the first batch (kept in the work area's plan)."""
    if not plan:
        return None
    return GradientTimesActivation() if plan["method"] == GRADIENT_X_ACTIVATION else ModelLinearHead.of(model, plan["linear"])


def compute_shards(
    model, job: ShardJob, files: list[list[str]], areas, device, progress: Progress | None = None, workers: int | None = None
) -> None:
    """Compute and store the shards of `job` for every layer of `areas`.

    A stream: `workers` processes decode the images (filterspeak.backbones.loader; None = as many as
    suits the machine) while the network runs, and each layer's maps are reduced on the device
    (features.forward_reduced). On CUDA a shard is stored once the next batch is queued, so the
    device keeps working while its results come back and are written.

    With the model's own head, whether each layer's decisions decompose exactly (a linear GAP
    head) or by gradient × activation is decided on the first batch computed and saved in the
    work area's plan, so a resumed run (or another worker) decides exactly as the first one did."""
    params, layers = job.params, list(areas)
    own_head = params.head == "model"
    plans = {layer: areas[layer].load_plan() for layer in layers} if own_head else {}

    def mode() -> str:
        if not own_head:
            return "to_layers"
        return "gradients" if any(plan and plan["method"] == GRADIENT_X_ACTIVATION for plan in plans.values()) else "full"

    channels_last = features.uses_channels_last(params.layout, model)
    if channels_last:
        model.to(memory_format=torch.channels_last)

    def forward(batch: torch.Tensor, how: str) -> dict[str, features.ReducedFeatures]:
        return features.forward_reduced(model, layers, batch, params.preprocessing, device, how, channels_last, keep_maps=True)

    flat = [name for names in files for name in names]
    ends = np.cumsum([len(names) for names in files]).tolist()
    spans = list(zip([0, *ends[:-1]], ends))
    workers = loader.auto_workers(device, len(spans)) if workers is None else workers
    batches = loader.image_batches(flat, params.preprocessing, spans, workers, device.type == "cuda")
    unstored: list[tuple[int, dict[str, features.ReducedFeatures]]] = []

    def store() -> None:
        while unstored:
            position, results = unstored.pop(0)
            for layer, result in results.items():
                table = _shard_table(job.image_ids[position], result.wait(), own_head)
                areas[layer].write(job.indices[position], table, job.items[position])
            if progress is not None:
                progress.update(1)

    with closing(batches):
        try:
            for position, batch in enumerate(batches):
                results = forward(batch, mode())
                if own_head and not all(plans.values()):
                    for layer in layers:
                        if not plans[layer]:
                            head = model_head(model, results[layer].wait())
                            plans[layer] = {"method": head.method, "linear": getattr(head, "module", None)}
                            areas[layer].save_plan(plans[layer])  # before any shard that depends on it
                    if mode() == "gradients" and next(iter(results.values())).contributions is None:
                        results = forward(batch, "gradients")
                store()  # the previous batch: on CUDA its results came back while this one was queued
                unstored.append((position, results))
                if device.type != "cuda":
                    store()
        finally:
            store()  # also when a later batch failed: what was computed is kept


_WORKER_MODELS: dict[tuple, torch.nn.Module] = {}


def compute_shard_job(job: ShardJob) -> int:
    """Run one job in this process (a Dask worker's): its own mirror of the store, the network
    loaded once per process and kept for the next job, images decoded in this process. Shards
    already stored (by a run or a worker that died after storing them) are skipped. Returns how many
    shards it computed."""
    from filterspeak.storage.cache import load_stage_result

    paths = StorePaths.at(job.store)
    areas = {layer: ShardArea.of(paths, job.stage, key, SHARD_SCHEMA) for layer, key in job.keys.items()}
    own_head = job.params.head == "model"
    keep = [
        position
        for position, index in enumerate(job.indices)
        if not (
            all(area.is_done(index, job.items[position]) for area in areas.values())
            and (not own_head or all(a.load_plan() for a in areas.values()))
        )
    ]
    if not keep:
        return 0
    job = dataclasses.replace(
        job,
        indices=tuple(job.indices[p] for p in keep),
        items=tuple(job.items[p] for p in keep),
        image_ids=tuple(job.image_ids[p] for p in keep),
        names=tuple(job.names[p] for p in keep),
    )
    device = resolve_device(job.device)
    cache_key = (job.store, *job.backbone, str(device))
    if cache_key not in _WORKER_MODELS:
        backbone = load_stage_result(paths, *job.backbone)
        weights = backbone.file_path("weights") if job.params.spec.trainable else None
        _WORKER_MODELS.clear()  # one network per process at a time
        _WORKER_MODELS[cache_key] = load_model(job.params.spec, weights, job.num_outputs).to(device)
    files = [paths.files_of(*job.images, list(names)) for names in job.names]  # this job's images only
    # image decoders as on a build's own machine (on a GPU), unless this process may not start any
    # (a Dask worker under a nanny is a daemon)
    workers = 0 if multiprocessing.current_process().daemon else None
    compute_shards(_WORKER_MODELS[cache_key], job, files, areas, device, workers=workers)
    return len(job.indices)
