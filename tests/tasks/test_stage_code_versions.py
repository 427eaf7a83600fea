"""A stage's cache key covers every package module it can execute and every SQL file it loads
(derived from the imports, never listed by hand): mutating any module in a stage's closure changes
its key; mutating a module outside it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from filterspeak.storage import fingerprint
from filterspeak.storage.fingerprint import code_closure, code_version
from filterspeak.tasks.graph import STAGES

# the dependencies the hand-kept lists missed before the closure was derived
MUST_COVER = {
    "extract": ["filterspeak.tasks.decisions", "filterspeak.backbones.heads", "filterspeak.interpret.responses"],
    "head": ["filterspeak.tasks.decisions"],
    "captions": ["filterspeak.interpret.filter_pdfs"],  # attributes.prior
    "dataset": ["filterspeak.captions.sources", "filterspeak.captions.cleaning"],  # the folder dataset's captions
    "cooccurrence": ["filterspeak.interpret.responses"],
}
MUST_NOT_COVER = {  # a change here must not re-run the stage
    "captions": ["filterspeak.backbones.training", "filterspeak.backbones.features", "filterspeak.tasks.extract"],
    "dataset": ["filterspeak.backbones.training", "filterspeak.tasks.captions"],
}
REPO = Path(__file__).resolve().parents[2]
# Outside every stage, derived from the tree: the graph (it imports every stage, so a stage that
# imported it would re-run whenever any other stage changed), and every module of the read side
# and API (filterspeak/api) and of the adapters (flows/); tests/test_layers.py checks the imports.
OUTSIDE_EVERY_STAGE = [
    "filterspeak.tasks.graph",
    *sorted(f"filterspeak.api.{path.stem}" for path in (REPO / "filterspeak" / "api").glob("*.py") if path.stem != "__init__"),
    *sorted(f"filterspeak.flows.{path.stem}" for path in (REPO / "flows").glob("*.py") if path.stem != "__init__"),
]


def _mutating(target: str):
    """A source reader that changes one file (one comment line), as an edit of it would."""
    original = fingerprint.read_source

    def reader(path: str) -> str:
        text = original(path)
        return text + "\n# an edit\n" if path == target else text

    return reader


@pytest.mark.parametrize("spec", STAGES, ids=[spec.name for spec in STAGES])
def test_editing_any_module_in_the_closure_changes_the_key_and_nothing_else_does(spec):
    modules, _sql = code_closure(spec.module)
    assert spec.module in modules
    for name in MUST_COVER.get(spec.name, []):
        assert name in modules, f"{spec.name} misses {name}"
    for name in MUST_NOT_COVER.get(spec.name, []) + OUTSIDE_EVERY_STAGE:
        assert name not in modules, f"{spec.name} should not depend on {name}"
    base = code_version(spec.module)
    for name, path in modules.items():
        assert code_version(spec.module, _mutating(path)) != base, f"editing {name} leaves {spec.name}'s key unchanged"
    for name in MUST_NOT_COVER.get(spec.name, []) + OUTSIDE_EVERY_STAGE:
        outside = fingerprint._origin(name)
        assert code_version(spec.module, _mutating(outside)) == base, f"editing {name} changes {spec.name}'s key"


def test_the_sql_a_stage_runs_is_in_its_key():
    cooccurrence = next(spec for spec in STAGES if spec.name == "cooccurrence")
    _, sql = code_closure(cooccurrence.module)
    assert sql == {"image_attribute_chunk"}
    from filterspeak.sql import sql_path

    assert code_version(cooccurrence.module, _mutating(str(sql_path("image_attribute_chunk")))) != code_version(cooccurrence.module)


def test_imports_only_for_type_checking_and_outside_the_package_do_not_count(tmp_path, monkeypatch):
    import sys

    package = tmp_path / "filterspeak_probe"
    (package / "sub").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(fingerprint, "PACKAGE", "filterspeak_probe")
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "used.py").write_text("X = 1\n")
    (package / "sub" / "typing_only.py").write_text("Y = 2\n")
    (package / "root.py").write_text(
        "from typing import TYPE_CHECKING\nimport json\nif TYPE_CHECKING:\n    from filterspeak_probe.sub import typing_only\n"
        "def f():\n    from .sub import used\n    return load_sql('probe')\n"
    )
    try:
        modules, sql = code_closure("filterspeak_probe.root")
    finally:
        for name in [n for n in sys.modules if n.startswith("filterspeak_probe")]:
            del sys.modules[name]
    assert set(modules) == {"filterspeak_probe", "filterspeak_probe.root", "filterspeak_probe.sub", "filterspeak_probe.sub.used"}
    assert sql == {"probe"}
