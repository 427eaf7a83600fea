"""benchmarks/gpu_check.py must not rot between the sessions that have a GPU: its dry run takes every
step (parity tests collected, extraction, an end-to-end build) at toy sizes on the CPU."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"

pytestmark = pytest.mark.slow  # builds a (toy) store


def test_the_dry_run_takes_every_step_and_prints_its_figures(prefect_env, monkeypatch, capsys):
    monkeypatch.setenv("PREFECT_API_URL", prefect_env["PREFECT_API_URL"])  # the build step on the session's Prefect server
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    assert module.main(["--dry-run"]) == 0
    summary = capsys.readouterr().out.split("\n== summary\n", 1)[1]
    assert summary.count(": ok in ") == 3 and "FAILED" not in summary
    assert "ratio " in summary and "img/s" in summary  # the extraction's figures
    assert "total: " in summary and "extract " in summary  # the build's
    assert "tests collected" in summary or "test_device_parity" in summary or "collected" in summary
