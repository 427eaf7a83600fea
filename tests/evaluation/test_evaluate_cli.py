"""`filterspeak evaluate` refuses bad requests in one line, before any work."""

from __future__ import annotations

import pytest

from filterspeak.errors import OptionError
from filterspeak.flows.cli import main
from filterspeak.options import BuildOptions


def test_unknown_metric_is_one_line(tmp_path, capsys):
    assert main(["evaluate", "--store", str(tmp_path), "--metrics", "retrieval,accuracy"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "unknown metric(s) accuracy" in err and "known_filters, grounding, retrieval, deletion, randomization" in err


def test_store_without_a_build_is_one_line(tmp_path, capsys):
    assert main(["evaluate", "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no build found" in err and "filterspeak build" in err


def test_bad_method_choices_fail_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit, match="^2$"):  # the CLI's choices come from the option's declaration
        main(["build", "--store", str(tmp_path / "S"), "--attribute-weighting", "tfidf"])
    assert "argument --attribute-weighting: invalid choice: 'tfidf' (choose from 'counts', 'presence')" in capsys.readouterr().err
    # the same declaration checks options that do not come through the CLI (a deployment's parameters)
    with pytest.raises(OptionError, match="^--attribute-weighting must be one of counts, presence, got 'tfidf'$"):
        BuildOptions(attribute_weighting="tfidf").check()
    assert main(["build", "--store", str(tmp_path / "S"), "--concept-filters", "-1"]) == 2
    assert "--concept-filters must be >= 0" in capsys.readouterr().err
    assert not (tmp_path / "S" / "stages").exists()
