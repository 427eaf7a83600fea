"""The quick-start notebook (docs/notebooks/quickstart.ipynb), run headless as a reader runs it: a
Jupyter kernel of this Python executes every cell from the repository root, with the store in a
temporary folder and the real assets of ../shared (SqueezeNet weights, the cub100 photos). Its
outputs must show what the notebook promises: the sentences, a heat map, DataFrames and decision
cards. The committed notebook itself carries no outputs."""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "docs" / "notebooks" / "quickstart.ipynb"
SHARED = REPO.parent / "shared"
WEIGHTS = SHARED / "models" / "squeezenet1_0-imagenet-deepcompression.pth"
CUB100 = SHARED / "data" / "cub100"

# Appended to the executed copy: which Python the kernel runs (it must be this one, with this venv's packages).
KERNEL_PYTHON = "import sys; print('kernel python:', sys.executable)"


def _texts(output: dict) -> list[str]:
    """The text an output shows: a stream's text, or the plain text of a result or display."""
    if output["output_type"] == "stream":
        return [output["text"]]
    return [output.get("data", {}).get("text/plain", "")]


def test_the_committed_notebook_has_no_outputs():
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code, "the notebook has no code cells"
    for cell in code:
        assert cell["outputs"] == [], f"cell {cell.get('id')} has outputs: strip them before committing"
        assert cell["execution_count"] is None, f"cell {cell.get('id')} has an execution count: strip it before committing"


@pytest.mark.slow
@pytest.mark.skipif(
    not (WEIGHTS.is_file() and CUB100.is_dir()),
    reason="needs ../shared/models/squeezenet1_0-imagenet-deepcompression.pth and ../shared/data/cub100",
)
def test_the_quickstart_notebook_runs(tmp_path, monkeypatch):
    import nbclient  # the `test` extra's (with ipykernel, for the kernel)
    import nbformat

    monkeypatch.setenv("FILTERSPEAK_STORE", str(tmp_path / "store"))  # the kernel inherits the environment
    monkeypatch.setenv("FILTERSPEAK_SHARED", str(SHARED))

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(KERNEL_PYTHON))
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    errors = [output for output in outputs if output["output_type"] == "error"]
    assert not errors, f"error outputs: {[(e['ename'], e['evalue']) for e in errors]}"

    texts = [text for output in outputs for text in _texts(output)]
    assert f"kernel python: {sys.executable}\n" in texts, f"the kernel ran another Python: {texts[-1]!r}"
    sentences = [line for text in texts for line in text.splitlines() if line.startswith("This is a") and " because it has " in line]
    assert len(sentences) >= 2, f"no sentences printed (default build and SqueezeNet): {texts}"
    assert any("test accuracy" in text for text in texts)

    data = [output.get("data", {}) for output in outputs if output["output_type"] in ("execute_result", "display_data")]
    assert any("image/png" in shown for shown in data), "no heat map (image/png) shown"
    html = [shown["text/html"] for shown in data if "text/html" in shown]
    assert any("<table" in page for page in html), "no DataFrame shown"
    cards = [page for page in html if any(escape(sentence) in page for sentence in sentences)]  # the card escapes it
    assert len(cards) >= 2, "no decision card (text/html with the sentence) for each explanation"
