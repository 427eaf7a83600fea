"""Stage `extract`: one streaming pass over every image → activations (and the model's own
decisions), for one or several layers at once (one stage output per layer).

Activations are reduced per filter to every declared response (filterspeak.interpret.responses:
max, mean = GAP). With head "model" the network's own classifier decides (filterspeak.backbones.heads:
exactly decomposed when the layer feeds a GAP + linear head, by gradient × activation otherwise);
with head "none" the forward stops at the layer and stage `head` decides later. The device is
not part of the fingerprint: CPU and CUDA agree.

The pass is cut into shards (tasks/extract_plan.py), computed here or on a cluster's workers
(tasks/extract_worker.py). Crash safety: every batch of images is a shard, stored as soon as it is computed in the layer's
work area (storage/shards.py, keyed by the stage fingerprint). A run killed mid-pass leaves its
finished shards there; the next run skips their images ("resuming: k of n shards done") and
assembles the stage output from all shards, so its tables are identical to an uninterrupted
run's. The output is stored atomically, and only then is the work area deleted.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from filterspeak.backbones import features
from filterspeak.backbones.devices import resolve_device
from filterspeak.backbones.loading import load_model
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.interpret.response_stats import ResponseStats
from filterspeak.interpret.responses import GAP
from filterspeak.progress import Progress, announce
from filterspeak.storage import stored_maps
from filterspeak.storage.cache import StageOutput, StageResult, stage_key
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.schemas import BACKBONE_LAYER, F32, F64, I32, I64, STR
from filterspeak.storage.schemas import table as declare_table
from filterspeak.storage.shards import ShardArea
from filterspeak.storage.vectors import vector_matrix
from filterspeak.tasks import decisions, extract_plan, extract_worker
from filterspeak.tasks.decisions import DecisionWriter
from filterspeak.tasks.extract_worker import RESPONSE_COLUMNS
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec, cached, key_inputs, run

TABLES = {
    # s_f(x) for every declared response: one row per image, one value per filter (SQL: the
    # `activations` view, one row per (image, filter); storage/vectors.py says why).
    "filter_responses": declare_table(("image_id", I64), *((c, pa.list_(F32)) for c in RESPONSE_COLUMNS), partition=BACKBONE_LAYER),
    # per split, filter and response column: the largest and the mean value (response_stats.py)
    "response_stats": declare_table(
        ("split", STR), ("response", STR), ("filter", I32), ("images", I64), ("maximum", F64), ("mean", F64), partition=BACKBONE_LAYER
    ),
    # every image's feature maps, 8 bits per value (storage/stored_maps.py, backbones/quantised_maps.py): what the report draws
    "feature_maps": declare_table(*stored_maps.TABLE_COLUMNS, partition=BACKBONE_LAYER),
    **decisions.TABLES,
}
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


def _model(inputs: Inputs, spec: BackboneSpec) -> torch.nn.Module:
    backbone = inputs.result("backbones")
    return load_model(spec, backbone.file_path("weights") if spec.trainable else None, backbone.metrics["num_outputs"])


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
    areas = {layer: ShardArea.of(paths, STAGE.name, keys[layer], extract_worker.SHARD_SCHEMA) for layer in layers}
    missing = [layer for layer in layers if cached(STAGE, paths, inputs, params, contexts[layer]) is None]
    images = inputs.read("images", ["image_id", "split", "class_id", "path"]).sort_values("image_id").reset_index(drop=True)
    shards = extract_plan.Shards.of(images["image_id"].to_numpy(), batch_size)
    resumed, started = 0, time.perf_counter()
    if missing:
        label = f"extract {params.spec.name}:{','.join(missing)}"
        todo = extract_plan.todo(shards, {layer: areas[layer] for layer in missing}, params.head == "model")
        resumed = len(shards.spans) - len(todo)
        if resumed:
            announce(f"{label}: resuming: {resumed} of {len(shards.spans)} shards done")
        jobs = extract_plan.jobs(
            STAGE.name, paths, inputs, params, {layer: keys[layer] for layer in missing}, images, shards, todo, context.device
        )
        with Progress(len(shards.spans), label, unit="shard", enabled=context.progress, initial=resumed) as bar:
            if context.shards is None and jobs:  # here: one job of every shard, the network already loaded
                device = resolve_device(context.device)
                model.to(device)
                whole = dataclasses.replace(jobs[0], **extract_plan.merged(jobs))
                files = [inputs.located("images", names) for names in whole.names]
                extract_worker.compute_shards(
                    model, whole, files, {layer: areas[layer] for layer in missing}, device, bar, context.loader_workers
                )
            elif context.shards is not None:
                first = 1 if params.head == "model" and not all(areas[layer].load_plan() for layer in missing) else 0
                for part in (jobs[:first], extract_plan.grouped(jobs[first:])):  # the first shard decides the head's plan for the others
                    context.shards.map(extract_worker.compute_shard_job, part, bar.update)

    shards_seconds = time.perf_counter() - started if missing else 0.0

    def assemble(layer: str):
        def compute(_inputs: Inputs, _params: ExtractParams, _context: Context, output: StageOutput) -> None:
            """Shard by shard into the stage's tables: memory holds one shard, whatever the image count."""
            head = extract_worker.planned_head(model, areas[layer].load_plan()) if params.head == "model" else None
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

    return [run(STAGE, paths, inputs, params, contexts[layer], compute=assemble(layer)) for layer in layers]


STAGE = StageSpec(
    name="extract",
    module=__name__,
    scope="layer",
    writes=TABLES,
    params=params_from,
    compute=None,  # per pass: extract_layers assembles each layer from the pass's shards
    reads={"images": ("image_id", "split", "class_id", "path"), "backbones": ALL_COLUMNS},
    run_layers=extract_layers,
)
