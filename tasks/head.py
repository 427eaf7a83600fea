"""Stage `head`: fit a linear classifier on the layer's GAP features for the dataset's classes.

Used when the backbone's own classes differ from the dataset's (an ImageNet network on
birds). Its decisions decompose exactly: α_f = w_ĉf · GAP(A_f).
"""

from __future__ import annotations

from filterspeak.backbones import linear_head
from filterspeak.backbones.heads import TrainedLinearHead
from filterspeak.backbones.linear_head import HeadParams
from filterspeak.interpret.responses import GAP
from filterspeak.storage.cache import StageOutput
from filterspeak.tasks import decisions
from filterspeak.tasks.readers import response_matrix
from filterspeak.tasks.stage import ALL_COLUMNS, Context, Inputs, StageSpec


def params_from(options, inputs: Inputs | None = None) -> HeadParams:
    return HeadParams()


def enabled(options, inputs: Inputs) -> bool:
    """Only when the backbone's own head does not decide (extraction stopped at the layer)."""
    return options.trains_head(inputs.metrics("backbones")["num_outputs"], inputs.metrics("classes")["classes"])


def compute(inputs: Inputs, params: HeadParams, context: Context, output: StageOutput) -> None:
    images = inputs.read("images", ["image_id", "split", "class_id"]).sort_values("image_id").reset_index(drop=True)
    gap = response_matrix(inputs, "filter_responses", GAP.column, images["image_id"].to_numpy())
    train = (images["split"] == "train").to_numpy()
    num_classes = len(inputs.read("classes", ["class_id"]))
    weights, bias = linear_head.fit_linear_head(gap[train], images["class_id"].to_numpy()[train], num_classes, params)
    head = TrainedLinearHead(weights, bias)
    logits = gap @ weights.T + bias
    decisions.write_decisions(output, images, logits, gap, head)
    predicted = logits.argmax(axis=1)
    output.metrics.update(
        backbone=context.backbone,
        layer=context.layer,
        train_accuracy=float((predicted[train] == images["class_id"].to_numpy()[train]).mean()),
        test_accuracy=output.metrics["decision_accuracy"],
    )


STAGE = StageSpec(
    name=decisions.TRAINED_HEAD_STAGE,
    module=__name__,
    scope="layer",
    writes=decisions.TABLES,
    replaces=frozenset(decisions.TABLES),  # extraction wrote them with the model's own head; this head decides instead
    params=params_from,
    compute=compute,
    enabled=enabled,
    reads={"filter_responses": ALL_COLUMNS, "images": ("image_id", "split", "class_id"), "classes": ("class_id",)},
)
