"""Every variant the user names is one object in a Registry: its names are the option's choices,
its help is the option's help, and an unknown name is one line listing the known ones."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from filterspeak.datasets.registry import DATASETS
from filterspeak.errors import OptionError
from filterspeak.interpret.estimators import ESTIMATORS
from filterspeak.interpret.prior_corrections import PRIOR_CORRECTIONS
from filterspeak.interpret.responses import RESPONSES
from filterspeak.options import BuildOptions
from filterspeak.registry import Registry


@dataclass(frozen=True)
class Toy:
    name: str
    help: str


TOYS = Registry("toy", (Toy("b", "the second letter"), Toy("a", "the first letter")))


def test_a_registry_keeps_declaration_order_and_spells_its_help():
    assert TOYS.names == ("b", "a") and list(TOYS) == ["b", "a"] and len(TOYS) == 2
    assert TOYS["a"] == Toy("a", "the first letter")
    assert TOYS.help() == "b = the second letter; a = the first letter"


def test_an_unknown_name_is_one_line_and_dict_lookups_still_work():
    with pytest.raises(OptionError) as raised:
        TOYS["c"]
    assert str(raised.value) == "unknown toy 'c'; choose from b, a"
    assert "c" not in TOYS and "a" in TOYS and TOYS.get("c") is None


def test_two_variants_with_one_name_are_refused():
    with pytest.raises(ValueError, match="two toys are named 'a'"):
        Registry("toy", (Toy("a", ""), Toy("a", "")))


@pytest.mark.parametrize(
    ("option", "registry"),
    [("response", RESPONSES), ("prior_correction", PRIOR_CORRECTIONS), ("estimator", ESTIMATORS), ("dataset", DATASETS)],
)
def test_each_registry_is_its_options_choices_and_help(option, registry):
    declared = next(o for o in BuildOptions.declared() if o.name == option)
    assert declared.choices == registry.names
    assert registry.help() in declared.help
    assert all(variant.help for variant in registry.values())
