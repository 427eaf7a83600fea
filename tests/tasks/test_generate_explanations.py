"""The explanation stage on the hand-made case: a known contribution, a known sentence."""

from filterspeak.storage.paths import StorePaths
from filterspeak.tasks import cooccurrence as cooccurrence_stage
from filterspeak.tasks import explanations as explanations_stage
from filterspeak.tasks import pdfs as pdfs_stage
from filterspeak.tasks.stage import Context, Inputs, run
from stage_runs import hand_made_decided

CONTEXT = Context("net", "layer", progress=False)


def test_the_sentence_cites_the_attribute_of_the_filter_that_decided(tmp_path):
    paths = StorePaths(tmp_path).ensure()
    upstream = hand_made_decided(paths)
    counts = run(cooccurrence_stage.STAGE, paths, Inputs.of(*upstream), cooccurrence_stage.CooccurrenceParams("max", 0), CONTEXT)
    pdfs = run(pdfs_stage.STAGE, paths, Inputs.of(*upstream, counts), pdfs_stage.PdfParams("none", "counting", "max"), CONTEXT)
    params = explanations_stage.ExplanationParams(top_k=3, min_relative_score=0.3)
    result = run(explanations_stage.STAGE, paths, Inputs.of(*upstream, pdfs), params, CONTEXT)
    # test image 5: α = (0, 2) → p(f|x) = (0, 1) → p(a|x) = p(a|f1) = (1/8, 7/8); 1/8 < 0.3 · 7/8, so one attribute
    explanations = result.read("explanations")
    assert explanations["image_id"].tolist() == [5]
    assert explanations["sentence"].tolist() == ["This is a Crow because it has a black wing."]
    assert explanations["decomposition"].tolist() == ["linear_gap"]
    cited = result.read("explanation_attributes")
    assert cited[["image_id", "rank", "attribute_id", "phrase"]].values.tolist() == [[5, 1, 1, "black wing"]]
    assert abs(cited["score"].iloc[0] - 7 / 8) < 1e-12

    wider = explanations_stage.ExplanationParams(top_k=3, min_relative_score=0.1)
    again = run(explanations_stage.STAGE, paths, Inputs.of(*upstream, pdfs), wider, CONTEXT)
    assert again.read("explanations")["sentence"].tolist() == ["This is a Crow because it has a black wing and a red crown."]
