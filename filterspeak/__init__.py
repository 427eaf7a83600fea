"""FilterSpeak: explain CNN image classifiers in words learned from captions.

    import filterspeak as fs
    build = fs.Store("S").build()                   # or fs.open("S") for a finished one
    build.explain("bird.png")                       # a sentence, its attributes, heat maps

The names below load on first use (`filterspeak.api`), so importing one of the package's
modules does not import the whole API.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> the module that defines it
_PUBLIC = {
    "Store": "filterspeak.api.store",
    "Build": "filterspeak.api.store",
    "open": "filterspeak.api.store",
    "Explanation": "filterspeak.api.explain",
    "data": "filterspeak.api.data",
    "BuildOptions": "filterspeak.options",
    "Preprocessing": "filterspeak.backbones.registry",
    "FilterSpeakError": "filterspeak.errors",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'filterspeak' has no attribute {name!r}")
    module = importlib.import_module(_PUBLIC[name])
    return module if module.__name__.rsplit(".", 1)[-1] == name else getattr(module, name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
