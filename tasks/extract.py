"""Stage `extract`: one streaming pass over every image → activations (and the model's own
decisions), for one or several layers at once (one stage output per layer).

Activations are reduced per filter to every declared response (filterspeak.interpret.responses:
max, mean = GAP). With head "model" the network's own classifier decides (filterspeak.backbones.heads:
exactly decomposed when the layer feeds a GAP + linear head, by gradient × activation otherwise);
with head "none" the forward stops at the layer and stage `head` decides later. The device is
not part of the fingerprint: CPU and CUDA agree.

Crash safety: every batch of images is a shard, stored as soon as it is computed in the layer's
work area (storage/shards.py, keyed by the stage fingerprint). A run killed mid-pass leaves its
finished shards there; the next run skips their images ("resuming: k of n shards done") and
assembles the stage output from all shards, so its tables are identical to an uninterrupted
run's. The output is stored atomically, and only then is the work area deleted.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import time
from contextlib import closing, nullcontext
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from filterspeak.backbones import features, loader, stored_maps
from filterspeak.backbones.devices import resolve_device
from filterspeak.backbones.heads import DecisionHead, GradientTimesActivation, ModelLinearHead, model_head
from filterspeak.backbones.loading import load_model
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.interpret.decomposition import GRADIENT_X_ACTIVATION
from filterspeak.interpret.response_stats import ResponseStats
from filterspeak.interpret.responses import GAP, RESPONSES
from filterspeak.progress import Progress, announce
from filterspeak.storage.cache import StageOutput, StageResult, stage_key
from filterspeak.storage.fingerprint import fingerprint
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.schemas import BACKBONE_LAYER, F32, F64, I32, I64, STR
from filterspeak.storage.schemas import table as declare_table
from filterspeak.storage.shards import ShardArea
from filterspeak.storage.vectors import vector_column, vector_matrix
from filterspeak.tasks import decisions
from filterspeak.tasks.decisions import DecisionWriter
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec, cached, key_inputs, run

RESPONSE_COLUMNS = [response.column for response in RESPONSES.values()]
TABLES = {
    # s_f(x) for every declared response: one row per image, one value per filter (SQL: the
    # `activations` view, one row per (image, filter); storage/vectors.py says why).
    "filter_responses": declare_table(("image_id", I64), *((c, pa.list_(F32)) for c in RESPONSE_COLUMNS), partition=BACKBONE_LAYER),
    # per split, filter and response column: the largest and the mean value (response_stats.py)
    "response_stats": declare_table(
        ("split", STR), ("response", STR), ("filter", I32), ("images", I64), ("maximum", F64), ("mean", F64), partition=BACKBONE_LAYER
    ),
    # every image's feature maps, 8 bits per value (backbones/stored_maps.py): what the report draws
    "feature_maps": declare_table(*stored_maps.TABLE_COLUMNS, partition=BACKBONE_LAYER),
    **decisions.TABLES,
}
# One row per image of a shard; list columns hold its per-filter values (scratch, never published).
SHARD_SCHEMA = pa.schema(
    [("image_id", I64)]
    + [(c, pa.list_(F32)) for c in RESPONSE_COLUMNS]
    + [("contributions", pa.list_(F64)), ("logits", pa.list_(F64))]  # null unless gradient x activation / the model decides
    + list(stored_maps.COLUMNS)
)
MAP_COLUMNS = ["image_id", *(name for name, _ in stored_maps.COLUMNS)]
BATCH_SIZE = 64


@dataclass(frozen=True)
class ExtractParams:
    spec: BackboneSpec
    preprocessing: Preprocessing
    head: str  # "model": the network's own head decides; "none": a trained head decides later
    layout: str = "auto"  # features.LAYOUTS; channels-last changes float results, so it is keyed

    def to_dict(self) -> dict:
        return {"spec": self.spec.to_dict(), "preprocessing": self.preprocessing.to_dict(), "head": self.head, "layout": self.layout}


def params_from(options, inputs: Inputs) -> ExtractParams:
    trained = options.trains_head(inputs.metrics("backbones")["num_outputs"], inputs.metrics("classes")["classes"])
    return ExtractParams(options.backbone_spec, options.preprocessing, "none" if trained else "model", options.layout)


def _shard_table(image_ids: np.ndarray, result: features.ReducedFeatures, with_logits: bool) -> pa.Table:
    rows = len(image_ids)
    columns = {"image_id": pa.array(image_ids, type=pa.int64())}
    columns.update({column: vector_column(result.responses[column].numpy(), F32) for column in RESPONSE_COLUMNS})
    contributions = None if result.contributions is None else result.contributions.double().numpy()
    columns["contributions"] = vector_column(contributions, F64, rows)
    columns["logits"] = vector_column(result.logits.double().numpy() if with_logits else None, F64, rows)
    columns.update(result.maps.columns())
    return pa.table(columns)


@dataclass(frozen=True)
class _Shards:
    """The pass cut into batches; each batch is one shard, identified by its image ids."""

    spans: list[tuple[int, int]]
    items: list[str]  # fingerprint of each shard's image ids

    @classmethod
    def of(cls, image_ids: np.ndarray, batch_size: int) -> _Shards:
        spans = [(start, min(start + batch_size, len(image_ids))) for start in range(0, len(image_ids), batch_size)]
        return cls(spans, [fingerprint([int(i) for i in image_ids[a:b]]) for a, b in spans])


@dataclass(frozen=True)
class ShardJob:
    """Some shards of one extraction pass, as any process can compute them: a Dask worker on another
    machine included. Everything is named through the store (its location and stage fingerprints),
    never by a path of the machine that planned the job."""

    store: str  # StorePaths.location
    backbone: tuple[str, str]  # (stage, fingerprint) of the output holding the network's weights
    images: tuple[str, str]  # (stage, fingerprint) of the output whose `images` table names the files
    num_outputs: int
    params: ExtractParams
    keys: dict[str, str]  # layer -> the extraction fingerprint of its shard area
    indices: tuple[int, ...]  # the shards
    items: tuple[str, ...]  # fingerprint of each shard's image ids
    image_ids: tuple[np.ndarray, ...]  # each shard's image ids
    names: tuple[tuple[str, ...], ...]  # each shard's image files, as the images table names them
    device: str = "auto"

    def __str__(self) -> str:
        return f"shards {self.indices[0]}-{self.indices[-1]}" if len(self.indices) > 1 else f"shard {self.indices[0]}"


def _planned_head(model: torch.nn.Module, plan: dict | None) -> DecisionHead | None:
    """The model's own head as decided on the first batch (kept in the work area's plan)."""
    if not plan:
        return None
    return GradientTimesActivation() if plan["method"] == GRADIENT_X_ACTIVATION else ModelLinearHead.of(model, plan["linear"])


def _todo(shards: _Shards, areas: dict[str, ShardArea], own_head: bool) -> list[int]:
    """The shards some layer still lacks (all of them while the model's head is undecided)."""
    planned = all(area.load_plan() for area in areas.values()) if own_head else True
    return [i for i, items in enumerate(shards.items) if not (planned and all(area.is_done(i, items) for area in areas.values()))]


def _compute_shards(
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
    areas = {layer: ShardArea.of(paths, STAGE.name, key, SHARD_SCHEMA) for layer, key in job.keys.items()}
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
    _compute_shards(_WORKER_MODELS[cache_key], job, files, areas, device, workers=workers)
    return len(job.indices)


def _model(inputs: Inputs, spec: BackboneSpec) -> torch.nn.Module:
    backbone = inputs.result("backbones")
    return load_model(spec, backbone.file_path("weights") if spec.trainable else None, backbone.metrics["num_outputs"])


def _jobs(paths: StorePaths, inputs: Inputs, params: ExtractParams, keys, images, shards: _Shards, todo, device: str) -> list[ShardJob]:
    """One job per shard to compute."""
    backbone, source = inputs.result("backbones"), inputs.result("images")
    ids, names = images["image_id"].to_numpy(), images["path"].tolist()
    return [
        ShardJob(
            store=paths.location,
            backbone=(backbone.stage, backbone.manifest.fingerprint),
            images=(source.stage, source.manifest.fingerprint),
            num_outputs=int(backbone.metrics["num_outputs"]),
            params=params,
            keys=keys,
            indices=(index,),
            items=(shards.items[index],),
            image_ids=(ids[slice(*shards.spans[index])],),
            names=(tuple(names[slice(*shards.spans[index])]),),
            device=device,
        )
        for index in todo
    ]


def extract_layers(
    paths: StorePaths, inputs: Inputs, params: ExtractParams, layers: list[str], context: Context = Context(), batch_size: int = BATCH_SIZE
) -> list[StageResult]:
    """One stage output per layer (each cached on its own), computed in a single pass for all
    layers that are not cached yet: here, or as shard jobs on a cluster (`context.shards`)."""
    inputs = inputs.for_stage(STAGE)
    model = _model(inputs, params.spec)
    for layer in layers:
        features.layer_module(model, layer)  # fail fast, with the valid names, before any work
    contexts = {layer: dataclasses.replace(context, backbone=context.backbone or params.spec.name, layer=layer) for layer in layers}
    keys = {layer: stage_key(STAGE.name, key_inputs(STAGE, inputs, params, contexts[layer])) for layer in layers}
    areas = {layer: ShardArea.of(paths, STAGE.name, keys[layer], SHARD_SCHEMA) for layer in layers}
    missing = [layer for layer in layers if cached(STAGE, paths, inputs, params, contexts[layer]) is None]
    images = inputs.read("images", ["image_id", "split", "class_id", "path"]).sort_values("image_id").reset_index(drop=True)
    shards = _Shards.of(images["image_id"].to_numpy(), batch_size)
    resumed, started = 0, time.perf_counter()
    if missing:
        label = f"extract {params.spec.name}:{','.join(missing)}"
        todo = _todo(shards, {layer: areas[layer] for layer in missing}, params.head == "model")
        resumed = len(shards.spans) - len(todo)
        if resumed:
            announce(f"{label}: resuming: {resumed} of {len(shards.spans)} shards done")
        jobs = _jobs(paths, inputs, params, {layer: keys[layer] for layer in missing}, images, shards, todo, context.device)
        with Progress(len(shards.spans), label, unit="shard", enabled=context.progress, initial=resumed) as bar:
            if context.shards is None and jobs:  # here: one job of every shard, the network already loaded
                device = resolve_device(context.device)
                model.to(device)
                whole = dataclasses.replace(jobs[0], **_merged(jobs))
                files = [inputs.located("images", names) for names in whole.names]
                _compute_shards(model, whole, files, {layer: areas[layer] for layer in missing}, device, bar, context.loader_workers)
            elif context.shards is not None:
                first = 1 if params.head == "model" and not all(areas[layer].load_plan() for layer in missing) else 0
                for part in (jobs[:first], _grouped(jobs[first:])):  # the first shard decides the head's plan for the others
                    context.shards.map(compute_shard_job, part, bar.update)

    shards_seconds = time.perf_counter() - started if missing else 0.0

    def assemble(layer: str):
        def compute(_inputs: Inputs, _params: ExtractParams, _context: Context, output: StageOutput) -> None:
            """Shard by shard into the stage's tables: memory holds one shard, whatever the image count."""
            head = _planned_head(model, areas[layer].load_plan()) if params.head == "model" else None
            filters, stats = 0, ResponseStats()
            with (
                output.writer("filter_responses") as responses,
                output.writer("feature_maps") as maps,
                DecisionWriter(output, head) if head else nullcontext() as decided,
            ):
                for index, (start, stop) in enumerate(shards.spans):
                    shard = areas[layer].read(index)
                    responses.write(shard)
                    maps.write(shard.select(MAP_COLUMNS))
                    stats.add(images["split"].to_numpy()[start:stop], {c: vector_matrix(shard.column(c)) for c in RESPONSE_COLUMNS})
                    gap = vector_matrix(shard.column(GAP.column), np.float64)
                    filters = gap.shape[1]
                    if decided is not None:
                        logits, gradients = vector_matrix(shard.column("logits")), vector_matrix(shard.column("contributions"))
                        decided.write(images.iloc[start:stop], logits, gap, gradients)
            output.write("response_stats", stats.table())
            output.metrics.update(
                backbone=params.spec.name,
                layer=layer,
                images=len(images),
                filters=filters,
                shards=len(shards.spans),
                shards_resumed=resumed,
                shards_seconds=round(shards_seconds, 3),  # computing the shards (here or on a cluster), before assembling
            )

        return compute

    return [run(_with_compute(assemble(layer)), paths, inputs, params, contexts[layer]) for layer in layers]


# Shards per job on a cluster: each job pays a Prefect task's state changes, its reads of the
# store and, on a GPU worker, starting its image decoders, so a job of one shard (64 images, a few
# ms of a GPU's time) would be mostly overhead (docs/performance.md, "Scaling out").
JOB_SHARDS = 32  # 2,048 images: enough for image decoders to pay off on a GPU worker (loader.MIN_AUTO_BATCHES)


def _grouped(jobs: list[ShardJob]) -> list[ShardJob]:
    """Consecutive single-shard jobs as jobs of up to JOB_SHARDS shards."""
    return [dataclasses.replace(jobs[i], **_merged(jobs[i : i + JOB_SHARDS])) for i in range(0, len(jobs), JOB_SHARDS)]


def _merged(jobs: list[ShardJob]) -> dict:
    """The per-shard fields of several jobs as one job's."""
    return {name: tuple(value for job in jobs for value in getattr(job, name)) for name in ("indices", "items", "image_ids", "names")}


def _with_compute(compute) -> StageSpec:
    """This stage's declaration with the compute that assembles one layer from its shards."""
    return dataclasses.replace(STAGE, compute=compute)


def _unsupported(*_args) -> None:
    raise RuntimeError("extract runs through extract_layers (one pass serves every layer)")


STAGE = StageSpec(
    name="extract",
    module=__name__,
    scope="layer",
    writes=TABLES,
    params=params_from,
    compute=_unsupported,
    reads={"images": ("image_id", "split", "class_id", "path"), "backbones": ALL_COLUMNS},
    run_layers=extract_layers,
)
