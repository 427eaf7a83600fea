"""The Markdown reference of the `filterspeak` command line (docs/cli.md), generated from its parser.

Every command and option is declared once (build options in `filterspeak/options.py`, the rest in
`flows/*cli*.py`); the reference is read off the parser so it cannot drift from the code, and
`--check` fails (exit 1) when the file on disk is stale. The text comes from the argparse actions'
attributes, not from `format_help()`, whose wrapping follows the terminal width: the same code gives
the same file on every machine.

The scanner below (`stale_mentions`) reads the other direction: the `filterspeak ...` command lines
written in the README and docs, checked against the parser, so a renamed or removed command or
option is found where it is still documented.

    python -m filterspeak.flows.cli_reference docs/cli.md           # write
    python -m filterspeak.flows.cli_reference --check docs/cli.md   # exit 1 when stale
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

PROG = "filterspeak"
REGENERATE = "python -m filterspeak.flows.cli_reference docs/cli.md"
HEADER = (
    "This file is generated from the `filterspeak` argument parser (`filterspeak.flows.cli`; the build options are "
    "declared in `filterspeak/options.py`): do not edit it by hand. After changing a command or an option, regenerate it "
    f"from the repository root with `{REGENERATE}`; `tests/flows/test_cli_reference.py` fails until it is current."
)

# ---- walking the parser ------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's subcommands by name ({} for a leaf command)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _subcommand_help(parser: argparse.ArgumentParser) -> dict[str, str]:
    """The one-line help each subcommand was added with (add_parser(help=...))."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {choice.dest: choice.help or "" for choice in action._get_subactions()}
    return {}


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """(command path, parser, help) of every command and subcommand, depth first in declaration order."""
    helps = _subcommand_help(parser)
    for name, sub in _subcommands(parser).items():
        yield (*path, name), sub, helps.get(name, "")
        yield from walk(sub, (*path, name))


def arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The documented arguments of one command: everything but --help, hidden ones and subcommands."""
    return [
        action
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction) and action.help is not argparse.SUPPRESS
    ]


# ---- rendering ---------------------------------------------------------------------------------


def _values(name: str, nargs) -> str:
    """How a metavar is written for each nargs, as argparse's usage line writes it."""
    if nargs == 0:
        return ""
    if nargs == "?":
        return f"[{name}]"
    if nargs == "*":
        return f"[{name} ...]"
    if nargs == "+":
        return f"{name} [{name} ...]"
    if isinstance(nargs, int):
        return " ".join([name] * nargs)
    return name


def _usage(action: argparse.Action) -> str:
    """`--heatmaps DIR`, `--json`, `IMAGES [IMAGES ...]`: the argument as it is typed."""
    metavar = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    values = _values(metavar, action.nargs)
    if not action.option_strings:
        return values
    return " ".join(part for part in (", ".join(action.option_strings), values) if part)


def synopsis(path: tuple[str, ...], parser: argparse.ArgumentParser) -> str:
    """One line: required options, `[options]` for the optional ones, then the positionals."""
    subcommands = _subcommands(parser)
    if subcommands:
        return " ".join((PROG, *path, "{" + ",".join(subcommands) + "}", "..."))
    actions = arguments(parser)
    required = [_usage(a) for a in actions if a.option_strings and a.required]
    optional = ["[options]"] if any(a.option_strings and not a.required for a in actions) else []
    positional = [_usage(a) for a in actions if not a.option_strings]
    return " ".join((PROG, *path, *required, *optional, *positional))


def _portable(action: argparse.Action, value: str) -> str:
    """A default taken from the machine (a path under the current folder or home) would make the
    reference differ between machines: such an option must declare a portable default (None, resolved
    when the command runs) and say in its help where the value comes from."""
    if os.path.isabs(value) or value.startswith("~"):
        flag = "/".join(action.option_strings) or action.dest
        raise ValueError(f"the default of {flag} is a path of this machine ({value!r}): declare a portable default")
    return value


def _default(action: argparse.Action) -> str:
    value = action.default
    if value is None or value is argparse.SUPPRESS or action.nargs == 0:
        return ""  # no default, or an on/off flag (off unless given)
    text = _portable(action, value) if isinstance(value, str) else str(value)
    return _code(text if text else '""')


def _code(text: str) -> str:
    """A code span that survives a table cell (`|` escaped, longer fences around backticks)."""
    fence = "``" if "`" in text else "`"
    padding = " " if "`" in text else ""
    return f"{fence}{padding}{text}{padding}{fence}".replace("|", "\\|")


def _prose(text: str) -> str:
    """Help text for one table cell: one line, `|` escaped, and `<` escaped outside code spans so
    `DIR/<class>/<image>` is not taken for an HTML tag."""
    parts = re.split(r"(`[^`]*`)", " ".join(text.split()))
    return "".join(part if part.startswith("`") else part.replace("<", "\\<") for part in parts).replace("|", "\\|")


def _help(action: argparse.Action) -> str:
    """The help as argparse prints it: `%(default)s` and friends expanded."""
    if not action.help:
        return ""
    params = {name: value for name, value in vars(action).items() if value is not argparse.SUPPRESS}
    if params.get("choices") is not None:
        params["choices"] = ", ".join(map(str, params["choices"]))
    text = action.help % params
    # the build options' help ends with "(default: X)" for `--help`; the table has its own column
    return text.removesuffix(f" (default: {action.default})")


def _row(action: argparse.Action) -> str:
    option = _code(_usage(action)) + (" (required)" if action.option_strings and action.required else "")
    choices = ", ".join(_code(str(choice)) for choice in action.choices) if action.choices else ""
    return f"| {option} | {_default(action)} | {choices} | {_prose(_help(action))} |"


def _anchor(path: tuple[str, ...]) -> str:
    """GitHub's heading anchor for `## filterspeak <path>`."""
    return "#" + "-".join((PROG, *path))


def _command_section(path: tuple[str, ...], parser: argparse.ArgumentParser, help_text: str) -> list[str]:
    lines = [f"## {' '.join((PROG, *path))}", "", _prose(help_text) or "(no help)", ""]
    if parser.description and parser.description != help_text:
        lines += [_prose(parser.description), ""]
    lines += [_code(synopsis(path, parser)), ""]
    subcommands = _subcommands(parser)
    if subcommands:
        links = ", ".join(f"[{_code(' '.join((PROG, *path, name)))}]({_anchor((*path, name))})" for name in subcommands)
        lines += [f"Commands: {links}.", ""]
    actions = arguments(parser)
    if actions:
        lines += ["| option | default | choices | help |", "| --- | --- | --- | --- |", *map(_row, actions), ""]
    return lines


def reference_markdown(parser: argparse.ArgumentParser | None = None) -> str:
    """The whole reference (docs/cli.md) for `parser`, by default the `filterspeak` parser."""
    if parser is None:
        from filterspeak.flows.cli import _parser

        parser = _parser()
    commands = list(walk(parser))
    lines = [f"# {PROG} command-line reference", "", HEADER, ""]
    if parser.description:
        lines += [_prose(parser.description), ""]
    lines += ["| command | help |", "| --- | --- |"]
    lines += [f"| [{_code(' '.join((PROG, *path)))}]({_anchor(path)}) | {_prose(text)} |" for path, _, text in commands]
    lines.append("")
    for path, sub, text in commands:
        lines += _command_section(path, sub, text)
    return "\n".join(lines).rstrip("\n") + "\n"


# ---- command lines in the docs -----------------------------------------------------------------

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_YAML_PREFIX = re.compile(r"^\s*(?:#\s*)?(?:-\s+)?(?:[\w.-]+:\s+)?")
_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")


def _closes(run: str, fence: str, line: str) -> bool:
    """A closing fence: the opening's character, at least as long, nothing after it."""
    return run.startswith(fence) and not line.strip()[len(run) :]


def _markdown_code(text: str) -> Iterator[tuple[int, str]]:
    """(line number, code) of each fenced-block line (`\\` continuations joined) and each inline code span."""
    prose, fence, pending = [], None, None
    for number, line in enumerate(text.splitlines(), 1):
        opening = _FENCE.match(line)
        prose.append(line if fence is None and not opening else "")
        if fence is None:
            fence = opening.group(1) if opening else None
        elif opening and _closes(opening.group(1), fence, line):
            if pending:
                yield pending
            fence, pending = None, None
        else:
            start, code = pending or (number, "")
            pending = (start, code + line[:-1] + " ") if line.endswith("\\") else None
            if pending is None:
                yield start, code + line
    joined = "\n".join(prose)
    for match in _CODE_SPAN.finditer(joined):
        if "\n\n" not in match.group(2):
            yield joined.count("\n", 0, match.start()) + 1, match.group(2).replace("\n", " ")


def _yaml_code(text: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each YAML line without its comment marker, list dash or key."""
    for number, line in enumerate(text.splitlines(), 1):
        yield number, _YAML_PREFIX.sub("", line, count=1)


def _separates(char: str, word: str, after: str) -> bool:
    """`;`, `&` and a pipe end a command; a `|` between two word characters separates choices."""
    return char in ";&" or (char == "|" and not (word[-1:].isalnum() and after.isalnum()))


def _push(words: list[str], word: str) -> list[str]:
    return [*words, word] if word else words


def _commands(code: str) -> list[list[str]]:
    """The shell words of each command on a line. A new command starts after `&&`, `||`, `;` or a pipe,
    but not at a `|` that is quoted, escaped, in brackets or between two word characters: that one
    separates choices (`[--format table\\|csv]`, `drop|mark`). Brackets and braces are dropped
    (`[--json]` is `--json`, `{parse,vocab}` is `parse,vocab`), and so is a `#` comment."""
    commands, words, word, quote, depth, index = [], [], "", None, 0, 0
    while index < len(code):
        char, after = code[index], code[index + 1 : index + 2]
        index += 1
        if quote:
            quote, word = (None, word) if char == quote else (quote, word + char)
        elif char == "\\":
            word, index = word + after, index + 1
        elif char in "'\"":
            quote = char
        elif char in "[]{}":
            depth = depth + 1 if char in "[{" else max(depth - 1, 0)
        elif char == "#" and not word:
            break
        elif char.isspace():
            words, word = _push(words, word), ""
        elif depth == 0 and _separates(char, word, after):
            commands.append(_push(words, word))
            words, word, index = [], "", index + (after == char)  # `&&` and `||` are one separator
        else:
            word += char
    commands.append(_push(words, word))
    return [command for command in commands if command]


def _without_prompt(words: list[str]) -> list[str]:
    """The command after a `$ ` prompt and `NAME=value` assignments."""
    start = 1 if words[:1] == ["$"] else 0
    while start < len(words) and _ASSIGNMENT.match(words[start]):
        start += 1
    return words[start:]


def invocations(text: str, yaml: bool = False) -> Iterator[tuple[int, list[str]]]:
    """(line number, words after `filterspeak`) of each command line of a Markdown (or YAML) text
    that runs filterspeak: fenced code blocks and inline code spans (every line of a YAML file)."""
    for number, code in (_yaml_code if yaml else _markdown_code)(text):
        for words in map(_without_prompt, _commands(code)):
            if words[:1] == [PROG]:
                yield number, words[1:]


def _alternatives(word: str, separators: str) -> list[str]:
    return [part for part in re.split(f"[{separators}]", word) if part]


def _placeholder(word: str) -> bool:
    """`<command>`, `...`, `…`: a command left open, so nothing after it can be checked."""
    return word.startswith("<") or not any(char.isalnum() for char in word)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def invocation_problems(parser: argparse.ArgumentParser, words: list[str]) -> list[tuple[str, str]]:
    """(token, reason) for each command, subcommand or option of one `filterspeak ...` command line
    that the parser does not have. Options are checked against the command they follow; values and
    positional arguments are not checked (they are the user's)."""
    problems, path, current = [], [PROG], parser
    for word in words:
        subcommands = _subcommands(current)
        if re.match(r"--?[A-Za-z]", word):
            flags = [flag.split("=")[0] for flag in _alternatives(word, "|")]
            problems += [(word, f"`{' '.join(path)}` has no option {flag}") for flag in flags if flag not in _options(current)]
        elif subcommands and _placeholder(word):
            break
        elif subcommands:
            names = _alternatives(word, "|,")
            unknown = [name for name in names if name not in subcommands]
            if unknown:
                return [*problems, (word, f"`{' '.join(path)}` has no command {unknown[0]}")]
            path, current = [*path, names[0]], subcommands[names[0]]
    return problems


def stale_mentions(text: str, parser: argparse.ArgumentParser, yaml: bool = False) -> list[tuple[int, str, str]]:
    """(line number, token, reason) of every command or option the text documents that the parser lacks."""
    return [(number, token, reason) for number, words in invocations(text, yaml) for token, reason in invocation_problems(parser, words)]


# ---- python -m filterspeak.flows.cli_reference --------------------------------------------------


def _stale_diff(path: Path, expected: str) -> str:
    """The first lines of the difference, so the message shows what changed."""
    lines = difflib.unified_diff(path.read_text(encoding="utf-8").splitlines(), expected.splitlines(), str(path), "generated", lineterm="")
    return "\n".join(list(lines)[:40])


def _check(path: Path, expected: str) -> int:
    if not path.is_file():
        print(f"{path} does not exist: generate it with `{REGENERATE}`", file=sys.stderr)
        return 1
    if path.read_text(encoding="utf-8") != expected:
        print(f"{path} is out of date with the filterspeak parser: regenerate it with `{REGENERATE}`", file=sys.stderr)
        print(_stale_diff(path, expected), file=sys.stderr)
        return 1
    print(f"{path} is up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Write the reference to PATH, or with --check exit 1 when PATH differs from it. PATH is taken
    relative to the current folder: an installed package does not know where the repository is."""
    cli = argparse.ArgumentParser(prog="python -m filterspeak.flows.cli_reference", description=__doc__.splitlines()[0])
    cli.add_argument("path", nargs="?", default="docs/cli.md", help="the reference file (default: docs/cli.md in the current folder)")
    cli.add_argument("--check", action="store_true", help="do not write: exit 1 if PATH differs from the generated reference")
    args = cli.parse_args(argv)
    path, expected = Path(args.path), reference_markdown()
    if args.check:
        return _check(path, expected)
    path.write_text(expected, encoding="utf-8", newline="\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
