"""Parser settings (:class:`ParserConfig`) and the parser version; both feed the caption stage's
cache key through :meth:`ParserConfig.to_dict`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from filterspeak.captions import lexicon as lx

__all__ = ["DEFAULT_CONFIG", "PARSER_VERSION", "PHRASE_CAPTION", "ParserConfig"]

#: Bump when parser behaviour changes (part of :meth:`ParserConfig.to_dict`, hence cache keys).
PARSER_VERSION = "3"

#: The caption a bare attribute phrase is read in, so the parser canonicalises it as it would a
#: caption's ("red wings" -> "red wing"): a search query, a class-level truth phrase.
PHRASE_CAPTION = "a bird with {}."


def _default_synonyms() -> Mapping[str, str]:
    return MappingProxyType(dict(lx.DEFAULT_SYNONYMS))


@dataclass(frozen=True)
class ParserConfig:
    """Parser settings. Frozen and hashable; ``to_dict()`` is the cache fingerprint input.

    ``synonyms`` may be given as any mapping or sequence of pairs; it is stored as a read-only
    mapping with lower-cased keys/values. ``stop_nouns``/``stop_modifiers`` may be any iterable of
    strings. ``negation``: ``"drop"`` removes negated phrases, ``"mark"`` keeps them with
    ``negated=True``. Defaults and their rationale: :mod:`filterspeak.captions.lexicon`.
    """

    synonyms: Mapping[str, str] = field(default_factory=_default_synonyms)
    stop_nouns: frozenset[str] = lx.DEFAULT_STOP_NOUNS
    stop_modifiers: frozenset[str] = lx.DEFAULT_STOP_MODIFIERS
    negation: Literal["drop", "mark"] = "drop"

    def __post_init__(self) -> None:
        pairs = self.synonyms.items() if isinstance(self.synonyms, Mapping) else self.synonyms
        syn = {str(k).strip().lower(): str(v).strip().lower() for k, v in pairs}
        object.__setattr__(self, "synonyms", MappingProxyType(dict(sorted(syn.items()))))
        for name in ("stop_nouns", "stop_modifiers"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"ParserConfig.{name} must be a collection of words, not a str")
            object.__setattr__(self, name, frozenset(str(w).strip().lower() for w in value))
        if self.negation not in ("drop", "mark"):
            raise ValueError(f"ParserConfig.negation must be 'drop' or 'mark', got {self.negation!r}")

    def to_dict(self) -> dict:
        """JSON-able, deterministic (sorted) description, including parser/lexicon versions."""
        return {  # keys in sorted order
            "lexicon_version": lx.LEXICON_VERSION,
            "negation": self.negation,
            "parser_version": PARSER_VERSION,
            "stop_modifiers": sorted(self.stop_modifiers),
            "stop_nouns": sorted(self.stop_nouns),
            "synonyms": dict(sorted(self.synonyms.items())),
        }

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __reduce__(self):
        # picklable (spawned worker processes, Prefect): the read-only synonym mapping is
        # rebuilt from a plain dict
        return (type(self), (dict(self.synonyms), self.stop_nouns, self.stop_modifiers, self.negation))


DEFAULT_CONFIG = ParserConfig()
