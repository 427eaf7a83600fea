"""How a table is declared: its Arrow schema, its partition columns, and which columns only say
where something lives. Each stage declares the tables it writes (in its module under `tasks/`);
the tables here belong to the store itself (`runs`) or to several stages (`errors`).

Partition columns (backbone, layer, stage) are not stored inside the files: they come from the
hive-style directories `backbone=<name>/layer=<name>/` so several backbones coexist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa

BACKBONE_LAYER = ("backbone", "layer")
BACKBONE = ("backbone",)

I64, I32, F64, F32, STR, BOOL = pa.int64(), pa.int32(), pa.float64(), pa.float32(), pa.string(), pa.bool_()


@dataclass(frozen=True)
class Table:
    """One table: `columns` in order, hive `partition` columns, and `location` columns.

    A location column (an image's path, a weights file's path) says where content lives, not
    what it is: moving a store changes it, so a reader keys on the named metric of the stage
    that wrote the table (a hash of the files) instead of on the column."""

    columns: tuple[tuple[str, pa.DataType], ...]
    partition: tuple[str, ...] = ()
    location: Mapping[str, str] = field(default_factory=dict)

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(list(self.columns))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]


def table(*columns: tuple[str, pa.DataType], partition: tuple[str, ...] = (), location: Mapping[str, str] | None = None) -> Table:
    return Table(tuple(columns), partition, dict(location or {}))


ERRORS = table(("item", STR), ("reason", STR), partition=("stage",))  # what a stage skipped, and why

RUNS = table(
    ("run_id", STR),
    ("started_at", pa.timestamp("s", tz="UTC")),
    ("stage", STR),
    ("fingerprint", STR),
    ("reused", BOOL),
    ("seconds", F64),
    ("backbone", STR),
    ("layer", STR),
)
