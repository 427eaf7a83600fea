"""The extraction pass cut into shards (one batch of images each, identified by its image ids) and
the jobs that compute them: one per shard, grouped into jobs of JOB_SHARDS on a cluster."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from filterspeak.storage.fingerprint import fingerprint
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.shards import ShardArea
from filterspeak.tasks.stage import Inputs


@dataclass(frozen=True)
class Shards:
    """The pass cut into batches; each batch is one shard, identified by its image ids."""

    spans: list[tuple[int, int]]
    items: list[str]  # fingerprint of each shard's image ids

    @classmethod
    def of(cls, image_ids: np.ndarray, batch_size: int) -> Shards:
        spans = [(start, min(start + batch_size, len(image_ids))) for start in range(0, len(image_ids), batch_size)]
        return cls(spans, [fingerprint([int(i) for i in image_ids[a:b]]) for a, b in spans])


@dataclass(frozen=True)
class ShardJob:
    """Some shards of one extraction pass, as any process can compute them: a Dask worker on another
    machine included. Everything is named through the store (its location and stage fingerprints),
    never by a path of the machine that planned the job."""

    store: str  # StorePaths.location
    stage: str  # the stage whose work area holds the shards
    backbone: tuple[str, str]  # (stage, fingerprint) of the output holding the network's weights
    images: tuple[str, str]  # (stage, fingerprint) of the output whose `images` table names the files
    num_outputs: int
    params: Any  # the stage's ExtractParams
    keys: dict[str, str]  # layer -> the extraction fingerprint of its shard area
    indices: tuple[int, ...]  # the shards
    items: tuple[str, ...]  # fingerprint of each shard's image ids
    image_ids: tuple[np.ndarray, ...]  # each shard's image ids
    names: tuple[tuple[str, ...], ...]  # each shard's image files, as the images table names them
    device: str = "auto"

    def __str__(self) -> str:
        return f"shards {self.indices[0]}-{self.indices[-1]}" if len(self.indices) > 1 else f"shard {self.indices[0]}"


def todo(shards: Shards, areas: dict[str, ShardArea], own_head: bool) -> list[int]:
    """The shards some layer still lacks (all of them while the model's head is undecided)."""
    planned = all(area.load_plan() for area in areas.values()) if own_head else True
    return [i for i, items in enumerate(shards.items) if not (planned and all(area.is_done(i, items) for area in areas.values()))]


def jobs(
    stage: str, paths: StorePaths, inputs: Inputs, params: Any, keys, images, shards: Shards, indices: list[int], device: str
) -> list[ShardJob]:
    """One job per shard to compute."""
    backbone, source = inputs.result("backbones"), inputs.result("images")
    ids, names = images["image_id"].to_numpy(), images["path"].tolist()
    return [
        ShardJob(
            store=paths.location,
            stage=stage,
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
        for index in indices
    ]


# Shards per job on a cluster: each job pays a Prefect task's state changes, its reads of the
# store and, on a GPU worker, starting its image decoders, so a job of one shard (64 images, a few
# ms of a GPU's time) would be mostly overhead (docs/performance.md, "Scaling out").
JOB_SHARDS = 32  # 2,048 images: enough for image decoders to pay off on a GPU worker (loader.MIN_AUTO_BATCHES)


def grouped(jobs: list[ShardJob]) -> list[ShardJob]:
    """Consecutive single-shard jobs as jobs of up to JOB_SHARDS shards."""
    return [dataclasses.replace(jobs[i], **merged(jobs[i : i + JOB_SHARDS])) for i in range(0, len(jobs), JOB_SHARDS)]


def merged(jobs: list[ShardJob]) -> dict:
    """The per-shard fields of several jobs as one job's."""
    return {name: tuple(value for job in jobs for value in getattr(job, name)) for name in ("indices", "items", "image_ids", "names")}
