"""Each declared response reduces a feature map to the value its name promises, and every one
is a column of `activations` and a choice of `--response`."""

import pytest
import torch

from filterspeak.errors import OptionError
from filterspeak.interpret.responses import GAP, RESPONSES
from filterspeak.options import BuildOptions
from filterspeak.tasks.extract import TABLES

MAPS = torch.arange(1.0, 21.0).reshape(1, 1, 4, 5)  # one image, one filter: values 1..20
EXPECTED = {"max": 20.0, "mean": 10.5}


@pytest.mark.parametrize("name", list(RESPONSES))
def test_each_response_reduces_the_map_as_named(name):
    assert name in EXPECTED, f"add the expected value of response {name!r} on MAPS to EXPECTED"
    assert RESPONSES[name].reduce(MAPS).item() == pytest.approx(EXPECTED[name])


def test_responses_are_the_activations_columns_and_the_option_choices():
    columns = TABLES["filter_responses"].names  # SQL: the `activations` view, one row per (image, filter)
    assert [r.column for r in RESPONSES.values()] == columns[1:]
    choices = next(o.choices for o in BuildOptions.declared() if o.name == "response")
    assert choices == tuple(RESPONSES)
    assert GAP.column == "mean_response"


def test_an_unknown_response_names_the_known_ones():
    with pytest.raises(OptionError, match="unknown response 'median'; choose from " + ", ".join(RESPONSES)):
        RESPONSES["median"]
    assert "median" not in RESPONSES and RESPONSES.get("median") is None
