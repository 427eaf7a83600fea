"""Stage `pdfs`: co-occurrence → p(a|f) (filter_attributes), filter_stats, class_attributes, and the
caption log-likelihood of the estimate (estimator_runs: one row for counting, one per EM step)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from filterspeak.interpret import estimators, filter_pdfs
from filterspeak.interpret.decomposition import positive_shares
from filterspeak.interpret.responses import GAP, RESPONSES
from filterspeak.storage.cache import StageOutput
from filterspeak.storage.schemas import BACKBONE_LAYER, F64, I32, I64, table
from filterspeak.tasks.decisions import head_of
from filterspeak.tasks.readers import split_ids, vector_chunks
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec

TABLES = {
    "filter_attributes": table(
        ("filter", I32), ("attribute_id", I64), ("probability", F64), ("cooccurrence", F64), ("lift", F64), partition=BACKBONE_LAYER
    ),
    "filter_stats": table(
        ("filter", I32),
        ("selectivity", F64),
        ("entropy", F64),
        ("top_attribute_id", I64),
        ("top_probability", F64),
        ("mean_response", F64),
        ("max_response", F64),
        partition=BACKBONE_LAYER,
    ),
    "estimator_runs": table(("iteration", I32), ("log_likelihood", F64), ("gain", F64), partition=BACKBONE_LAYER),
    "class_attributes": table(("class_id", I64), ("attribute_id", I64), ("probability", F64), ("rank", I32), partition=BACKBONE_LAYER),
}


@dataclass(frozen=True)
class PdfParams:
    prior_correction: str  # a name in prior_corrections.PRIOR_CORRECTIONS
    estimator: str  # a name in estimators.ESTIMATORS
    response: str  # s_f(x) of p(f|x) in the caption likelihood: a name in RESPONSES
    settings: tuple[tuple[str, Any], ...] = ()  # the estimator's own options (EM: em_tolerance), so only they key it

    def to_dict(self) -> dict:
        values = asdict(self)
        return {**values, **dict(values.pop("settings"))}


def params_from(options, inputs: Inputs | None = None) -> PdfParams:
    estimator = estimators.ESTIMATORS[options.estimator]
    settings = tuple((name, getattr(options, name)) for name in estimator.options)
    return PdfParams(prior_correction=options.prior_correction, estimator=estimator.name, response=options.response, settings=settings)


def _caption_chunks(inputs: Inputs, column: str, train_ids: np.ndarray, num_attributes: int) -> estimators.Chunks:
    """(p(f|x), n(x, a)) of the train images, chunk by chunk in image order: the responses streamed
    from `filter_responses`, the caption attributes held as one sparse matrix (a few per image)."""
    pairs = inputs.read("image_attributes", ["image_id", "attribute_id", "probability"])
    pairs = pairs[pairs["image_id"].isin(train_ids)]
    counts = sparse.csr_matrix(
        (pairs["probability"].to_numpy(), (np.searchsorted(train_ids, pairs["image_id"].to_numpy()), pairs["attribute_id"].to_numpy())),
        shape=(len(train_ids), num_attributes),
    )

    def chunks():
        for ids, matrices in vector_chunks(inputs, "filter_responses", [column], train_ids):
            yield positive_shares(matrices[column]), counts[np.searchsorted(train_ids, ids)]

    return chunks


def _estimate(inputs: Inputs, params: PdfParams, counted: np.ndarray, train_ids: np.ndarray, context: Context) -> estimators.EstimatorRun:
    """The chosen estimator's p(a|f) (before the prior correction, up to row scale) and its caption
    log-likelihood per image at each step."""
    chunks = _caption_chunks(inputs, RESPONSES[params.response].column, train_ids, counted.shape[1])
    return estimators.ESTIMATORS[params.estimator].estimate(counted, chunks, dict(params.settings), progress=context.progress)


def _train_stats(inputs: Inputs, filters: int) -> tuple[np.ndarray, np.ndarray]:
    """Per filter over the train images: the largest max response and the mean GAP response
    (summed by extraction as it streamed the images: filterspeak/interpret/response_stats.py)."""
    stats = inputs.read("response_stats")
    train = stats[stats["split"] == "train"].set_index(["response", "filter"])
    largest = train["maximum"].get(RESPONSES["max"].column, pd.Series(dtype=float)).reindex(range(filters), fill_value=-np.inf)
    mean = train["mean"].get(GAP.column, pd.Series(dtype=float)).reindex(range(filters), fill_value=0.0)
    return largest.to_numpy(), mean.to_numpy()


def _class_pdf(inputs: Inputs, pdf: np.ndarray, train_ids: np.ndarray, mean_response: np.ndarray) -> np.ndarray:
    """p(a|c): from the head's weights when it is linear, else from the train decisions (streamed)."""
    head = head_of(inputs.result("predictions"))
    if head.linear is not None:
        return filter_pdfs.class_attribute_matrix(pdf, head.linear[0], mean_response)
    predictions = inputs.read("predictions", ["image_id", "predicted_class_id"]).set_index("image_id")["predicted_class_id"]
    sums = np.zeros((len(inputs.read("classes", ["class_id"])), pdf.shape[0]))
    for ids, matrices in vector_chunks(inputs, "filter_contributions", ["contribution"], train_ids):
        sums = filter_pdfs.add_class_contributions(sums, matrices["contribution"], predictions.loc[ids].to_numpy())
    return filter_pdfs.class_attribute_matrix_from_sums(pdf, sums)


def compute(inputs: Inputs, params: PdfParams, context: Context, output: StageOutput) -> None:
    attributes = inputs.read("attributes")
    num_attributes, num_filters = len(attributes), int(inputs.metrics("response_stats")["filters"])
    train_ids = split_ids(inputs, "train")
    prior = attributes.sort_values("attribute_id")["prior"].to_numpy()
    counts = inputs.read("cooccurrence")
    matrix = filter_pdfs.dense_matrix(counts, num_filters, num_attributes, "filter", "attribute_id", "cooccurrence")
    run = _estimate(inputs, params, matrix, train_ids, context)
    log_likelihoods = run.log_likelihoods
    pdf, lift = filter_pdfs.filter_attribute_matrix(run.pdf, prior, params.prior_correction)
    output.write(
        "estimator_runs",
        pd.DataFrame(
            {
                "iteration": np.arange(len(log_likelihoods), dtype=np.int32),
                "log_likelihood": log_likelihoods,
                "gain": np.diff(log_likelihoods, prepend=np.nan),
            }
        ),
    )

    filters, attribute_ids = np.nonzero(pdf)
    output.write(
        "filter_attributes",
        pd.DataFrame(
            {
                "filter": filters.astype(np.int32),
                "attribute_id": attribute_ids,
                "probability": pdf[filters, attribute_ids],
                "cooccurrence": matrix[filters, attribute_ids],
                "lift": lift[filters, attribute_ids],
            }
        ),
    )

    train_max, train_mean = _train_stats(inputs, num_filters)
    selectivity, entropy = filter_pdfs.selectivity(pdf)
    has_pdf = pdf.sum(axis=1) > 0
    output.write(
        "filter_stats",
        pd.DataFrame(
            {
                "filter": np.arange(num_filters, dtype=np.int32),
                "selectivity": selectivity,
                "entropy": entropy,
                "top_attribute_id": np.where(has_pdf, pdf.argmax(axis=1), -1),
                "top_probability": pdf.max(axis=1) if num_attributes else np.zeros(num_filters),
                "mean_response": train_mean,
                "max_response": train_max,
            }
        ),
    )

    class_pdf = _class_pdf(inputs, pdf, train_ids, train_mean)
    class_ids, attribute_ids = np.nonzero(class_pdf)
    frame = pd.DataFrame({"class_id": class_ids, "attribute_id": attribute_ids, "probability": class_pdf[class_ids, attribute_ids]})
    frame["rank"] = frame.groupby("class_id")["probability"].rank(ascending=False, method="first").astype(np.int32)
    output.write("class_attributes", frame.sort_values(["class_id", "rank"]))
    output.metrics.update(
        filters=num_filters,
        attributes=num_attributes,
        mean_selectivity=float(selectivity[has_pdf].mean()) if has_pdf.any() else 0.0,
        estimator=params.estimator,
        estimator_steps=len(log_likelihoods) - 1,
        estimator_converged=run.converged,
        caption_log_likelihood=log_likelihoods[-1],
    )


STAGE = StageSpec(
    name="pdfs",
    module=__name__,
    scope="layer",
    writes=TABLES,
    params=params_from,
    compute=compute,
    reads={
        "cooccurrence": ALL_COLUMNS,
        "attributes": ALL_COLUMNS,
        "image_attributes": ("image_id", "attribute_id", "probability"),
        "filter_responses": ALL_COLUMNS,
        "images": ("image_id", "split"),
        "classes": ("class_id",),
        "response_stats": ALL_COLUMNS,
        "predictions": ALL_COLUMNS,
        "filter_contributions": ALL_COLUMNS,
        "head_weights": ALL_COLUMNS,
        "head_bias": ALL_COLUMNS,
    },
)
