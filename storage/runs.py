"""The `runs` table: one Parquet file per build, one row per stage (reused or recomputed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from filterspeak.storage.parquet import write_table
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.schemas import RUNS


@dataclass(frozen=True)
class StageRecord:
    stage: str
    fingerprint: str
    reused: bool
    seconds: float
    backbone: str | None = None
    layer: str | None = None


def record_run(paths: StorePaths, run_id: str, started_at: datetime, stages: list[StageRecord]) -> None:
    frame = pd.DataFrame(
        {
            "run_id": run_id,
            "started_at": pd.Timestamp(started_at).floor("s"),
            "stage": [s.stage for s in stages],
            "fingerprint": [s.fingerprint for s in stages],
            "reused": [s.reused for s in stages],
            "seconds": [s.seconds for s in stages],
            "backbone": [s.backbone for s in stages],
            "layer": [s.layer for s in stages],
        }
    )
    write_table(frame, paths.runs / f"{run_id}.parquet", RUNS.schema, "runs")
    paths.push(paths.runs / f"{run_id}.parquet")
