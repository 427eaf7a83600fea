"""How API results show themselves in Jupyter (`_repr_html_`): self-contained HTML with inline
styles and images as data URLs, so a notebook saved with its outputs shows them anywhere.

A decision card has what the report's decision cards have: the image as the network saw it,
the sentence, the cited attributes' scores and the strongest filter contributions as bars, and
a heat map per cited attribute.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    from filterspeak.api.explain import Explanation

CARD = "font-family:sans-serif;border:1px solid #ccc;border-radius:6px;padding:10px;margin:6px 0;max-width:900px"
PICTURE = 160  # shown side of the image and of each heat map, in CSS pixels


def data_url(image: Image.Image) -> str:
    """The image as a PNG data URL."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def picture(image: Image.Image, alt: str, side: int = PICTURE) -> str:
    return f'<img src="{data_url(image)}" alt="{escape(alt)}" style="width:{side}px;image-rendering:auto;margin:2px">'


def bars(rows: Sequence[tuple[str, float, str]], colour: str = "#4a7bd0") -> str:
    """Horizontal bars: (label, value, value text) per row, on one scale (the largest |value|)."""
    if not rows:
        return '<p style="color:#777">none</p>'
    top = max(abs(value) for _, value, _ in rows) or 1.0
    lines = []
    for label, value, text in rows:
        width = 0 if value <= 0 else max(1, round(200 * value / top))
        lines.append(
            '<div style="display:flex;align-items:center;font-size:12px;line-height:18px">'
            f'<span style="width:170px;text-align:right;padding-right:6px;overflow:hidden;white-space:nowrap">{escape(label)}</span>'
            f'<span style="display:inline-block;height:12px;width:{width}px;background:{colour}"></span>'
            f'<span style="padding-left:6px;color:#555">{escape(text)}</span></div>'
        )
    return "".join(lines)


def decision_card(explanation: Explanation) -> str:
    """The HTML card of one explained decision."""
    e = explanation
    cited = [(c.phrase, c.score, f"{c.score:.3f}") for c in e.cited]
    filters = [
        (f"filter {row.filter} · {row.top_attribute}", float(row.contribution), f"{row.contribution:.3f}")
        for row in e.contributions.itertuples()
    ]
    maps = "".join(picture(e.heatmap(c.phrase), c.phrase, PICTURE) for c in e.cited) or '<p style="color:#777">no attribute cited</p>'
    return (
        f'<div style="{CARD}">'
        f'<div style="font-size:12px;color:#555">{escape(e.path)} · predicted <b>{escape(e.class_name)}</b> with p = {e.probability:.3f}</div>'
        f'<p style="font-size:15px;margin:6px 0"><b>{escape(e.sentence)}</b></p>'
        '<div style="display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start">'
        f"<div>{picture(Image.fromarray(e.image), e.path)}</div>"
        f'<div><div style="font-size:12px;font-weight:bold">cited attributes, p(a|x,ĉ)</div>{bars(cited)}'
        f'<div style="font-size:12px;font-weight:bold;margin-top:6px">strongest contributions, α<sub>f</sub></div>{bars(filters, "#d08a4a")}</div>'
        f"</div><div>{maps}</div></div>"
    )


def frame_card(title: str, table_html: str) -> str:
    """A titled block around a DataFrame's HTML (search results, failures)."""
    return f'<div style="{CARD}"><div style="font-size:13px;margin-bottom:4px"><b>{escape(title)}</b></div>{table_html}</div>'
