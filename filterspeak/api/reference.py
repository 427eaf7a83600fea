"""docs/api.md, generated from the public API's signatures and docstrings (`import filterspeak as fs`),
so the reference cannot drift from the code: tests/api/test_api_reference.py fails when it does.

    python -m filterspeak.api.reference docs/api.md
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import filterspeak

# The classes whose public methods and properties the reference lists, in this order.
CLASSES = ("Store", "Build", "Explanation")
FUNCTIONS = ("open",)
HEADER = """# Python API reference

Generated from the docstrings by `python -m filterspeak.api.reference docs/api.md` (a test checks
it is current). A walk-through: [the quick-start notebook](notebooks/quickstart.ipynb); the
options every build takes: [`filterspeak build`](cli.md#filterspeak-build) (the same fields,
as keywords of `Store.build`).

```python
import filterspeak as fs
```

Public names: {names}.
"""


def _doc(thing: object) -> str:
    return inspect.cleandoc(thing.__doc__ or "").strip()


def _signature(name: str, thing: object) -> str:
    """`name(a: int = 1, *, b: str = "x") -> T`, annotations as written in the source."""
    signature = inspect.signature(thing)
    parts, starred = [], False
    for parameter in signature.parameters.values():
        if parameter.name == "self":
            continue
        text = parameter.name
        if parameter.kind is parameter.VAR_KEYWORD:
            text = "**" + text
        elif parameter.kind is parameter.KEYWORD_ONLY and not starred:
            parts.append("*")
        starred = starred or parameter.kind in (parameter.KEYWORD_ONLY, parameter.VAR_KEYWORD)
        if parameter.annotation is not parameter.empty:
            text += f": {parameter.annotation}"
        if parameter.default is not parameter.empty:
            default = parameter.default
            text += " = " + (f'"{default}"' if isinstance(default, str) else repr(default))
        parts.append(text)
    returned = "" if signature.return_annotation is signature.empty else f" -> {signature.return_annotation}"
    return f"{name}({', '.join(parts)}){returned}"


def _members(cls: type) -> list[tuple[str, object]]:
    members = []
    for name, value in cls.__dict__.items():
        if name.startswith("_"):
            continue
        if isinstance(value, property) or inspect.isfunction(value):
            members.append((name, value))
    return members


def render() -> str:
    lines = [HEADER.format(names=", ".join(f"`fs.{name}`" for name in filterspeak.__all__))]
    for name in FUNCTIONS:
        function = getattr(filterspeak, name)
        lines += [f"## fs.{name}", "", f"```python\nfs.{_signature(name, function)}\n```", "", _doc(function), ""]
    for name in CLASSES:
        cls = getattr(filterspeak, name)
        lines += [f"## fs.{name}", "", _doc(cls), ""]
        for member, value in _members(cls):
            if isinstance(value, property):
                lines += [f"### {name}.{member}", "", "A property." + (f" {_doc(value.fget)}" if _doc(value.fget) else ""), ""]
            else:
                lines += [f"### {name}.{member}", "", f"```python\n{_signature(member, value)}\n```", "", _doc(value), ""]
    lines += ["## fs.data", "", _doc(filterspeak.data), ""]
    for name in ("synthetic", "cub", "cub100", "folder"):
        function = getattr(filterspeak.data, name)
        lines += [f"### fs.data.{name}", "", f"```python\nfs.data.{_signature(name, function)}\n```", "", _doc(function), ""]
    lines += ["## fs.Preprocessing", "", _doc(filterspeak.Preprocessing), ""]
    lines += ["## fs.FilterSpeakError", "", _doc(filterspeak.FilterSpeakError), ""]
    return "\n".join(line.rstrip() for line in "\n".join(lines).splitlines()).strip() + "\n"


def main(argv: list[str]) -> int:
    Path(argv[0]).write_text(render())
    print(f"wrote {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
