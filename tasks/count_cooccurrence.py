"""Stage `cooccurrence`: Σ_x p(x|f) p(a|x) for every (filter, attribute), computed in DuckDB."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from filterspeak.errors import OptionError
from filterspeak.interpret.responses import response
from filterspeak.sql import load_sql
from filterspeak.storage.cache import StageOutput
from filterspeak.storage.duckdb_session import parquet_views
from filterspeak.storage.schemas import BACKBONE_LAYER, F64, I32, I64, table
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec

TABLES = {"cooccurrence": table(("filter", I32), ("attribute_id", I64), ("cooccurrence", F64), ("support", I64), partition=BACKBONE_LAYER)}


@dataclass(frozen=True)
class CooccurrenceParams:
    response: str  # s_f(x): a name in filterspeak.interpret.responses.RESPONSES
    top_k: int  # images kept per filter for p(x|f); 0 keeps every train image

    def __post_init__(self) -> None:
        response(self.response)  # an unknown name is an error, never silently another response
        if self.top_k < 0:
            raise OptionError("--top-k-images must be >= 0 (0 keeps all images)")

    def to_dict(self) -> dict:
        return asdict(self)


def params_from(options, inputs: Inputs | None = None) -> CooccurrenceParams:
    return CooccurrenceParams(response=options.response, top_k=options.top_k_images)


def compute(inputs: Inputs, params: CooccurrenceParams, context: Context, output: StageOutput) -> None:
    tables = {name: inputs.path(name) for name in ("activations", "image_attributes", "images")}
    statement = load_sql("cooccurrence").format(response_column=response(params.response).column)
    with parquet_views(tables) as connection:
        result = connection.sql(statement, params={"top_k": params.top_k}).to_arrow_table()
    output.write("cooccurrence", result)
    output.metrics.update(pairs=result.num_rows)


STAGE = StageSpec(
    name="cooccurrence",
    module=__name__,
    scope="layer",
    writes=TABLES,
    params=params_from,
    compute=compute,
    reads={"activations": ALL_COLUMNS, "image_attributes": ALL_COLUMNS, "images": ALL_COLUMNS},
)
