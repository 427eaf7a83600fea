"""One shape for every variant the user chooses by name: a protocol says what a variant is, each
variant is one class with one method to call (Captum's style), and a `Registry` holds one object
of each, keyed by its `name`.

Responses, estimators, prior corrections, datasets and metrics are all registries, so an option's
allowed values (`choices`), its help and the error for an unknown name all come from the objects
themselves: adding a variant is one class in its registry's module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol, TypeVar

from filterspeak.errors import OptionError


class Variant(Protocol):
    """What every registered variant has: the name the user types and one line of help."""

    name: str
    help: str


V = TypeVar("V", bound=Variant)


class UnknownVariant(OptionError, KeyError):
    """A name no variant of the registry has; a KeyError too, so `in` and `.get` work as on a dict."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Mapping[str, V]):
    """The variants of one kind (`kind` names it in messages), in declaration order."""

    def __init__(self, kind: str, variants: Iterable[V]):
        self.kind = kind
        self._variants: dict[str, V] = {}
        for variant in variants:
            if variant.name in self._variants:
                raise ValueError(f"two {kind}s are named {variant.name!r}")
            self._variants[variant.name] = variant

    def __getitem__(self, name: str) -> V:
        try:
            return self._variants[name]
        except KeyError:
            raise UnknownVariant(f"unknown {self.kind} {name!r}; choose from {', '.join(self._variants)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._variants)

    def __len__(self) -> int:
        return len(self._variants)

    @property
    def names(self) -> tuple[str, ...]:
        """The allowed values, as an option's `choices`."""
        return tuple(self._variants)

    def help(self) -> str:
        """`name = help` for each variant, for an option's help text."""
        return "; ".join(f"{variant.name} = {variant.help}" for variant in self._variants.values())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._variants)})"
