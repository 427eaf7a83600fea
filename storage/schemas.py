"""Explicit Arrow schemas for every table, and how each table is partitioned.

Partition columns (backbone, layer) are not stored inside the files: they come from the
hive-style directories `backbone=<name>/layer=<name>/` so several backbones coexist.
"""

from __future__ import annotations

import pyarrow as pa

BACKBONE_LAYER = ("backbone", "layer")
BACKBONE = ("backbone",)

_I64, _I32, _F64, _F32, _STR, _BOOL = pa.int64(), pa.int32(), pa.float64(), pa.float32(), pa.string(), pa.bool_()

SCHEMAS: dict[str, pa.Schema] = {
    # dataset
    "images": pa.schema([("image_id", _I64), ("split", _STR), ("path", _STR), ("class_id", _I64)]),
    "classes": pa.schema([("class_id", _I64), ("name", _STR)]),
    "captions": pa.schema([("caption_id", _I64), ("image_id", _I64), ("text", _STR), ("origin", _STR)]),
    "image_truth": pa.schema([("image_id", _I64), ("part", _STR), ("phrase", _STR), ("kind", _STR)]),
    "class_definitions": pa.schema([("class_id", _I64), ("part", _STR), ("phrase", _STR)]),
    # caption parsing
    "attributes": pa.schema(
        [
            ("attribute_id", _I64),
            ("phrase", _STR),
            ("modifier", _STR),
            ("noun", _STR),
            ("document_frequency", _I64),
            ("prior", _F64),  # p(a): mean p(a|x) over the train images
        ]
    ),
    "image_attributes": pa.schema(
        [("image_id", _I64), ("attribute_id", _I64), ("count", _I64), ("probability", _F64)]
    ),
    "errors": pa.schema([("item", _STR), ("reason", _STR)]),  # partitioned by stage
    # backbone + extraction
    "backbones": pa.schema(
        [
            ("architecture", _STR),
            ("weights_path", _STR),
            ("weights_sha256", _STR),
            ("num_classes", _I64),
            ("test_accuracy", _F64),
            ("parameters", _STR),
        ]
    ),
    "activations": pa.schema(
        [("image_id", _I64), ("filter", _I32), ("max_response", _F32), ("mean_response", _F32)]
    ),
    "predictions": pa.schema(
        [
            ("image_id", _I64),
            ("predicted_class_id", _I64),
            ("true_class_id", _I64),
            ("probability", _F64),
            ("logit", _F64),
            ("correct", _BOOL),
        ]
    ),
    "contributions": pa.schema([("image_id", _I64), ("filter", _I32), ("contribution", _F64)]),
    "head_weights": pa.schema([("class_id", _I64), ("filter", _I32), ("weight", _F64)]),
    "head_bias": pa.schema([("class_id", _I64), ("bias", _F64)]),
    # estimation
    "cooccurrence": pa.schema(
        [("filter", _I32), ("attribute_id", _I64), ("cooccurrence", _F64), ("support", _I64)]
    ),
    "filter_attributes": pa.schema(
        [("filter", _I32), ("attribute_id", _I64), ("probability", _F64), ("cooccurrence", _F64), ("lift", _F64)]
    ),
    "filter_stats": pa.schema(
        [
            ("filter", _I32),
            ("selectivity", _F64),
            ("entropy", _F64),
            ("top_attribute_id", _I64),
            ("top_probability", _F64),
            ("mean_response", _F64),
            ("max_response", _F64),
        ]
    ),
    "class_attributes": pa.schema(
        [("class_id", _I64), ("attribute_id", _I64), ("probability", _F64), ("rank", _I32)]
    ),
    # explanations
    "explanations": pa.schema(
        [
            ("image_id", _I64),
            ("predicted_class_id", _I64),
            ("true_class_id", _I64),
            ("correct", _BOOL),
            ("probability", _F64),
            ("decomposition", _STR),
            ("sentence", _STR),
        ]
    ),
    "explanation_attributes": pa.schema(
        [("image_id", _I64), ("rank", _I32), ("attribute_id", _I64), ("phrase", _STR), ("score", _F64)]
    ),
    # bookkeeping
    "runs": pa.schema(
        [
            ("run_id", _STR),
            ("started_at", pa.timestamp("s", tz="UTC")),
            ("stage", _STR),
            ("fingerprint", _STR),
            ("reused", _BOOL),
            ("seconds", _F64),
            ("backbone", _STR),
            ("layer", _STR),
        ]
    ),
}

# Scratch tables of resumable stage runs (storage/shards.py): never published, never in the
# catalog. One row per image of an extraction shard; list columns hold its per-filter values.
WORK_SCHEMAS: dict[str, pa.Schema] = {
    "extract_shard": pa.schema(
        [
            ("image_id", _I64),
            ("max_response", pa.list_(_F32)),
            ("mean_response", pa.list_(_F32)),
            ("contributions", pa.list_(_F64)),  # null unless decomposed by gradient x activation
            ("logits", pa.list_(_F64)),  # null when a trained head decides later
        ]
    ),
}

PARTITIONS: dict[str, tuple[str, ...]] = {
    "errors": ("stage",),
    "backbones": BACKBONE,
    "predictions": BACKBONE_LAYER,
    "activations": BACKBONE_LAYER,
    "contributions": BACKBONE_LAYER,
    "head_weights": BACKBONE_LAYER,
    "head_bias": BACKBONE_LAYER,
    "cooccurrence": BACKBONE_LAYER,
    "filter_attributes": BACKBONE_LAYER,
    "filter_stats": BACKBONE_LAYER,
    "class_attributes": BACKBONE_LAYER,
    "explanations": BACKBONE_LAYER,
    "explanation_attributes": BACKBONE_LAYER,
}


def schema_for(table: str) -> pa.Schema:
    try:
        return SCHEMAS[table] if table in SCHEMAS else WORK_SCHEMAS[table]
    except KeyError:
        raise KeyError(f"unknown table {table!r}; known: {', '.join(sorted(SCHEMAS))}") from None


def partition_columns(table: str) -> tuple[str, ...]:
    return PARTITIONS.get(table, ())
