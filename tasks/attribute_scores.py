"""Stage `attribute_scores`: p(a|x) for every image and attribute (`image_attribute_scores`).

What `filterspeak search` ranks by, what the retrieval metric scores and what the failure
analysis compares classes with: stored once, so all three read the same numbers (and SQL too).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from filterspeak.interpret.image_attributes import image_attribute_scores
from filterspeak.interpret.responses import RESPONSES
from filterspeak.storage.cache import StageOutput
from filterspeak.storage.schemas import BACKBONE_LAYER, F64, I64, table
from filterspeak.tasks.readers import filter_attribute_pdf, vector_chunks
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec

TABLES = {"image_attribute_scores": table(("image_id", I64), ("attribute_id", I64), ("score", F64), partition=BACKBONE_LAYER)}


@dataclass(frozen=True)
class ScoreParams:
    response: str  # the filter response s_f(x) p(f|x) is proportional to (the build's --response)

    def to_dict(self) -> dict:
        return asdict(self)


def params_from(options, inputs: Inputs | None = None) -> ScoreParams:
    return ScoreParams(response=options.response)


def compute(inputs: Inputs, params: ScoreParams, context: Context, output: StageOutput) -> None:
    """Chunk by chunk of images, rows sorted by (image_id, attribute_id)."""
    column = RESPONSES[params.response].column
    num_attributes = len(inputs.read("attributes", ["attribute_id"]))
    pdf = filter_attribute_pdf(inputs, int(inputs.metrics("filter_responses")["filters"]), num_attributes)
    images = 0
    with output.writer("image_attribute_scores") as writer:
        for ids, matrices in vector_chunks(inputs, "filter_responses", [column]):
            scores = image_attribute_scores(pdf, matrices[column])
            writer.write(
                pd.DataFrame(
                    {
                        "image_id": np.repeat(ids, num_attributes),
                        "attribute_id": np.tile(np.arange(num_attributes, dtype=np.int64), len(ids)),
                        "score": scores.reshape(-1),
                    }
                )
            )
            images += len(ids)
    output.metrics.update(images=images, attributes=num_attributes)


STAGE = StageSpec(
    name="attribute_scores",
    module=__name__,
    scope="layer",
    writes=TABLES,
    params=params_from,
    compute=compute,
    reads={
        "filter_attributes": ("filter", "attribute_id", "probability"),
        "filter_responses": ALL_COLUMNS,
        "attributes": ("attribute_id",),
    },
)
