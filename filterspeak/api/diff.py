"""`filterspeak diff`: what changed between two builds (backbones or layers) on the same data."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from filterspeak.sql import load_sql
from filterspeak.storage.builds import load_build_record
from filterspeak.storage.catalog import query
from filterspeak.storage.paths import StorePaths


@dataclass(frozen=True)
class BuildRef:
    backbone: str
    layer: str

    def __str__(self) -> str:
        return f"{self.backbone}:{self.layer}"


def resolve(paths: StorePaths, reference: str) -> BuildRef:
    """'backbone' or 'backbone:layer' → the build it names (its latest layer when left out)."""
    backbone, _, layer = reference.partition(":")
    record = load_build_record(paths, backbone, layer or None)
    return BuildRef(record.backbone, record.layer)


@dataclass(frozen=True)
class BuildDiff:
    a: BuildRef
    b: BuildRef
    attributes: pa.Table  # phrase, filters_a, filters_b, change
    sentences: pa.Table  # image_id, correct_a, correct_b, sentence_a, sentence_b
    explained: int

    def __str__(self) -> str:
        return format_diff(self)

    def _repr_html_(self) -> str:
        from html import escape

        return f"<pre>{escape(format_diff(self))}</pre>"


def diff_builds(paths: StorePaths, a: str, b: str) -> BuildDiff:
    first, second = resolve(paths, a), resolve(paths, b)
    params = {"a_backbone": first.backbone, "a_layer": first.layer, "b_backbone": second.backbone, "b_layer": second.layer}
    explained = query(
        paths, "SELECT count(*) AS n FROM explanations WHERE backbone = $b AND layer = $l", {"b": first.backbone, "l": first.layer}
    ).to_pylist()[0]["n"]
    return BuildDiff(
        first, second, query(paths, load_sql("diff_attributes"), params), query(paths, load_sql("diff_sentences"), params), explained
    )


def format_diff(diff: BuildDiff, examples: int = 5) -> str:
    lines = [f"A = {diff.a}", f"B = {diff.b}", "", "Attributes that gained or lost filters (top attribute of each filter):"]
    rows = diff.attributes.to_pylist()
    if not rows:
        lines.append("  none")
    for row in rows[:20]:
        lines.append(f"  {row['phrase']:<24} {row['filters_a']:>4} → {row['filters_b']:<4} ({row['change']:+d})")
    if len(rows) > 20:
        lines.append(f"  … {len(rows) - 20} more (SQL: SELECT * FROM attribute_filter_counts)")
    changed = diff.sentences.to_pylist()
    lines += ["", f"Test-image sentences that changed: {len(changed)} of {diff.explained}"]
    for row in changed[:examples]:
        lines += [f"  image {row['image_id']}:", f"    A: {row['sentence_a']}", f"    B: {row['sentence_b']}"]
    return "\n".join(lines)
