"""Caption files in the common layouts → one caption frame.

Every reader returns ``(frame, errors)``:

* ``frame``: a :class:`pandas.DataFrame` with one row per caption and the columns
  ``image_key`` (str: the image's relative path or id exactly as the source names it),
  ``text`` (str: the caption as written) and ``source_line`` (int64, 1-based: the line in the
  file, or for COCO the annotation's position in ``annotations[]``), in file order;
* ``errors``: a list of ``{"item": ..., "reason": ...}`` dicts, one per thing skipped.

Row-level problems (a line that is not valid UTF-8, a malformed line, a record without an image
or a caption, a COCO caption for an image id that ``images[]`` does not list) are recorded and
skipped: one bad line never loses the others. Only a source that cannot be read at all (missing
path, a COCO file that is not JSON, a CSV without the needed columns) raises
:class:`CaptionSourceError` (a ``ValueError``) or ``FileNotFoundError``.

Formats (:data:`FORMATS`; one example each in ``docs/captions.md``):

``cub``
    The Reed et al. CUB-200-2011 captions: ``text_c10/<class folder>/<image stem>.txt``, one
    caption per line. ``path`` is the folder that holds ``text_c10`` or ``text_c10`` itself.
    ``image_key`` = ``"<class folder>/<image stem>.jpg"`` (the path in CUB's ``images.txt``).
``coco``
    A COCO captions JSON: ``images[]`` with ``id`` and ``file_name``, ``annotations[]`` with
    ``image_id`` and ``caption``. ``image_key`` = the image's ``file_name``.
``flickr8k``
    A Flickr8k/Flickr30k token file: ``<image>#<n><TAB><caption>`` per line.
    ``image_key`` = ``<image>``.
``jsonl``
    One JSON object per line with the image in ``image``, ``image_id``, ``path`` or
    ``file_name`` and the caption in ``caption`` or ``text`` (or a list in ``captions``).
``csv``
    A header row naming an image column (``image``, ``image_id``, ``path`` or ``file_name``)
    and a caption column (``caption`` or ``text``); comma, tab, semicolon or pipe separated.

Blank lines in the line-based formats are not captions and are passed over silently; a record
whose caption is empty is kept (with ``text == ""``) so that
:func:`filterspeak.captions.cleaning.clean_captions` records it as an empty caption.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from filterspeak.errors import FilterSpeakError

__all__ = [
    "CAPTION_COLUMNS",
    "FORMATS",
    "CaptionSourceError",
    "ErrorRow",
    "read_captions",
    "read_coco",
    "read_csv",
    "read_cub",
    "read_flickr8k",
    "read_jsonl",
]

CAPTION_COLUMNS = ("image_key", "text", "source_line")
#: Image and caption field names accepted by the ``jsonl`` and ``csv`` readers, in priority order.
IMAGE_FIELDS = ("image", "image_id", "path", "file_name")
TEXT_FIELDS = ("caption", "text")

ErrorRow = dict  # {"item": str, "reason": str}


class CaptionSourceError(FilterSpeakError, ValueError):
    """A caption source that cannot be read at all (not JSON, no usable columns, ...)."""


class CaptionFileMissing(FilterSpeakError, FileNotFoundError):
    """The caption file or folder named does not exist."""


# ------------------------------------------------------------------------------------ helpers
def _frame(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image_key": pd.Series([r[0] for r in rows], dtype=object),
            "text": pd.Series([r[1] for r in rows], dtype=object),
            "source_line": pd.Series([r[2] for r in rows], dtype="int64"),
        }
    )


def _error(item: str, reason: str) -> ErrorRow:
    return {"item": item, "reason": reason}


def _has_bad_bytes(text: str) -> bool:
    """Whether ``text`` (decoded with ``surrogateescape``) held bytes that are not UTF-8."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _read_text(path: Path) -> str:
    """The file decoded as UTF-8 (BOM dropped); undecodable bytes kept as lone surrogates so
    the caller can record the lines that hold them."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="surrogateescape")


def _lines(path: Path, errors: list[ErrorRow], label: str | None = None):
    """(1-based line number, line) for the non-blank, UTF-8-valid lines of a file; a line with
    invalid UTF-8 becomes an error row 'invalid UTF-8 at line N'."""
    label = label or path.name
    lines = _read_text(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if _has_bad_bytes(line):
            errors.append(_error(f"{label}:{number}", f"invalid UTF-8 at line {number}"))
            continue
        yield number, line


def _require_file(path: Path) -> Path:
    if not path.exists():
        raise CaptionFileMissing(f"caption file not found: {path}")
    if not path.is_file():
        raise CaptionSourceError(f"{path} is not a file")
    return path


def _as_key(value) -> str | None:
    """An image key from a JSON/CSV value: strings stripped, integral numbers as integers."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            value = int(value)
    if isinstance(value, (int, str)):
        key = str(value).strip()
        return key or None
    return None


# ---------------------------------------------------------------------------------- readers
def read_cub(path: str | os.PathLike) -> tuple[pd.DataFrame, list[ErrorRow]]:
    """Reed et al. CUB captions: ``text_c10/<class folder>/<image stem>.txt``."""
    root = Path(path)
    if not root.exists():
        raise CaptionFileMissing(f"CUB caption folder not found: {root}")
    text_dir = root if root.name == "text_c10" else root / "text_c10"
    if not text_dir.is_dir():
        if root.is_dir() and any(p.is_dir() and any(p.glob("*.txt")) for p in root.iterdir()):
            text_dir = root  # a folder of class folders under another name
        else:
            raise CaptionSourceError(f"{root} has no text_c10/ folder (expected text_c10/<class folder>/<image>.txt)")
    rows: list[tuple[str, str, int]] = []
    errors: list[ErrorRow] = []
    for file in sorted(text_dir.rglob("*.txt")):
        rel = file.relative_to(text_dir)
        if len(rel.parts) != 2:
            errors.append(_error(str(rel.as_posix()), "caption file outside a class folder"))
            continue
        class_folder = rel.parts[0]
        key = f"{class_folder}/{file.stem}.jpg"
        for number, line in _lines(file, errors, label=rel.as_posix()):
            rows.append((key, line.strip(), number))
    return _frame(rows), errors


def read_coco(path: str | os.PathLike) -> tuple[pd.DataFrame, list[ErrorRow]]:
    """COCO captions JSON (``images[]`` with ``id``/``file_name``, ``annotations[]`` with
    ``image_id``/``caption``). ``source_line`` is the annotation's 1-based position."""
    file = _require_file(Path(path))
    try:
        document = json.loads(_read_text(file))
    except json.JSONDecodeError as exc:
        raise CaptionSourceError(f"{file} is not a COCO captions JSON file: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("annotations"), list):
        raise CaptionSourceError(f"{file} has no 'annotations' list (COCO captions format)")
    images = document.get("images")
    if not isinstance(images, list):
        raise CaptionSourceError(f"{file} has no 'images' list (COCO captions format)")
    errors: list[ErrorRow] = []
    names: dict[str, str] = {}
    for position, image in enumerate(images, 1):
        image_id = _as_key(image.get("id")) if isinstance(image, dict) else None
        name = image.get("file_name") if isinstance(image, dict) else None
        if image_id is None or not isinstance(name, str) or not name.strip():
            errors.append(_error(f"images[{position}]", "image without an id or a file_name"))
            continue
        if _has_bad_bytes(name):
            errors.append(_error(f"images[{position}]", "invalid UTF-8 in file_name"))
            continue
        names[image_id] = name.strip()
    rows: list[tuple[str, str, int]] = []
    for position, ann in enumerate(document["annotations"], 1):
        if not isinstance(ann, dict):
            errors.append(_error(f"annotations[{position}]", "annotation is not an object"))
            continue
        label = f"annotation {ann.get('id', position)}"
        image_id = _as_key(ann.get("image_id"))
        caption = ann.get("caption")
        if not isinstance(caption, str):
            errors.append(_error(label, "annotation without a caption"))
            continue
        if image_id is None or image_id not in names:
            errors.append(_error(f"{label} (image_id {ann.get('image_id')!r})", "caption for unknown image"))
            continue
        if _has_bad_bytes(caption):
            errors.append(_error(label, f"invalid UTF-8 in annotation {position}"))
            continue
        rows.append((names[image_id], caption.strip(), position))
    return _frame(rows), errors


def read_flickr8k(path: str | os.PathLike) -> tuple[pd.DataFrame, list[ErrorRow]]:
    """Flickr8k/Flickr30k token file: ``<image>#<n><TAB><caption>`` per line."""
    file = _require_file(Path(path))
    rows: list[tuple[str, str, int]] = []
    errors: list[ErrorRow] = []
    for number, line in _lines(file, errors):
        key, tab, caption = line.partition("\t")
        image = key.rpartition("#")[0] if "#" in key else key
        image = image.strip()
        if not tab or not image:
            errors.append(_error(f"{file.name}:{number}", "malformed line: expected '<image>#<n><TAB><caption>'"))
            continue
        rows.append((image, caption.strip(), number))
    return _frame(rows), errors


def _pick(fields, candidates) -> str | None:
    lowered = {str(f).strip().lower(): f for f in fields}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    return None


def read_jsonl(path: str | os.PathLike) -> tuple[pd.DataFrame, list[ErrorRow]]:
    """JSON Lines: ``{"image": ..., "caption": ...}`` per line (see module doc for the names)."""
    file = _require_file(Path(path))
    rows: list[tuple[str, str, int]] = []
    errors: list[ErrorRow] = []
    for number, line in _lines(file, errors):
        item = f"{file.name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            errors.append(_error(item, f"invalid JSON at line {number}"))
            continue
        if not isinstance(record, dict):
            errors.append(_error(item, "JSON value is not an object"))
            continue
        image_field = _pick(record, IMAGE_FIELDS)
        key = _as_key(record.get(image_field)) if image_field else None
        if key is None:
            errors.append(_error(item, f"no image field (one of {', '.join(IMAGE_FIELDS)})"))
            continue
        text_field = _pick(record, TEXT_FIELDS)
        if text_field is not None and isinstance(record[text_field], str):
            captions = [record[text_field]]
        elif isinstance(record.get("captions"), list):
            captions = [c for c in record["captions"] if isinstance(c, str)]
        else:
            errors.append(_error(item, "no caption field (caption, text or captions)"))
            continue
        rows.extend((key, c.strip(), number) for c in captions)
    return _frame(rows), errors


def read_csv(path: str | os.PathLike) -> tuple[pd.DataFrame, list[ErrorRow]]:
    """CSV/TSV with a header naming an image column and a caption column."""
    file = _require_file(Path(path))
    text = _read_text(file)
    first = text.split("\n", 1)[0]
    if file.suffix.lower() in (".tsv", ".tab"):
        delimiter = "\t"
    else:
        counts = {d: first.count(d) for d in (",", "\t", ";", "|")}
        delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise CaptionSourceError(f"{file} is empty (expected a header row)") from None
    image_col = _pick(header, IMAGE_FIELDS)
    text_col = _pick(header, TEXT_FIELDS)
    if image_col is None or text_col is None:
        raise CaptionSourceError(
            f"{file}: the header {header!r} needs an image column "
            f"({', '.join(IMAGE_FIELDS)}) and a caption column ({', '.join(TEXT_FIELDS)})"
        )
    i_image, i_text = header.index(image_col), header.index(text_col)
    rows: list[tuple[str, str, int]] = []
    errors: list[ErrorRow] = []
    start = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(_error(f"{file.name}:{start}", f"malformed CSV at line {start}: {exc}"))
            start = reader.line_num + 1
            continue
        number, start = start, reader.line_num + 1
        if not record or all(not field.strip() for field in record):
            continue
        item = f"{file.name}:{number}"
        if any(_has_bad_bytes(field) for field in record):
            errors.append(_error(item, f"invalid UTF-8 at line {number}"))
            continue
        if len(record) <= max(i_image, i_text):
            errors.append(_error(item, f"line {number} has {len(record)} fields, expected {len(header)}"))
            continue
        key = record[i_image].strip()
        if not key:
            errors.append(_error(item, "no image"))
            continue
        rows.append((key, record[i_text].strip(), number))
    return _frame(rows), errors


READERS: dict[str, Callable[[str | os.PathLike], tuple[pd.DataFrame, list[ErrorRow]]]] = {
    "cub": read_cub,
    "coco": read_coco,
    "flickr8k": read_flickr8k,
    "jsonl": read_jsonl,
    "csv": read_csv,
}
#: The format names :func:`read_captions` accepts.
FORMATS = tuple(READERS)
_ALIASES = {"flickr": "flickr8k", "flickr30k": "flickr8k", "reed": "cub", "tsv": "csv"}


def read_captions(path: str | os.PathLike, format: str) -> tuple[pd.DataFrame, list[ErrorRow]]:
    """Read a caption source in one of :data:`FORMATS`; see the module doc for each layout."""
    name = str(format).strip().lower()
    name = _ALIASES.get(name, name)
    reader = READERS.get(name)
    if reader is None:
        raise ValueError(f"unknown caption format {format!r}; expected one of: {', '.join(FORMATS)}")
    return reader(path)
