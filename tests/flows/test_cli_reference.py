"""docs/cli.md is the parser, written out: it must match the generated text, name every command and
option, and every `filterspeak ...` command line in the README, docs and prefect.yaml must still run
(no command or option that is gone). No store, no Prefect: the parser alone."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from filterspeak.flows.cli import _parser
from filterspeak.flows.cli_reference import REGENERATE, main, reference_markdown, stale_mentions

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "docs" / "cli.md"


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return _parser()


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) of every command and subcommand, read off the argparse actions."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _commands(sub, (*path, name))


def _section(text: str, path: tuple[str, ...]) -> str:
    heading = f"\n## filterspeak {' '.join(path)}\n"
    start = text.find(heading)
    return "" if start < 0 else text[start + len(heading) :].split("\n## ", 1)[0]


def test_reference_is_the_generated_text(parser):
    assert REFERENCE.read_text(encoding="utf-8") == reference_markdown(parser), f"docs/cli.md is out of date: run `{REGENERATE}`"


def test_reference_documents_every_command_and_option(parser):
    text = REFERENCE.read_text(encoding="utf-8")
    missing = []
    for path, sub in _commands(parser):
        section = _section(text, path)
        if not section:
            missing.append(f"command `filterspeak {' '.join(path)}`")
        flags = (flag for action in sub._actions for flag in action.option_strings if flag not in ("-h", "--help"))
        missing += [f"`filterspeak {' '.join(path)} {flag}`" for flag in flags if not re.search(rf"`{re.escape(flag)}[` ,]", section)]
    assert not missing, f"not in docs/cli.md (run `{REGENERATE}`): " + ", ".join(missing)


def test_documented_commands_and_options_exist(parser):
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "prefect.yaml"]
    stale = [
        f"{file.relative_to(REPO)}:{line}: {token} ({reason})"
        for file in files
        if file.is_file()
        for line, token, reason in stale_mentions(file.read_text(encoding="utf-8"), parser, yaml=file.suffix == ".yaml")
    ]
    assert not stale, "documented but not in the parser:\n" + "\n".join(stale)


DRIFTED = """\
Build it:

```bash
$ filterspeak build --store S --width 8 \\
    --no-such-flag 3 | grep --count done && ls --all; echo --nope
```

Then `filterspeak sql --store S "SELECT 1" [--format table\\|csv\\|json]`, or `filterspeak captions parse F --format coco`.
Gone: `filterspeak frobnicate --store S`, `filterspeak captions tokens F`, `filterspeak search --store S red [--topk K]`.
Placeholders: `filterspeak train-head [build options]`, `filterspeak <command> --anything`, `filterspeak …`.
Not a command line: `filterspeak/options.py`, `python -m filterspeak.flows.serve --store S`.
"""


def test_scanner_finds_unknown_commands_and_options(parser):
    found = [(line, token) for line, token, _ in stale_mentions(DRIFTED, parser)]
    assert found == [(4, "--no-such-flag"), (9, "frobnicate"), (9, "tokens"), (9, "--topk")]


def test_scanner_reads_yaml_comments(parser):
    text = "# filterspeak build --stor S\nname: filterspeak\nsteps:\n  - filterspeak sql --store S 'SELECT 1'\n"
    assert [(line, token) for line, token, _ in stale_mentions(text, parser, yaml=True)] == [(1, "--stor")]


def test_check_fails_on_a_stale_file_and_passes_once_written(tmp_path, capsys):
    target = tmp_path / "cli.md"
    assert main(["--check", str(target)]) == 1
    assert main([str(target)]) == 0
    assert main(["--check", str(target)]) == 0
    target.write_text(target.read_text(encoding="utf-8").replace("--no-progress", "--quiet"), encoding="utf-8")
    assert main(["--check", str(target)]) == 1
    assert f"out of date with the filterspeak parser: regenerate it with `{REGENERATE}`" in capsys.readouterr().err


def test_a_default_of_this_machine_is_refused():
    """A default computed from the environment (here the current folder) would make the file differ per machine."""
    parser = argparse.ArgumentParser(prog="filterspeak")
    parser.add_subparsers(dest="command").add_parser("cache", help="h").add_argument("--into", default=os.getcwd())
    with pytest.raises(ValueError, match="default of --into is a path of this machine"):
        reference_markdown(parser)


def test_reference_does_not_depend_on_the_machine(tmp_path):
    """Another folder, terminal width, home and default store give the same file."""
    env = {**os.environ, "COLUMNS": "40", "HOME": str(tmp_path), "FILTERSPEAK_STORE": str(tmp_path / "store")}
    command = [sys.executable, "-m", "filterspeak.flows.cli_reference", "--check", str(REFERENCE)]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
