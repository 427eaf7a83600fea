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
from contextlib import closing, nullcontext
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from filterspeak.backbones import features, loader
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
    **decisions.TABLES,
}
# One row per image of a shard; list columns hold its per-filter values (scratch, never published).
SHARD_SCHEMA = pa.schema(
    [("image_id", I64)]
    + [(c, pa.list_(F32)) for c in RESPONSE_COLUMNS]
    + [("contributions", pa.list_(F64)), ("logits", pa.list_(F64))]  # null unless gradient x activation / the model decides
)
BATCH_SIZE = 64


@dataclass(frozen=True)
class ExtractParams:
    spec: BackboneSpec
    preprocessing: Preprocessing
    head: str  # "model": the network's own head decides; "none": a trained head decides later
    layout: str = "auto"  # features.LAYOUTS; channels-last on the CPU changes float results, so it is keyed

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


def _planned_head(model: torch.nn.Module, plan: dict | None) -> DecisionHead | None:
    """The model's own head as decided on the first batch (kept in the work area's plan)."""
    if not plan:
        return None
    return GradientTimesActivation() if plan["method"] == GRADIENT_X_ACTIVATION else ModelLinearHead.of(model, plan["linear"])


def _compute_shards(
    model, layers, images, shards, areas, params: ExtractParams, device, progress, label, workers: int | None = None
) -> int:
    """Compute and store every shard not done yet for all `layers`; returns how many were done.

    A stream: `workers` processes decode the missing shards' images (filterspeak.backbones.loader;
    None = as many as suits the machine) while the network runs, and each layer's maps are
    reduced on the device (features.forward_reduced). On CUDA a shard is stored once the next
    batch is queued, so the device keeps working while its results come back and are written.

    With the model's own head, whether each layer's decisions decompose exactly (a linear GAP
    head) or by gradient × activation is decided on the first batch computed and saved in the
    work area's plan, so a resumed run decides exactly as the killed one did."""
    own_head = params.head == "model"
    plans = {layer: areas[layer].load_plan() for layer in layers} if own_head else {}
    done = [
        all(areas[layer].is_done(index, items) and (not own_head or plans[layer]) for layer in layers)
        for index, items in enumerate(shards.items)
    ]
    resumed = sum(done)
    if resumed:
        announce(f"extract {label}: resuming: {resumed} of {len(done)} shards done")

    def mode() -> str:
        if not own_head:
            return "to_layers"
        return "gradients" if any(plan and plan["method"] == GRADIENT_X_ACTIVATION for plan in plans.values()) else "full"

    channels_last = features.uses_channels_last(params.layout, device)
    if channels_last:
        model.to(memory_format=torch.channels_last)

    def forward(batch: torch.Tensor, how: str) -> dict[str, features.ReducedFeatures]:
        return features.forward_reduced(model, layers, batch, params.preprocessing, device, how, channels_last)

    image_ids = images["image_id"].to_numpy()
    todo = [index for index, finished in enumerate(done) if not finished]
    workers = loader.auto_workers(device, len(todo)) if workers is None else workers
    batches = loader.image_batches(
        images["path"].tolist(), params.preprocessing, [shards.spans[i] for i in todo], workers, device.type == "cuda"
    )
    unstored: list[tuple[int, dict[str, features.ReducedFeatures]]] = []

    def store() -> None:
        while unstored:
            index, results = unstored.pop(0)
            start, stop = shards.spans[index]
            for layer, result in results.items():
                areas[layer].write(index, _shard_table(image_ids[start:stop], result.wait(), own_head), shards.items[index])
            bar.update(1)

    with Progress(len(done), f"extract {label}", unit="shard", enabled=progress, initial=resumed) as bar, closing(batches):
        try:
            for index, batch in zip(todo, batches):
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
                unstored.append((index, results))
                if device.type != "cuda":
                    store()
        finally:
            store()  # also when a later batch failed: what was computed is kept
    return resumed


def _model(inputs: Inputs, spec: BackboneSpec) -> torch.nn.Module:
    backbone = inputs.result("backbones")
    return load_model(spec, backbone.file_path("weights") if spec.trainable else None, backbone.metrics["num_outputs"])


def extract_layers(
    paths: StorePaths, inputs: Inputs, params: ExtractParams, layers: list[str], context: Context = Context(), batch_size: int = BATCH_SIZE
) -> list[StageResult]:
    """One stage output per layer (each cached on its own), computed in a single pass for all
    layers that are not cached yet."""
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
    resumed = 0
    if missing:
        device = resolve_device(context.device)
        model.to(device)
        resumed = _compute_shards(
            model,
            missing,
            images,
            shards,
            {layer: areas[layer] for layer in missing},
            params,
            device,
            context.progress,
            f"{params.spec.name}:{','.join(missing)}",
            context.loader_workers,
        )

    def assemble(layer: str):
        def compute(_inputs: Inputs, _params: ExtractParams, _context: Context, output: StageOutput) -> None:
            """Shard by shard into the stage's tables: memory holds one shard, whatever the image count."""
            head = _planned_head(model, areas[layer].load_plan()) if params.head == "model" else None
            filters, stats = 0, ResponseStats()
            with output.writer("filter_responses") as responses, DecisionWriter(output, head) if head else nullcontext() as decided:
                for index, (start, stop) in enumerate(shards.spans):
                    shard = areas[layer].read(index)
                    responses.write(shard)
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
            )

        return compute

    return [run(_with_compute(assemble(layer)), paths, inputs, params, contexts[layer]) for layer in layers]


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
