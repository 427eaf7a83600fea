"""The README's quick start, run as written, so the README cannot drift: every ```bash block of
its "Quick start" section runs in a shell from the folder of the session's default build (a store
named `S`, built by the same command), and its output must show the ```text block that follows
the command, line by line and in order ("…" stands for any text; a line of "…" for any lines).

Its commands run as a user runs them, without PREFECT_API_URL: this is the one test whose build
starts a temporary Prefect server of its own (the others use the session's, `prefect_env`). The
build's figures are those of the shipped network, so the README's lines hold on any machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

# Commands of the quick start the test does not run, and why.
NOT_RUN = {"pip install": "CI installs the package before the tests run", "python -m pytest": "the test suite is what is running"}

pytestmark = pytest.mark.slow


def section(markdown: str, title: str) -> str:
    start = markdown.index(f"\n## {title}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end >= 0 else len(markdown)]


def commands_and_outputs(markdown: str) -> list[tuple[str, str | None]]:
    """(the command of each ```bash block, the ```text block right after it or None)."""
    blocks = re.findall(r"```(bash|text)\n(.*?)```", markdown, flags=re.S)
    pairs = []
    for index, (kind, body) in enumerate(blocks):
        if kind == "bash":
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            pairs.append((body.strip(), following[1] if following and following[0] == "text" else None))
    return pairs


def runnable(command: str) -> str:
    """The command without the `&&`-chained parts the test does not run ('' if none is left)."""
    parts = [part.strip() for part in command.split(" && ")]
    return " && ".join(part for part in parts if not any(part.startswith(prefix) for prefix in NOT_RUN))


def missing_lines(expected: str, output: str) -> list[str]:
    """The lines of `expected` that `output` does not show in order ([] when it shows them all)."""
    lines = [line.rstrip() for line in output.splitlines()]
    position, missing = 0, []
    for wanted in (line.rstrip() for line in expected.splitlines()):
        if not wanted.strip() or wanted.strip() == "…":
            continue
        pattern = re.compile(".*".join(re.escape(piece) for piece in wanted.split("…")))
        found = next((i for i in range(position, len(lines)) if pattern.fullmatch(lines[i])), None)
        if found is None:
            missing.append(wanted)
        else:
            position = found + 1
    return missing


def test_the_matcher_needs_every_shown_line_in_order():
    output = "FilterSpeak build 2026-x\n  store: /tmp/a/S\n  stages:\n    dataset reused 0.1 s\n  total: 3 s\n"
    assert missing_lines("FilterSpeak build …\n  store: …S\n…\n  total: … s\n", output) == []
    assert missing_lines("  total: … s\n  store: …S\n", output) == ["  store: …S"]  # out of order
    assert missing_lines("  test accuracy: 0.9\n", output) == ["  test accuracy: 0.9"]
    assert runnable('pip install -e ".[test]" && filterspeak build --store S') == "filterspeak build --store S"
    assert runnable("python -m pytest") == ""


def test_the_quick_start_prints_what_the_readme_shows(default_store):
    store, _ = default_store
    steps = commands_and_outputs(section(README.read_text(encoding="utf-8"), "Quick start"))
    assert runnable(steps[0][0]) == "filterspeak build --store S", "the quick start starts with the default build"
    assert sum(output is not None for _, output in steps) >= 3, "it shows a build, a query and an explanation"
    assert Path(store).name == "S"
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    environment.pop("FILTERSPEAK_STORE", None)
    environment.pop("PREFECT_API_URL", None)  # a temporary Prefect server, as for a user
    for command, expected in steps:
        command = runnable(command)
        if not command:
            continue
        done = subprocess.run(
            ["bash", "-c", f"set -eo pipefail; {command}"],
            cwd=Path(store).parent,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        if expected is not None:
            missing = missing_lines(expected, done.stdout)
            assert not missing, f"{command}\nprinted:\n{done.stdout}\nbut the README shows lines it did not print:\n" + "\n".join(missing)
