"""Extraction on CUDA gives the CPU's tables within float tolerance (runs where CUDA exists)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from filterspeak.backbones.registry import BackboneSpec, Preprocessing
from filterspeak.datasets.registry import DatasetParams
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.vectors import vector_matrix
from stage_runs import run_backbone, run_dataset, run_extract

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (compares CPU and CUDA extraction)")

SPEC = BackboneSpec(width=8, epochs=2)
PREPROCESSING = Preprocessing()


def test_cuda_extraction_matches_cpu(tmp_path):
    cpu_store = StorePaths(tmp_path / "cpu").ensure()
    dataset = run_dataset(cpu_store, DatasetParams.of("synthetic", images_per_class=10))
    backbone = run_backbone(cpu_store, dataset, SPEC, PREPROCESSING, device="cpu")
    [on_cpu] = run_extract(cpu_store, dataset, backbone, SPEC, PREPROCESSING, [SPEC.default_layer], device="cpu")

    cuda_store = StorePaths(tmp_path / "cuda")
    shutil.copytree(cpu_store.root, cuda_store.root)
    shutil.rmtree(cuda_store.stages / "extract")
    from filterspeak.storage.cache import load_stage_result

    cuda_dataset = load_stage_result(cuda_store, "dataset", dataset.manifest.fingerprint)
    cuda_backbone = load_stage_result(cuda_store, "backbone", backbone.manifest.fingerprint)
    [on_cuda] = run_extract(cuda_store, cuda_dataset, cuda_backbone, SPEC, PREPROCESSING, [SPEC.default_layer], device="cuda")
    assert not on_cuda.reused and on_cuda.manifest.fingerprint == on_cpu.manifest.fingerprint
    for column in ["max_response", "mean_response"]:
        a, b = (vector_matrix(result.read_arrow("filter_responses").column(column)) for result in (on_cpu, on_cuda))
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    a, b = on_cpu.read("predictions"), on_cuda.read("predictions")
    for column in ["probability", "logit"]:
        np.testing.assert_allclose(a[column], b[column], rtol=1e-3, atol=1e-4)
    assert (on_cpu.read("predictions")["predicted_class_id"] == on_cuda.read("predictions")["predicted_class_id"]).mean() > 0.99


def test_training_runs_on_cuda(tmp_path):
    store = StorePaths(tmp_path).ensure()
    dataset = run_dataset(store, DatasetParams.of("synthetic", images_per_class=10))
    backbone = run_backbone(store, dataset, SPEC, PREPROCESSING, device="cuda")
    assert 0.0 <= backbone.metrics["test_accuracy"] <= 1.0
