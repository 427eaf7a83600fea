"""Thin Prefect wrappers around the stage functions: names, logging, retries. No logic here.

Caching is the store's (content-addressed fingerprints), so Prefect's own cache is off and
results stay in memory: tasks pass StageResult manifests (paths + hashes), never arrays.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from filterspeak.tasks.count_cooccurrence import count_cooccurrence
from filterspeak.tasks.estimate_pdfs import estimate_pdfs
from filterspeak.tasks.extract_features import extract_layers
from filterspeak.tasks.generate_explanations import generate_explanations
from filterspeak.tasks.parse_captions import parse_captions
from filterspeak.tasks.prepare_dataset import prepare_dataset
from filterspeak.tasks.prepare_backbone import prepare_backbone
from filterspeak.tasks.train_head import train_head


def _wrap(function, name: str):
    return task(function, name=name, cache_policy=NO_CACHE, persist_result=False)


dataset_task = _wrap(prepare_dataset, "dataset")
captions_task = _wrap(parse_captions, "captions")
backbone_task = _wrap(prepare_backbone, "backbone")
head_task = _wrap(train_head, "head")
extract_task = _wrap(extract_layers, "extract")
cooccurrence_task = _wrap(count_cooccurrence, "cooccurrence")
pdfs_task = _wrap(estimate_pdfs, "pdfs")
explanations_task = _wrap(generate_explanations, "explanations")
