"""The evaluation's numbers as one flat record (the JSON keys), and how they are shown. Each metric
declares its rows (`Row`: label, target, baseline, reference, variants-table column); the
targets, the Markdown tables and the report's headline figures are all read from the rows, which
the read side supplies (`filterspeak.api.metrics.ROWS`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number(value: Any) -> str:
    """A value as the tables print it: 3 decimals, `n/a` for None."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.3f}"
    return str(value)


@dataclass(frozen=True)
class Target:
    """An acceptance target on the synthetic default build: the figure `comparison` `threshold`."""

    comparison: str  # ">=", ">" or "<="
    threshold: float

    def met(self, value: Any) -> bool | None:
        """None when `value` is not a finite number."""
        if not _finite(value):
            return None
        return {">=": value >= self.threshold, ">": value > self.threshold, "<=": value <= self.threshold}[self.comparison]

    def __str__(self) -> str:
        return f"{self.comparison} {self.threshold:g}"


@dataclass(frozen=True)
class Baseline:
    """What a figure is plotted against: its name in the report's charts, its key, and how the
    Markdown table spells the baseline cell from the metrics (default: the name and the value)."""

    name: str
    key: str
    cell: Callable[[Mapping[str, Any]], str] | None = None

    def spelled(self, metrics: Mapping[str, Any]) -> str:
        return self.cell(metrics) if self.cell is not None else f"{self.name} {number(metrics.get(self.key))}"


@dataclass(frozen=True)
class Reference:
    """The evaluation's own yardstick for what the layer allows (a supervised reading of the same
    layer): printed beside the target, with the figure's ratio to it."""

    key: str
    name: str


@dataclass(frozen=True)
class Column:
    """A row's column in the variants table; `after`: the key of the column it follows, where that is
    not the rows' order."""

    label: str
    after: str | None = None


@dataclass(frozen=True)
class Row:
    """One figure of the evaluation's Markdown table; `after`: the key of the row it follows, where
    that is not its metric's place in the registry."""

    key: str
    label: str
    target: Target | None = None
    baseline: Baseline | None = None
    reference: Reference | None = None
    column: Column | None = None
    after: str | None = None


def _placed(rows: list[Row], after: Callable[[Row], str | None]) -> list[Row]:
    """`rows` in their order, except that each row with `after(row)` comes right after the row of that key."""
    placed = [row for row in rows if after(row) is None]
    for row in rows:
        if (key := after(row)) is not None:
            keys = [other.key for other in placed]
            if key not in keys:
                raise ValueError(f"row {row.key!r} is placed after {key!r}, which no row before it has")
            placed.insert(keys.index(key) + 1, row)
    return placed


def table_rows(rows: Iterable[Row]) -> list[Row]:
    """The Markdown table's rows, in its order."""
    return _placed(list(rows), lambda row: row.after)


def variant_columns(rows: Iterable[Row]) -> list[tuple[str, str]]:
    """(key, label) of the variants table's columns, in its order."""
    return [(row.key, row.column.label) for row in _placed([r for r in rows if r.column], lambda row: row.column.after)]


def reference_of(row: Row, metrics: Mapping[str, Any]) -> tuple[str, float | None, float | None]:
    """(the reference's name, its value, the figure's ratio to it); ("", None, None) for a row without one."""
    if row.reference is None:
        return "", None, None
    value, reference = metrics.get(row.key), metrics.get(row.reference.key)
    if not _finite(reference):
        return row.reference.name, None, None
    ratio = float(value) / float(reference) if _finite(value) and reference > 0 else None
    return row.reference.name, float(reference), ratio


def targets(metrics: Mapping[str, Any], rows: Iterable[Row]) -> dict[str, bool | None]:
    """Whether each row with a target meets it (None: no finite value)."""
    return {row.key: row.target.met(metrics.get(row.key)) for row in table_rows(rows) if row.target is not None}


@dataclass
class EvaluationRecord:
    """Flat metrics (None where a metric does not apply, with the reason in `notes`), and the rows
    that show them."""

    metrics: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    variants: list[dict[str, Any]] = field(default_factory=list)
    rows: tuple[Row, ...] = field(kw_only=True, repr=False)

    def targets(self) -> dict[str, bool | None]:
        return targets(self.metrics, self.rows)

    def _repr_markdown_(self) -> str:
        """In Jupyter: the table `filterspeak evaluate` prints."""
        return markdown_table(self)

    def to_json(self) -> dict[str, Any]:
        """Strict JSON: a value that is not a finite number (NaN, ±inf) is written as null, with a
        note naming it, since jq and JavaScript reject NaN."""
        notes = dict(self.notes)
        document = {**self.metrics, "targets": self.targets(), "context": self.context, "variants": self.variants}
        document = _finite_or_null(document, "", notes)
        return {**document, "notes": notes}


def _finite_or_null(value: Any, key: str, notes: dict[str, str]) -> Any:
    """`value` with every non-finite float (at any depth) replaced by None and noted under its key."""
    if isinstance(value, dict):
        return {k: _finite_or_null(v, f"{key}.{k}" if key else str(k), notes) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(v, f"{key}[{i}]", notes) for i, v in enumerate(value)]
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        notes.setdefault(key, f"not a finite number ({value}): written as null")
        return None
    return value


def headline_figures(metrics: Mapping[str, Any], rows: Iterable[Row]) -> list[dict[str, Any]]:
    """The table's rows that have a value: name, value, baseline (name and value), target, met."""
    figures = []
    for row in table_rows(rows):
        value = metrics.get(row.key)
        if not _finite(value):
            continue
        baseline = metrics.get(row.baseline.key) if row.baseline else None
        reference_name, reference, ratio = reference_of(row, metrics)
        figures.append(
            {
                "name": row.label,
                "reference_name": reference_name,
                "reference": reference,
                "reference_ratio": ratio,
                "value": float(value),
                "baseline_name": row.baseline.name if row.baseline else "",
                "baseline": float(baseline) if _finite(baseline) else None,
                "target": str(row.target) if row.target else "",
                "met": row.target.met(value) if row.target else None,
            }
        )
    return figures


def markdown_table(record: EvaluationRecord) -> str:
    lines = ["| metric | value | baseline | target | reference | ratio to it | met |", "|---|---|---|---|---|---|---|"]
    targets = record.targets()
    for row in table_rows(record.rows):
        met = targets.get(row.key)
        reference_name, reference, ratio = reference_of(row, record.metrics)
        lines.append(
            f"| {row.label} | {number(record.metrics.get(row.key))} | {row.baseline.spelled(record.metrics) if row.baseline else ''} | "
            f"{row.target or ''} | {f'{reference_name} {number(reference)}' if reference_name else ''} | "
            f"{number(ratio) if reference_name else ''} | {'' if met is None else ('yes' if met else 'NO')} |"
        )
    for key, note in record.to_json()["notes"].items():  # why a value is missing (n/a), NaNs included
        lines.append(f"\n- {key}: {note}")
    return "\n".join(lines)


def variants_table(variants: list[dict[str, Any]], rows: Iterable[Row]) -> str:
    columns = variant_columns(rows)
    header = "| variant | " + " | ".join(label for _, label in columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    for variant in variants:
        cells = [number(variant["metrics"].get(key)) for key, _ in columns]
        lines.append(f"| {variant['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
