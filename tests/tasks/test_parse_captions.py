import pandas as pd

from filterspeak.storage.cache import run_stage
from filterspeak.storage.paths import StorePaths
from filterspeak.tasks.captions import CaptionParams, caption_errors
from filterspeak.tasks.dataset import TABLES as DATASET_TABLES
from stage_runs import run_captions


def test_empty_and_orphan_captions_are_recorded_not_parsed():
    captions = pd.DataFrame({"caption_id": [1, 2, 3, 4], "image_id": [10, 10, 99, 11], "text": ["a red crown", "   ", "a blue wing", None]})
    usable, errors = caption_errors(captions, pd.Series([10, 11]))
    assert usable["caption_id"].tolist() == [1]
    assert sorted(zip(errors["item"], errors["reason"])) == [
        ("caption 2", "empty caption"),
        ("caption 3", "caption for unknown image"),
        ("caption 4", "empty caption"),
    ]


def test_stage_builds_vocabulary_and_image_distributions(tmp_path):
    paths = StorePaths(tmp_path).ensure()

    def dataset(output):
        output.write("images", pd.DataFrame({"image_id": [0, 1, 2], "split": "train", "path": "x", "class_id": 0}))
        output.write(
            "captions",
            pd.DataFrame(
                {
                    "caption_id": [0, 1, 2, 3],
                    "image_id": [0, 0, 1, 2],
                    "text": ["A bird with a red crown and black wings.", "Its crown is red.", "The wings are black.", "A red crown."],
                    "origin": "human",
                }
            ),
        )

    data = run_stage(paths, "dataset", {}, dataset, DATASET_TABLES)
    result = run_captions(paths, data, CaptionParams(min_df=2, weighting="counts"))
    vocabulary = result.read("attributes")
    assert vocabulary[["phrase", "document_frequency"]].values.tolist() == [["black wing", 2], ["red crown", 2]]
    image0 = result.read("image_attributes").query("image_id == 0").sort_values("attribute_id")
    # image 0: 'black wing' (id 0) once, 'red crown' (id 1) twice → p = 1/3, 2/3
    assert image0["count"].tolist() == [1, 2]
    assert image0["probability"].round(6).tolist() == [round(1 / 3, 6), round(2 / 3, 6)]
    assert run_captions(paths, data, CaptionParams(min_df=2, weighting="counts")).reused


def test_a_caption_the_parser_cannot_read_is_counted_in_errors(tmp_path, monkeypatch):
    from filterspeak.captions import parser as parser_module

    paths = StorePaths(tmp_path).ensure()

    def dataset(output):
        output.write("images", pd.DataFrame({"image_id": [0, 1], "split": "train", "path": "x", "class_id": 0}))
        output.write(
            "captions",
            pd.DataFrame(
                {
                    "caption_id": [7, 8],
                    "image_id": [0, 1],
                    "text": ["A bird with a red crown.", "A bird with a blue wing."],
                    "origin": "human",
                }
            ),
        )

    original = parser_module.CaptionParser.parse_many

    def failing_second(self, texts, *args, failures=None, **kwargs):
        parsed = original(self, texts, *args, failures=failures, **kwargs)
        failures.append((1, "chunk grammar cannot read the tags: test"))  # as the parser reports a sentence it rejects
        return parsed

    monkeypatch.setattr(parser_module.CaptionParser, "parse_many", failing_second)
    result = run_captions(paths, run_stage(paths, "dataset", {}, dataset, DATASET_TABLES), CaptionParams(min_df=1, weighting="counts"))
    errors = result.read("errors")
    assert errors.values.tolist() == [["caption 8", "chunk grammar cannot read the tags: test"]]
    assert result.metrics["errors"] == 1
