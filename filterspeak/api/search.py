"""Attribute search: the images of a build ranked by p(a|x) for one vocabulary phrase.

Reads the `image_attribute_scores` table the `attribute_scores` stage stored, the numbers the
retrieval metric scores, so the ranking a user sees is the ranking `filterspeak evaluate`
measures (and the same ranking SQL gives). Plain Python, no Prefect: `filterspeak search` calls it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow.compute as pc

from filterspeak.captions.config import PHRASE_CAPTION
from filterspeak.captions.lexicon import word_set
from filterspeak.errors import FilterSpeakError, OptionError, at_least_one
from filterspeak.tasks.graph import require_stage

SPLITS = ("test", "train", "all")
MAX_SUGGESTIONS = 5
CLOSE_MATCH_CUTOFF = 0.6  # difflib's default: "red wnig" ~ "red wing" (0.875), "red wing" ≁ "tan eye"
# Words that never name an attribute: a query of only these is refused before anything is parsed.
STOP_WORDS = word_set(
    "a an the this that these those some any of with and or but to in on at by for from as is are was were be "
    "been has have had its it his her their my your our"
)

Parse = Callable[[str], Sequence]  # query -> parsed phrases (each with .text and .negated)


class SearchError(FilterSpeakError, ValueError):
    """A query, split or build that search cannot answer; the message says what to do instead."""


@dataclass(frozen=True)
class Resolved:
    phrase: str  # the vocabulary phrase searched for
    attribute_id: int
    query: str  # what the user typed


@dataclass(frozen=True)
class SearchHit:
    rank: int
    image_id: int
    class_name: str
    split: str
    score: float
    path: str

    def to_json(self) -> dict:
        return {
            "rank": self.rank,
            "image_id": self.image_id,
            "class": self.class_name,
            "split": self.split,
            "score": self.score,
            "path": self.path,
        }


@dataclass(frozen=True)
class SearchResult:
    phrase: str
    query: str
    split: str
    hits: list[SearchHit]

    def to_json(self) -> dict:
        return {"phrase": self.phrase, "query": self.query, "split": self.split, "results": [hit.to_json() for hit in self.hits]}


# ---- the pure parts: ranking and phrase resolution -------------------------------------------


def rank_images(scores: np.ndarray, image_ids: np.ndarray, top: int) -> np.ndarray:
    """Positions of the `top` best images: score descending, ties by image_id ascending, so the
    order does not depend on how the table happens to be stored."""
    scores, image_ids = np.asarray(scores, dtype=np.float64), np.asarray(image_ids)
    return np.lexsort((image_ids, -scores))[: at_least_one("--top", top)]


def suggestions(query: str, phrases: Sequence[str], also: Sequence[str] = ()) -> list[str]:
    """Up to MAX_SUGGESTIONS vocabulary phrases for a query that is not one: the closest
    spellings of the query (and of `also`, what the parser made of it) first, closest first, then
    phrases sharing a word with it, most shared words first, vocabulary order within a tie."""
    found: list[str] = []
    for text in (query, *also):
        found += difflib.get_close_matches(text, phrases, n=MAX_SUGGESTIONS, cutoff=CLOSE_MATCH_CUTOFF)
    words = {w for text in (query, *also) for w in text.split()} - STOP_WORDS
    shared = [(len(words & set(p.split())), i) for i, p in enumerate(phrases)]
    found += [phrases[i] for count, i in sorted(shared, key=lambda pair: (-pair[0], pair[1])) if count]
    return list(dict.fromkeys(found))[:MAX_SUGGESTIONS]


def resolve_phrase(query: str, phrases: Sequence[str], parse: Parse) -> Resolved:
    """The vocabulary phrase a query means: itself when it is one (after strip/lower and single
    spaces), else the first non-negated phrase the caption parser reads in it that is in the
    vocabulary ("red wings" -> "red wing"). A SearchError, one line, otherwise."""
    text = " ".join(str(query).lower().split())
    if not text:
        raise SearchError("the search phrase is empty: give an attribute phrase such as 'red wing'")
    index = {phrase: a for a, phrase in enumerate(phrases)}
    if text in index:
        return Resolved(text, index[text], query)
    if set(text.split()) <= STOP_WORDS:
        raise SearchError(f"{query!r} has only stop words and names no attribute: give one such as {_example(phrases)!r}")
    parsed = list(parse(text))
    for phrase in parsed:
        if not phrase.negated and phrase.text in index:
            return Resolved(phrase.text, index[phrase.text], query)
    negated = [p.text for p in parsed if p.negated and p.text in index]
    if negated:
        raise SearchError(f"search ranks the images that show an attribute; search for {negated[0]!r} and read the ranking from the bottom")
    close = suggestions(text, phrases, [p.text for p in parsed])
    if not parsed and not close:
        raise SearchError(f"{query!r} names no attribute the caption parser can read: give one such as {_example(phrases)!r}")
    if not close:
        raise SearchError(
            f'unknown phrase {query!r}: none of the {len(phrases)} vocabulary phrases is close (list them with filterspeak sql "SELECT phrase FROM attributes")'
        )
    listed = ", ".join(repr(p) for p in close)
    raise SearchError(f"unknown phrase {query!r}: not in the build's vocabulary; did you mean {listed}?")


def _example(phrases: Sequence[str]) -> str:
    return phrases[0] if phrases else "red wing"


def caption_parse(config) -> Parse:
    """The build's caption parser (ParserConfig `config`) reading a query as a caption would say it."""
    from filterspeak.captions.parser import CaptionParser

    parser = cache(lambda: CaptionParser(config))  # loaded (~1 s) only for a query that is not a phrase as it is
    return lambda text: parser().parse_many([PHRASE_CAPTION.format(text)])[0]


# ---- over a build ----------------------------------------------------------------------------


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise OptionError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    return split


def attribute_column(build, attribute_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(image ids, p(a|x)) of one attribute for every image the build scored, streamed so memory
    holds one batch of the (images × attributes) table."""
    ids, scores = [], []
    for batch in build.batches("image_attribute_scores", ["image_id", "attribute_id", "score"], rows=1 << 16):
        kept = batch.filter(pc.equal(batch.column(1), attribute_id))
        ids.append(kept.column(0).to_numpy())
        scores.append(kept.column(2).to_numpy())
    return (np.concatenate(ids), np.concatenate(scores)) if ids else (np.zeros(0, np.int64), np.zeros(0))


def search(build, phrase: str, top: int = 10, split: str = "test", parse: Parse | None = None) -> SearchResult:
    """The `top` images of `split` (test, train or all) that show `phrase` most, by p(a|x)."""
    from filterspeak.tasks import captions as captions_stage

    at_least_one("--top", top)
    check_split(split)
    require_stage(build, "attribute_scores", "attribute search")
    phrases = build.phrases
    if parse is None:
        parse = caption_parse(captions_stage.params_from(build.options).parser)
    resolved = resolve_phrase(phrase, phrases, parse)
    image_ids, scores = attribute_column(build, resolved.attribute_id)
    images = build.read("images", ["image_id", "split", "path", "class_id"]).set_index("image_id")
    if split != "all":
        wanted = np.isin(image_ids, images.index[images["split"] == split].to_numpy())
        image_ids, scores = image_ids[wanted], scores[wanted]
    order = rank_images(scores, image_ids, top)
    chosen = images.loc[image_ids[order]]
    names = build.read("classes", ["class_id", "name"]).set_index("class_id")["name"]
    paths = build.table_result("images").located(chosen["path"].tolist())
    hits = [
        SearchHit(rank + 1, int(image_id), str(names.get(class_id, class_id)), str(image_split), float(score), path)
        for rank, (image_id, class_id, image_split, score, path) in enumerate(
            zip(image_ids[order], chosen["class_id"], chosen["split"], scores[order], paths)
        )
    ]
    return SearchResult(resolved.phrase, resolved.query, split, hits)
