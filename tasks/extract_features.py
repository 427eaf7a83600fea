"""Stage `extract`: one streaming pass over every image → activations (and the model's own decisions),
for one or several layers at once (one stage output per layer).

Activations are reduced per filter to the spatial max and mean (the mean is GAP). With
`head="model"` the network's own classifier decides, and its decisions are decomposed per
filter: exactly (α_f = w_ĉf · GAP(A_f)) when the layer feeds a GAP + linear head, by gradient ×
activation otherwise. With `head="none"` the forward stops at the layer; a trained head (stage
`head`) decides later. The device is not part of the fingerprint: CPU and CUDA agree.

Crash safety: every batch of images is a shard, stored as soon as it is computed in the layer's
work area (storage/shards.py, keyed by the stage fingerprint). A run killed mid-pass leaves its
finished shards there; the next run skips their images ("resuming: k of n shards done") and
assembles the stage output from all shards, so its tables are identical to an uninterrupted
run's. The output is stored atomically by run_stage, and only then is the work area deleted.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from tqdm.auto import tqdm

from filterspeak.backbones import features, images as image_loading
from filterspeak.backbones.devices import resolve_device
from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.interpret.decomposition import GRADIENT_X_ACTIVATION, LINEAR_GAP
from filterspeak.storage.cache import StageOutput, StageResult, lookup, run_stage, stage_key
from filterspeak.storage.fingerprint import code_version, fingerprint
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.shards import ShardArea
from filterspeak.tasks.decisions import write_decisions
from filterspeak.tasks.prepare_backbone import load_backbone_model
from filterspeak.tasks.prepare_dataset import IMAGE_KEY_COLUMNS

STAGE = "extract"
HeadMode = Literal["model", "none"]


def long_activations(image_ids: np.ndarray, max_response: np.ndarray, mean_response: np.ndarray) -> pd.DataFrame:
    """(N, F) matrices → one row per (image, filter)."""
    count, filters = max_response.shape
    return pd.DataFrame(
        {
            "image_id": np.repeat(image_ids, filters),
            "filter": np.tile(np.arange(filters, dtype=np.int32), count),
            "max_response": max_response.reshape(-1).astype(np.float32),
            "mean_response": mean_response.reshape(-1).astype(np.float32),
        }
    )


SHARD_TABLE = "extract_shard"


def _announce(message: str) -> None:
    """To the terminal whatever Prefect's log level (tqdm.write keeps a running bar intact)."""
    tqdm.write(message, file=sys.stdout)
    sys.stdout.flush()


def _list_column(matrix: np.ndarray | None, rows: int, value_type: pa.DataType) -> pa.Array:
    """(rows, k) matrix → a list column of `rows` lists of k values (all null when None)."""
    if matrix is None:
        return pa.nulls(rows, pa.list_(value_type))
    width = matrix.shape[1]
    offsets = pa.array(np.arange(0, rows * width + 1, width, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(np.ascontiguousarray(matrix).reshape(-1), type=value_type))


def _list_matrix(column: pa.ChunkedArray) -> np.ndarray | None:
    """Inverse of `_list_column`."""
    if column.null_count == len(column):
        return None
    array = column.combine_chunks()
    values = array.flatten().to_numpy(zero_copy_only=False)
    return values.reshape(len(array), -1) if len(array) else values.reshape(0, 0)


def _shard_table(image_ids: np.ndarray, result: features.BatchFeatures, with_logits: bool) -> pa.Table:
    rows = len(image_ids)
    return pa.table(
        {
            "image_id": pa.array(image_ids, type=pa.int64()),
            "max_response": _list_column(result.max_response.numpy(), rows, pa.float32()),
            "mean_response": _list_column(result.mean_response.numpy(), rows, pa.float32()),
            "contributions": _list_column(
                None if result.contributions is None else result.contributions.double().numpy(), rows, pa.float64()
            ),
            "logits": _list_column(result.logits.double().numpy() if with_logits else None, rows, pa.float64()),
        }
    )


def _module_name(model: torch.nn.Module, module: torch.nn.Module | None) -> str | None:
    return None if module is None else next(name for name, m in model.named_modules() if m is module)


@dataclass(frozen=True)
class _Shards:
    """The pass cut into batches; each batch is one shard, identified by its image ids."""

    spans: list[tuple[int, int]]
    items: list[str]  # fingerprint of each shard's image ids

    @classmethod
    def of(cls, image_ids: np.ndarray, batch_size: int) -> "_Shards":
        spans = [(start, min(start + batch_size, len(image_ids))) for start in range(0, len(image_ids), batch_size)]
        return cls(spans, [fingerprint([int(i) for i in image_ids[a:b]]) for a, b in spans])


def _compute_shards(model, layers, images, shards, areas, preprocessing, head, device, progress, label) -> int:
    """Compute and store every shard not done yet for all `layers`; returns how many were done.

    With the model's own head, how each layer's decisions decompose (linear GAP head or
    gradient × activation) is decided on the first batch computed and saved in the work area's
    plan, so a resumed run decides exactly as the killed one did."""
    plans = {layer: areas[layer].load_plan() for layer in layers} if head == "model" else {}
    done = [
        all(areas[layer].is_done(index, items) and (head != "model" or plans[layer]) for layer in layers)
        for index, items in enumerate(shards.items)
    ]
    resumed = sum(done)
    if resumed:
        _announce(f"extract {label}: resuming: {resumed} of {len(done)} shards done")

    def mode() -> str:
        if head == "none":
            return "to_layers"
        return "gradients" if any(plan and plan["method"] == GRADIENT_X_ACTIVATION for plan in plans.values()) else "full"

    paths_list, image_ids = images["path"].tolist(), images["image_id"].to_numpy()
    bar = tqdm(total=len(done), initial=resumed, desc=f"extract {label}", unit="shard", disable=not progress, leave=False)
    for index in (i for i, finished in enumerate(done) if not finished):
        start, stop = shards.spans[index]
        batch = image_loading.load_images(paths_list[start:stop], preprocessing.image_size, preprocessing.resize)
        results = features.forward_layers(model, layers, batch, preprocessing, device, mode())
        if head == "model" and not all(plans.values()):
            for layer in layers:
                if not plans[layer]:
                    linear = features.linear_gap_head(model, results[layer])
                    plans[layer] = {"method": LINEAR_GAP if linear is not None else GRADIENT_X_ACTIVATION,
                                    "linear": _module_name(model, linear)}
                    areas[layer].save_plan(plans[layer])  # before any shard that depends on it
            if mode() == "gradients" and next(iter(results.values())).contributions is None:
                results = features.forward_layers(model, layers, batch, preprocessing, device, "gradients")
        for layer, result in results.items():
            areas[layer].write(index, _shard_table(image_ids[start:stop], result, head == "model"), shards.items[index])
        bar.update(1)
    bar.close()
    return resumed


def _read_shards(area: ShardArea, count: int) -> dict[str, np.ndarray | None]:
    """Every shard of a layer, concatenated in image order."""
    parts = [area.read(index) for index in range(count)]
    columns = {}
    for name in ("max_response", "mean_response", "contributions", "logits"):
        matrices = [_list_matrix(part.column(name)) for part in parts]
        columns[name] = None if any(m is None for m in matrices) else np.concatenate(matrices)
    return columns


def extract_layers(
    paths: StorePaths,
    dataset: StageResult,
    backbone: StageResult,
    spec: BackboneSpec,
    preprocessing: Preprocessing,
    layers: list[str],
    head: HeadMode = "model",
    device: str = "auto",
    batch_size: int = 64,
    progress: bool = True,
) -> list[StageResult]:
    """One stage output per layer (each cached on its own), computed in a single pass for all
    layers that are not cached yet."""

    def inputs(layer: str) -> dict:
        return {
            "images": dataset.table_hash("images", IMAGE_KEY_COLUMNS),
            "pixels": dataset.metrics["pixels_hash"],
            "weights_sha256": backbone.metrics["weights_sha256"],
            "architecture": spec.to_dict(),
            "layer": layer,
            "head": head,
            "preprocessing": preprocessing.to_dict(),
            "code": code_version(sys.modules[__name__], features, image_loading),
        }

    model = load_backbone_model(backbone, spec)
    for layer in layers:
        features.layer_module(model, layer)  # fail fast, with the valid names, before any work
    keyed = {layer: inputs(layer) for layer in layers}
    areas = {layer: ShardArea.of(paths, STAGE, stage_key(STAGE, keyed[layer]), SHARD_TABLE) for layer in layers}
    cached = {layer: lookup(paths, STAGE, keyed[layer]) for layer in layers}
    for layer in layers:
        if cached[layer] is not None:
            areas[layer].remove()  # left over from a run killed after storing the output
    missing = [layer for layer in layers if cached[layer] is None]
    images = dataset.read("images").sort_values("image_id").reset_index(drop=True)
    shards = _Shards.of(images["image_id"].to_numpy(), batch_size)
    resumed = 0
    if missing:
        torch_device = resolve_device(device)
        model.to(torch_device)
        resumed = _compute_shards(
            model, missing, images, shards, {layer: areas[layer] for layer in missing}, preprocessing, head, torch_device,
            progress, f"{spec.name}:{','.join(missing)}",
        )

    def writer(layer: str):
        def compute(output: StageOutput) -> None:
            arrays = _read_shards(areas[layer], len(shards.spans))
            max_response, mean_response = arrays["max_response"], arrays["mean_response"]
            partition = {"backbone": spec.name, "layer": layer}
            output.write("activations", long_activations(images["image_id"].to_numpy(), max_response, mean_response), partition)
            if head == "model":
                plan = areas[layer].load_plan()
                linear = model.get_submodule(plan["linear"]) if plan["linear"] is not None else None
                head_weights = None
                if linear is not None:
                    head_weights = (linear.weight.detach().cpu().double().numpy(), linear.bias.detach().cpu().double().numpy())
                write_decisions(
                    output, partition, images, arrays["logits"], mean_response.astype(np.float64), plan["method"],
                    head_weights=head_weights, contributions=arrays["contributions"] if plan["method"] == GRADIENT_X_ACTIVATION else None,
                )
            output.metrics.update(
                backbone=spec.name, layer=layer, images=len(images), filters=int(max_response.shape[1]),
                shards=len(shards.spans), shards_resumed=resumed,
            )

        return compute

    results = []
    for layer in layers:
        if cached[layer] is not None:
            results.append(cached[layer])
            continue
        results.append(run_stage(paths, STAGE, keyed[layer], writer(layer)))
        areas[layer].remove()
    return results


def extract_features(
    paths: StorePaths,
    dataset: StageResult,
    backbone: StageResult,
    spec: BackboneSpec,
    preprocessing: Preprocessing,
    layer: str,
    head: HeadMode = "model",
    device: str = "auto",
    batch_size: int = 64,
    progress: bool = True,
) -> StageResult:
    """`extract_layers` for one layer."""
    return extract_layers(paths, dataset, backbone, spec, preprocessing, [layer], head, device, batch_size, progress)[0]
