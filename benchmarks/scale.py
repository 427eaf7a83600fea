"""Co-occurrence + PDFs at a chosen size, against the float64 numpy product on the same data.

Writes synthetic stage inputs into a temporary store, chunk by chunk (never all at once):
`--images` × `--filters` responses (a ReLU layer's: a third are zero), `--attributes`
attributes with `--per-image` of them per image, a linear head over `--classes` classes; every
image is a train image, as in the co-occurrence over a whole dataset. Then it times the real
`cooccurrence` and `pdfs` stages (Parquet in, Parquet out) and the float64 numpy product
p(x|f)ᵀ · P(a|x) on the same numbers held in memory (one block of images at a time, so the
reference fits in memory at any size), and prints both times, the largest relative difference
between the two co-occurrence matrices, peak RSS of this process, and `ratio <R>x` (stages over
numpy). The issue's sizes:
    python benchmarks/scale.py --images 11788 --filters 2048 --attributes 1000 --per-image 15
    python benchmarks/scale.py --images 100000 --filters 2048 --attributes 1000 --per-image 15
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from filterspeak.interpret.filter_pdfs import dense_matrix
from filterspeak.interpret.response_stats import ResponseStats
from filterspeak.options import BuildOptions
from filterspeak.storage.cache import run_stage
from filterspeak.storage.paths import StorePaths
from filterspeak.storage.schemas import BACKBONE_LAYER, F32
from filterspeak.storage.vectors import vector_column
from filterspeak.tasks import captions as captions_stage
from filterspeak.tasks import cooccurrence as cooccurrence_stage
from filterspeak.tasks import dataset as dataset_stage
from filterspeak.tasks import decisions
from filterspeak.tasks import extract as extract_stage
from filterspeak.tasks import pdfs as pdfs_stage
from filterspeak.tasks.stage import Context, Inputs, run

BLOCK = 4096  # images generated (and multiplied, for the reference) at a time
PARTITION = dict(zip(BACKBONE_LAYER, ("synthetic", "layer")))


def _block(seed: int, start: int, stop: int, filters: int, attributes: int, per_image: int):
    """The responses (max, mean) and attribute triples of images start..stop-1, the same every call."""
    rng = np.random.default_rng([seed, start])
    count = stop - start
    maxima = np.maximum(rng.normal(0.3, 1.0, (count, filters)), 0.0).astype(np.float32)
    means = (maxima * rng.uniform(0.2, 0.6, (count, filters))).astype(np.float32)
    popularity = rng.random((count, attributes)) * (1.0 / np.arange(1, attributes + 1)) ** 0.5  # some attributes are frequent
    chosen = np.sort(np.argpartition(-popularity, per_image - 1, axis=1)[:, :per_image], axis=1)
    weights = rng.random((count, per_image))
    probabilities = weights / weights.sum(axis=1, keepdims=True)
    image_ids = np.arange(start, stop, dtype=np.int64)
    return image_ids, maxima, means, np.repeat(image_ids, per_image), chosen.reshape(-1), probabilities.reshape(-1)


def _blocks(arguments):
    for start in range(0, arguments.images, BLOCK):
        yield _block(
            arguments.seed, start, min(start + BLOCK, arguments.images), arguments.filters, arguments.attributes, arguments.per_image
        )


def write_inputs(paths: StorePaths, arguments) -> Inputs:
    """The dataset, captions and extract outputs the two stages read."""
    classes, filters, attributes = arguments.classes, arguments.filters, arguments.attributes
    counts = np.zeros(attributes)

    def dataset(output):
        with output.writer("images") as images:
            for image_ids, *_ in _blocks(arguments):
                images.write(pd.DataFrame({"image_id": image_ids, "split": "train", "path": "", "class_id": image_ids % classes}))
        output.write("classes", pd.DataFrame({"class_id": np.arange(classes), "name": [f"class {c}" for c in range(classes)]}))
        output.metrics.update(pixels_hash="synthetic", classes=classes)

    def captions(output):
        with output.writer("image_attributes") as image_attributes:
            for _ids, _maxima, _means, images, chosen, probabilities in _blocks(arguments):
                counts[:] += np.bincount(chosen, weights=probabilities, minlength=attributes)
                image_attributes.write(pd.DataFrame({"image_id": images, "attribute_id": chosen, "count": 1, "probability": probabilities}))
        names = [f"attribute {a}" for a in range(attributes)]
        output.write(
            "attributes",
            pd.DataFrame(
                {
                    "attribute_id": np.arange(attributes),
                    "phrase": names,
                    "modifier": "m",
                    "noun": names,
                    "document_frequency": 1,
                    "prior": counts / arguments.images,
                }
            ),
        )

    def extract(output):
        rng = np.random.default_rng(arguments.seed)
        weights, bias = rng.normal(0, 1, (classes, filters)), np.zeros(classes)
        stats = ResponseStats()
        with output.writer("filter_responses") as responses, output.writer("predictions") as predictions:
            for image_ids, maxima, means, *_ in _blocks(arguments):
                stats.add(np.full(len(image_ids), "train"), {"max_response": maxima, "mean_response": means})
                ids = pa.array(image_ids, pa.int64())
                responses.write(
                    pa.table({"image_id": ids, "max_response": vector_column(maxima, F32), "mean_response": vector_column(means, F32)})
                )
                logits = means.astype(np.float64) @ weights.T
                predicted = logits.argmax(axis=1)
                truth = image_ids % classes
                predictions.write(
                    pd.DataFrame(
                        {
                            "image_id": image_ids,
                            "predicted_class_id": predicted,
                            "true_class_id": truth,
                            "probability": 1.0,
                            "logit": logits.max(axis=1),
                            "correct": predicted == truth,
                        }
                    )
                )
        output.write(
            "head_weights",
            pd.DataFrame(
                {
                    "class_id": np.repeat(np.arange(classes), filters),
                    "filter": np.tile(np.arange(filters, dtype=np.int32), classes),
                    "weight": weights.reshape(-1),
                }
            ),
        )
        output.write("head_bias", pd.DataFrame({"class_id": np.arange(classes), "bias": bias}))
        output.write("response_stats", stats.table())
        output.metrics.update(images=arguments.images, filters=filters, decomposition="linear_gap")

    size = {
        "images": arguments.images,
        "filters": filters,
        "attributes": attributes,
        "per_image": arguments.per_image,
        "seed": arguments.seed,
    }
    return Inputs.of(
        run_stage(paths, "dataset", size, dataset, dataset_stage.TABLES),
        run_stage(paths, "captions", size, captions, captions_stage.TABLES),
        run_stage(paths, "extract", size, extract, {**extract_stage.TABLES, **decisions.TABLES}, PARTITION),
    )


def numpy_reference(arguments) -> tuple[np.ndarray, float]:
    """p(x|f)ᵀ · P(a|x) in float64 over every image (all responses > 0 count: top_k = 0), and the
    seconds spent in numpy (generating the numbers is not counted)."""
    product, total, seconds = np.zeros((arguments.filters, arguments.attributes)), np.zeros(arguments.filters), 0.0
    for _ids, maxima, _means, images, chosen, probabilities in _blocks(arguments):
        rows = images - images[0]
        started = time.perf_counter()
        dense = np.zeros((len(maxima), arguments.attributes))
        dense[rows, chosen] = probabilities
        responses = maxima.astype(np.float64)
        product += responses.T @ dense
        total += responses.sum(axis=0)
        seconds += time.perf_counter() - started
    started = time.perf_counter()
    product /= total[:, None]
    return product, seconds + time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=11788)
    parser.add_argument("--filters", type=int, default=2048)
    parser.add_argument("--attributes", type=int, default=1000)
    parser.add_argument("--per-image", type=int, default=15)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", type=Path, help="where to write the synthetic store (default: a temporary folder, removed)")
    arguments = parser.parse_args()

    root = arguments.store or Path(tempfile.mkdtemp(prefix="filterspeak-scale-"))
    try:
        paths = StorePaths(root).ensure()
        started = time.perf_counter()
        inputs = write_inputs(paths, arguments)
        print(
            f"inputs      {time.perf_counter() - started:8.2f} s  ({arguments.images} images × {arguments.filters} filters, "
            f"{arguments.attributes} attributes, {arguments.per_image} per image)"
        )
        options = BuildOptions().replace(response="max", top_k_images=0)
        context = Context("synthetic", "layer", progress=False)
        started = time.perf_counter()
        cooccurrence = run(cooccurrence_stage.STAGE, paths, inputs, cooccurrence_stage.params_from(options), context)
        middle = time.perf_counter()
        run(pdfs_stage.STAGE, paths, Inputs.of(*inputs.producers.values(), cooccurrence), pdfs_stage.params_from(options), context)
        stages = time.perf_counter() - started
        print(f"stages      {stages:8.2f} s  (cooccurrence {middle - started:.2f} s, pdfs {stages - (middle - started):.2f} s)")

        reference, numpy_seconds = numpy_reference(arguments)
        print(f"numpy       {numpy_seconds:8.2f} s  (float64 p(x|f)ᵀ · P(a|x))")
        computed = dense_matrix(
            cooccurrence.read("cooccurrence"), arguments.filters, arguments.attributes, "filter", "attribute_id", "cooccurrence"
        )
        nonzero = reference != 0
        difference = np.abs(computed - reference)[nonzero] / np.abs(reference[nonzero])
        print(
            f"max relative difference {difference.max(initial=0.0):.2e}  (zero where numpy has zero: {bool((computed[~nonzero] == 0).all())})"
        )
        print(f"peak RSS    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:8.2f} GiB")
        print(f"time per image  stages {stages / arguments.images * 1e6:.1f} µs, numpy {numpy_seconds / arguments.images * 1e6:.1f} µs")
        print(f"ratio {stages / numpy_seconds:.2f}x")
    finally:
        if arguments.store is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
