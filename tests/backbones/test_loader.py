"""The streaming loader: worker processes give exactly the batches of decoding in one thread."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import torch
from PIL import Image

from filterspeak.backbones import loader
from filterspeak.backbones.images import load_images
from filterspeak.backbones.registry import Preprocessing


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    """Eleven small images of different sizes, modes and formats."""
    folder = tmp_path_factory.mktemp("images")
    generator = np.random.default_rng(0)
    paths = []
    for index in range(11):
        height, width = 40 + 7 * index, 90 - 5 * index
        pixels = generator.integers(0, 256, (height, width, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
        if index % 3 == 1:
            image = image.convert("L")
        path = folder / f"{index:02d}.{'png' if index % 2 else 'jpg'}"
        image.save(path)
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("preprocessing", [Preprocessing(image_size=32), Preprocessing(image_size=24, resize=28)])
def test_workers_give_the_batches_of_the_main_process(image_files, preprocessing):
    spans = [(0, 4), (8, 11), (4, 8)]  # what a resumed pass asks for: some shards, in its own order
    expected = [load_images(image_files[a:b], preprocessing.image_size, preprocessing.resize) for a, b in spans]
    for workers in (0, 2):
        batches = list(loader.image_batches(image_files, preprocessing, spans, workers))
        assert len(batches) == len(spans)
        for batch, reference in zip(batches, expected):
            assert batch.dtype == torch.uint8 and batch.is_contiguous()
            assert torch.equal(batch, reference)


def test_no_spans_no_batches(image_files):
    assert list(loader.image_batches(image_files, Preprocessing(image_size=32), [], 2)) == []


def test_closing_the_stream_early_stops_its_workers(image_files):
    before = set(multiprocessing.active_children())
    batches = loader.image_batches(image_files, Preprocessing(image_size=32), [(0, 2), (2, 4), (4, 6)], 2)
    next(batches)
    assert len(set(multiprocessing.active_children()) - before) == 2
    batches.close()  # as extraction does when a batch fails
    assert set(multiprocessing.active_children()) - before == set()
