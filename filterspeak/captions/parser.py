r"""Caption text → attribute phrases ("red crown", "striped wing").

Pipeline for one caption
------------------------
1. **Normalise**: HTML entities unescaped, tags stripped, NFKC, curly quotes straightened, lower
   case. Split into sentences on ``. ! ? ;`` and line breaks (a regex: no punkt needed). A
   sentence longer than :data:`MAX_TOKENS` tokens is cut into pieces (at a comma when there is
   one) so pathological input stays linear.
2. **Tokenise** with a regex: words keep inner hyphens (``blue-grey``, ``wing-bar``); ``'s`` and
   ``n't`` are split off as the Penn Treebank does. Hyphenated colour *lists* are split
   (``black-and-white`` → ``black and white``, ``black-striped`` → ``black striped``).
3. **POS-tag** with NLTK's averaged perceptron tagger (``tag_sents`` in batches). By default
   (``engine="fast"``) through :class:`~filterspeak.captions.fast_nltk.FastPerceptronTagger`,
   which gives the tagger's exact output ~4x faster; ``engine="nltk"`` uses NLTK's objects.
4. **Re-tag from the lexicon** (:mod:`filterspeak.captions.lexicon`), because the tagger is often
   wrong on exactly the words that matter ('orange' → NN, 'grey' → NN/VB):

   ======  ==============================================================================
   COL     a colour, canonicalised; hedged/compound/shade colours merged into one token
           ('blue grey' → blue-grey, 'reddish orange' → red-orange, 'light brown')
   PAT     a pattern/shape/size word from the lexicon ('striped', 'pointed', 'long')
   INT     an intensifier in front of a modifier ('bright' red, 'very' long), ignored
   NEG     a negation cue ('no', 'not', "n't", 'without', 'lacks')
   BE      a copula or perception verb ('is', 'are', 'looks', 'appears')
   WDT     'that' / 'which' / 'who' right after a noun (relative clause)
   PASS    a participle (VBN) that is not a lexicon word, right after a copula (only adverbs or
           negations between): a passive verb ('the picture was taken outdoors', 'is perched'),
           never a modifier
   ======  ==============================================================================

   Every other token keeps the tagger's Penn tag, with these repairs of frequent tagger errors:
   a body-part word read as adverb/verb/superlative ('belly' RB, 'wing' VBG, 'chest' JJS)
   becomes a noun unless a verb precedes it (body-part words:
   :data:`~filterspeak.captions.lexicon.PART_WORDS`, the part nouns plus their one-word
   synonyms such as 'chest' and 'bill'); a JJ that WordNet knows only as a noun ('dog' JJ,
   'snow' JJ) becomes NN, and so does a hyphenated JJ made of two nouns ('spider-man',
   't-shirt'); an NN before a noun that WordNet knows only as an adjective ('a snowy/NN hill')
   becomes JJ, as does 'dark'/'pale' before a noun; an ambiguous colour name ('cream', 'olive',
   'gold') is a colour only in colour context (lexicon policy); a noun right before
   'colored'/'coloured' names a colour ('a caramel colored dog' → caramel dog).

   Before that, adjectives made of a modifier and a body-part noun + ``-ed`` ('long-tailed',
   'yellow-billed', 'dark haired', 'red-bellied'; nouns: PART_WORDS plus 'hair' and 'skin';
   lexicon modifiers such as 'striped' or 'crested' are not split) become the modifier and the
   part noun, moved in front of the noun phrase's other modifiers and closed off with a
   separator: 'a small brown long-haired dog' is read 'a long hair | small brown dog'
   (long hair, small dog, brown dog).
5. **Chunk** with this cascaded :class:`nltk.RegexpParser` grammar (:data:`GRAMMAR`)::

       ADJS: {<NEG|INT|RB>*<COL|PAT|JJ|VBN>(<,|CC>*<NEG|INT|RB>*<COL|PAT|JJ|VBN>)*}
       NP:   {<NEG>?<DT|PDT|PRP\$|CD|POS|WP\$>*<ADJS>?<NN|NNS>+(<CC><NN|NNS>+)*}
       PRED: {<NP><WDT|WP>?<BE><NEG|RB|INT>*<DT>?<ADJS>}

   * ``ADJS`` is a list of modifiers joined by commas/conjunctions ("black, white and grey",
     "small black striped"); general adjectives (JJ) and participles (VBN: "pointed", "painted")
     count, so ordinary captions give "green branch", "wooden fence", "young boy".
     Comparatives/superlatives (JJR/JJS) and gerunds (VBG) do not.
   * ``NP`` is an optional modifier list, one noun group (compound of nouns), and further noun
     groups coordinated with it ("red crown and breast").
   * ``PRED`` is a subject NP, an optional relative pronoun, a copula and a predicate modifier
     list: "its breast is yellow", "wings that are brown", "the tail is black and white",
     "its belly is a pale yellow".
6. **Extract** phrases (modifier, noun) from the chunks:

   * every modifier of an ``ADJS`` pairs with the head noun separately
     ("black and white wings" → black wing, white wing);
   * a modifier list is shared with coordinated noun groups only when both are body-part nouns
     (:data:`~filterspeak.captions.lexicon.PART_WORDS`): "red crown and breast" → red crown,
     red breast, but "red shirt and jeans" → red shirt only. A bare plural coordinated after
     a singular determiner is a noun phrase of its own and gets nothing: in "a black beak and
     wings" the "a" (hence "black") belongs to "beak" only. A modifier never reaches a noun
     phrase with its own determiner ("a red crown and a yellow beak": the grammar already
     keeps them apart);
   * predicate modifiers go to every noun of the subject ("the breast and belly are yellow").
     The subject must start a clause or be followed by a relative pronoun: in "a man in a red
     shirt is happy" the NP after "in" is not the subject, so nothing is predicated of it. In
     "the color of the crown is red" the subject is the noun before "of" unless it is a stop
     noun, then the one after it ("the rest of the body is black" → black body). A
     subordinator ("while", "although", "because", ...) starts a clause, so the NP after it is
     a subject ("the crown is black while the throat is white"). Non-lexicon participles are not predicates ("the dog is
     covered in mud" is passive voice, not an attribute);
   * a relative clause ("N that/which is/are ADJ") describes only the noun group right before
     the relative pronoun; that group is then a noun phrase of its own, so modifiers in front
     of an earlier coordinated noun do not reach it either: "a yellow beak and wings that are
     blue" → yellow beak, blue wing. Policy for coordinations of body-part nouns: the clause
     covers all of them only when its verb is plural ('are') and either no modifier precedes
     them ("crown and nape that are red" → red crown, red nape; "the crown and wings that are
     red" → red crown, red wing) or the last noun is singular, so that only the coordination
     agrees with the verb ("a red crown and breast that are spotted" → red crown, red breast,
     spotted crown, spotted breast). A singular verb ("the crown and nape that is red") always
     means the last noun only;
   * coordinated clause subjects: with a plural copula, a subject NP after "and" (or ", and")
     takes in the NPs coordinated before it ("the crown and the tail are black", "its crown,
     its nape and its tail are red") as long as those are definite ('the', 'its', ...) or
     start the sentence ("a dog and a cat are brown"), and the first of them is not the object
     of a verb or preposition ("it has a red crown and the wings are black" → red crown, black
     wing; "he holds the red flag and the men are happy" → no "happy flag");
   * nouns: the head (last) noun is lemmatised with WordNet, the synonym map is applied to the
     compound and then to each word, stop nouns are removed, and at most the last two nouns are
     kept ("tail feathers" → tail feather, "bird wings" → wing, "wing color" → wing);
   * verbs the tagger reads as nouns ("a black dog jumps" → jumps/NNS; "a dog running") are
     recognised with WordNet's sense counts (a verb at least twice as often as a noun; three
     times for -ing forms, so "brick building" stays) and dropped when they end a noun compound,
     follow a singular determiner ("a blue uniform stands" → blue uniform) or follow a bare
     "in <colour>" ("a man in red lays ..." → nothing); inside a compound, such a plural right
     after a singular noun ends the compound ("a young boy plays basketball" → young boy);
   * a colour or pattern list followed by "on" and a noun phrase of body parts with no
     modifier of its own is located on those parts: "white with black on its wings and tail"
     → black wing, black tail; "the bird is yellow on its breast" → yellow breast;
   * negation: a ``NEG`` inside the NP ("no white wingbars", "without a red crown"), before it
     with only verbs/adverbs between ("does not have white wingbars"), or in the predicate
     ("the crown is not red") negates; "but" ends a negation inside a modifier list. Negated
     phrases are dropped (``negation="drop"``) or returned with ``negated=True`` (``"mark"``).

Per caption the phrases come in text order, each distinct phrase once (a caption that says
"red crown" twice mentions it once).

Speed: sentences are de-duplicated across a :meth:`CaptionParser.parse_many` call and cached per
parser (bounded); tagging runs in batches through the fast tagger and chunking through
:class:`~filterspeak.captions.fast_nltk.FastRegexpChunker` (both exact); with ``workers`` > 1
and more than :data:`PARALLEL_MIN_SENTENCES` new sentences, the unique sentences are split
across a process pool. ``benchmarks/caption_parsing.py`` measures it.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from filterspeak.captions import fast_nltk
from filterspeak.captions import lexicon as lx
from filterspeak.captions import nltk_resources

__all__ = [
    "GRAMMAR",
    "MAX_TOKENS",
    "PARALLEL_MIN_SENTENCES",
    "PARSER_VERSION",
    "CaptionParser",
    "ParserConfig",
    "Phrase",
]

log = logging.getLogger(__name__)

#: Bump when parser behaviour changes (part of :meth:`ParserConfig.to_dict`, hence cache keys).
PARSER_VERSION = "3"

#: The chunk grammar (see module docstring).
GRAMMAR = r"""
ADJS: {<NEG|INT|RB>*<COL|PAT|JJ|VBN>(<,|CC>*<NEG|INT|RB>*<COL|PAT|JJ|VBN>)*}
NP:   {<NEG>?<DT|PDT|PRP\$|CD|POS|WP\$>*<ADJS>?<NN|NNS>+(<CC><NN|NNS>+)*}
PRED: {<NP><WDT|WP>?<BE><NEG|RB|INT>*<DT>?<ADJS>}
"""

#: Longest token sequence chunked at once; longer sentences are cut into pieces.
MAX_TOKENS = 80
_TAG_BATCH = 2000
_CACHE_MAX = 200_000

_MOD_TAGS = frozenset({"COL", "PAT", "JJ", "VBN"})
_NOUN_TAGS = frozenset({"NN", "NNS"})
_SINGULAR_DETS = frozenset({"a", "an", "this", "that", "each", "every", "another", "one"})
_RELATIVE = frozenset({"that", "which", "who", "whose"})
_LEXICAL_MODS = frozenset({"COL", "AMB", "PAT", "SHADE", "INT", "FILL"})
# After these tags a body-part word is not re-read as a noun ('flies back', 'to wing').
_NO_NOUN_AFTER = frozenset({"VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD", "TO", "RB", "PASS"})
# Top-level tokens that end the scope of a preceding negation cue.
_NEG_BREAK_TAGS = frozenset({",", ".", ":", "WDT", "WP", "BE", "(", ")"})
# A PRED whose subject NP directly follows one of these is not a clause subject.
# Copulas that agree with a plural subject.
_PLURAL_BE = frozenset({"are", "were", "'re", "look", "appear", "seem", "become", "remain"})
# Determiners of an NP that may be a coordinated clause subject ('the crown and the tail are').
_DEFINITE_DETS = frozenset({"the", "its", "their", "his", "her", "these", "those", "both"})
_NOT_SUBJECT_BEFORE = frozenset(
    {"IN", "TO", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD", "PASS"}
)
# ... except these subordinators (tagged IN), which start a clause: 'while the throat is white'.
_CLAUSE_STARTERS = frozenset(
    {"while", "whilst", "whereas", "although", "though", "because", "since", "if", "unless",
     "until", "once"}
)
# A modifier list followed by one of these and a body-part noun phrase describes that part:
# 'white with black on its wings' → black wing.
_LOCATIVE_PREPS = frozenset({"on"})
# Separator token inserted after an expanded '<modifier>-<part>ed' adjective (see _retag).
_SEP = ("|", "SEP")
_COLORED = frozenset({"colored", "coloured"})
# Shade words that are adjectives whenever a noun follows ('light' may be a noun: 'light pole').
_SHADE_ADJECTIVES = frozenset({"dark", "pale"})
# Not modifiers of a '-<part>ed' adjective: 'three-legged', 'two-toned', 'one-eyed'.
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten single double triple multi".split()
)
# Nouns besides the body-part words that form '<modifier>-<noun>ed' adjectives of people/animals.
_ED_PART_NOUNS = frozenset({"hair", "skin"})


def _part_of_ed(word: str) -> str | None:
    """The body-part noun of a '-<part>ed' adjective ('tailed' → tail, 'long-billed' → bill,
    'bellied' → belly, 'capped' → cap, 'faced' → face), or None. Lexicon modifiers ('striped',
    'spotted', 'crested') are not split."""
    last = word.rpartition("-")[2]
    if len(last) < 4 or not last.endswith("ed") or last in lx.MODIFIER_CANON \
            or word in lx.MODIFIER_CANON:
        return None
    stem = last[:-2]
    candidates = [stem, stem + "e"]
    if stem.endswith("i"):
        candidates.append(stem[:-1] + "y")
    if len(stem) > 2 and stem[-1] == stem[-2]:
        candidates.append(stem[:-1])
    for noun in candidates:
        if noun in lx.PART_WORDS or noun in _ED_PART_NOUNS:
            return noun
    return None

_TAG_RE = re.compile(r"<[^<>]{0,300}>")
_SPACE_RE = re.compile(r"\s+")
_SENT_SPLIT_RE = re.compile(r"(?<=[.!?;])\s+|[\r\n]+")
_TOKEN_RE = re.compile(
    r"[^\W\d_]+(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|\w+(?:-\w+)*|[^\w\s]", re.UNICODE
)
_WORDLIKE_RE = re.compile(r"^[^\W\d_][\w'\- ]*$", re.UNICODE)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                         "\u2013": "-", "\u2014": "-", "\u00a0": " "})


# ----------------------------------------------------------------------------------- data types
@dataclass(frozen=True)
class Phrase:
    """One attribute mention: ``modifier`` + ``noun`` (both canonical), maybe negated."""

    modifier: str
    noun: str
    negated: bool = False

    @property
    def text(self) -> str:
        return f"{self.modifier} {self.noun}"

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return ("not " if self.negated else "") + self.text


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
        return (type(self), (dict(self.synonyms), self.stop_nouns, self.stop_modifiers,
                             self.negation))


_DEFAULT_CONFIG = ParserConfig()


# --------------------------------------------------------------------------------- text → tokens
def _normalise(text: object) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        if isinstance(text, float) and text != text:  # NaN from pandas
            return ""
        text = str(text)
    text = html.unescape(_TAG_RE.sub(" ", text))
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return text.lower()


def _split_sentences(text: str) -> list[str]:
    out = []
    for s in _SENT_SPLIT_RE.split(text):
        s = _SPACE_RE.sub(" ", s).strip()
        if s:
            out.append(s)
    return out


def _tokenize(sentence: str) -> list[list[str]]:
    """Tokens of one sentence, cut into pieces of at most MAX_TOKENS."""
    tokens: list[str] = []
    for tok in _TOKEN_RE.findall(sentence):
        parts = lx.split_colour_list(tok) if "-" in tok else None
        if parts:
            tokens.extend(parts)
        else:
            tokens.append(tok)
    pieces = []
    while len(tokens) > MAX_TOKENS:
        window = tokens[:MAX_TOKENS]
        cut = max((i for i, t in enumerate(window) if t in {",", ":", "-"}), default=-1) + 1
        if cut < MAX_TOKENS // 4:
            cut = MAX_TOKENS
        pieces.append(tokens[:cut])
        tokens = tokens[cut:]
    if tokens:
        pieces.append(tokens)
    return pieces


# ------------------------------------------------------------------------------- the parser
class CaptionParser:
    """Extract attribute phrases from captions. Loads the NLTK tagger/WordNet on construction
    (once per process; :class:`~filterspeak.captions.nltk_resources.NltkDataMissing` if absent).
    """

    def __init__(self, config: ParserConfig = _DEFAULT_CONFIG, engine: Literal["fast", "nltk"] = "fast"):
        if not isinstance(config, ParserConfig):
            raise TypeError(f"config must be a ParserConfig, got {type(config).__name__}")
        if engine not in ("fast", "nltk"):
            raise ValueError(f"engine must be 'fast' or 'nltk', got {engine!r}")
        import nltk

        self.config = config
        self.engine = engine
        if engine == "fast":  # same output as NLTK's objects, ~4x faster (fast_nltk)
            self._tagger = fast_nltk.fast_tagger(nltk_resources.get_tagger())
            self._chunker = fast_nltk.FastRegexpChunker(GRAMMAR)
        else:
            self._tagger = nltk_resources.get_tagger()
            self._chunker = nltk.RegexpParser(GRAMMAR)
        self._lemmatizer = nltk_resources.get_lemmatizer()
        self._cache: dict[str, tuple[Phrase, ...]] = {}
        self._noun_cache: dict[tuple[tuple[str, ...], str], str | None] = {}

    def __repr__(self) -> str:
        return f"CaptionParser(negation={self.config.negation!r})"

    # ------------------------------------------------------------------------------ public API
    def parse(self, text: str) -> list[Phrase]:
        """Phrases of one caption (possibly several sentences), in text order, each once."""
        return self.parse_many([text])[0]

    def parse_many(
        self, texts: Sequence[str], progress: bool = False, workers: int | None = 1
    ) -> list[list[Phrase]]:
        """Phrases for each caption; identical sentences are parsed once, tagging is batched.

        ``workers``: processes for large inputs. With more than :data:`PARALLEL_MIN_SENTENCES`
        sentences still to parse and ``workers`` > 1 (``None``: one per usable CPU), the unique
        sentences are split across a :class:`multiprocessing.Pool` whose workers each build one
        parser (the NLTK data is loaded once per worker; with the ``fork`` start method they
        inherit it). Workers are forked when this process has a single thread; otherwise (e.g.
        inside a Prefect task) they are spawned, and only for more than
        :data:`SPAWN_MIN_SENTENCES` sentences. The output is the same as with ``workers=1``; if the pool cannot run, the
        parse falls back to this process.
        """
        per_text: list[list[str]] = []
        todo: dict[str, None] = {}
        cache = self._cache
        for text in texts:
            try:
                sents = _split_sentences(_normalise(text))
            except Exception:  # never let one odd caption fail a batch
                log.debug("caption normalisation failed for %r", text, exc_info=True)
                sents = []
            per_text.append(sents)
            for s in sents:
                if s not in cache:
                    todo[s] = None
        fresh: dict[str, tuple[Phrase, ...]] = {}
        if todo:
            sentences = list(todo)
            n_workers = _resolve_workers(workers, len(sentences))
            context = None
            if n_workers > 1:
                try:
                    context = _mp_context()
                except Exception as exc:  # pragma: no cover - platform without multiprocessing
                    log.warning("no multiprocessing here (%s); parsing in this process", exc)
            if context is not None and context.get_start_method() != "fork" \
                    and len(sentences) <= SPAWN_MIN_SENTENCES:
                context = None  # spawned workers load the NLTK data (~3 s): not worth it here
            if context is not None:
                fresh = self._parse_parallel(sentences, n_workers, progress, context)
            else:
                fresh = self._parse_sentences(sentences, progress)
            for s, phrases in fresh.items():
                self._store(s, phrases)
        out: list[list[Phrase]] = []
        for sents in per_text:
            seen: dict[Phrase, None] = {}
            for s in sents:
                hit = fresh.get(s)
                if hit is None:
                    hit = cache.get(s, ())
                for p in hit:
                    seen.setdefault(p, None)
            out.append(list(seen))
        return out

    # -------------------------------------------------------------------------------- batching
    def _parse_sentences(
        self, sentences: list[str], progress: bool
    ) -> dict[str, tuple[Phrase, ...]]:
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(sentences), desc="parsing captions", unit="sent")
        out: dict[str, tuple[Phrase, ...]] = {}
        try:
            for start in range(0, len(sentences), _TAG_BATCH):
                batch = sentences[start : start + _TAG_BATCH]
                for s, phrases in zip(batch, self._parse_batch(batch)):
                    out[s] = phrases
                if bar is not None:
                    bar.update(len(batch))
        finally:
            if bar is not None:
                bar.close()
        return out

    def _parse_batch(self, batch: list[str]) -> list[tuple[Phrase, ...]]:
        """Phrases of each sentence of ``batch`` (tokenised and tagged together)."""
        pieces_per_sent = []
        flat: list[list[str]] = []
        for s in batch:
            try:
                pieces = _tokenize(s)
            except Exception:
                pieces = []
            pieces_per_sent.append(len(pieces))
            flat.extend(pieces)
        tagged = self._tag(flat)
        results = []
        k = 0
        for n in pieces_per_sent:
            phrases: list[Phrase] = []
            for piece in tagged[k : k + n]:
                phrases.extend(self._analyse(piece))
            k += n
            if self.config.negation == "drop":
                phrases = [p for p in phrases if not p.negated]
            results.append(tuple(dict.fromkeys(phrases)))
        return results

    def _parse_parallel(
        self, sentences: list[str], n_workers: int, progress: bool, context
    ) -> dict[str, tuple[Phrase, ...]]:
        size = max(500, min(_TAG_BATCH, -(-len(sentences) // (4 * n_workers))))
        batches = [sentences[i : i + size] for i in range(0, len(sentences), size)]
        out: dict[str, tuple[Phrase, ...]] = {}
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(sentences), desc=f"parsing captions ({n_workers} processes)",
                       unit="sent")
        try:
            with context.Pool(
                n_workers, initializer=_init_worker, initargs=(self.config, self.engine)
            ) as pool:
                for batch, results in zip(batches, pool.imap(_worker_parse, batches)):
                    out.update(zip(batch, results))
                    if bar is not None:
                        bar.update(len(batch))
        except Exception as exc:  # no pool here (sandbox, no /dev/shm, ...): do it in-process
            log.warning("parallel caption parsing failed (%s); parsing in this process", exc)
            rest = [s for s in sentences if s not in out]
            out.update(self._parse_sentences(rest, False))
        finally:
            if bar is not None:
                bar.close()
        return out

    def _store(self, sentence: str, phrases: tuple[Phrase, ...]) -> None:
        if len(self._cache) >= _CACHE_MAX:
            # drop the oldest quarter (dicts keep insertion order)
            for key in list(self._cache)[: _CACHE_MAX // 4]:
                del self._cache[key]
        self._cache[sentence] = phrases

    def _tag(self, token_lists: list[list[str]]) -> list[list[tuple[str, str]]]:
        try:
            return self._tagger.tag_sents(token_lists)
        except Exception:
            out = []
            for toks in token_lists:
                try:
                    out.append(self._tagger.tag(toks))
                except Exception:
                    log.debug("tagging failed for %r", toks, exc_info=True)
                    out.append([])
            return out

    # ----------------------------------------------------------------------- one tagged piece
    def _analyse(self, tagged: list[tuple[str, str]]) -> list[Phrase]:
        if not tagged:
            return []
        try:
            retagged = self._retag(tagged)
            if not any(t in _MOD_TAGS for _, t in retagged):
                return []  # every phrase needs a modifier: skip the chunker
            tree = self._chunker.parse(retagged)
            return self._extract(tree)
        except Exception:  # robustness: a parse problem loses one sentence, never the batch
            log.debug("chunking failed for %r", tagged, exc_info=True)
            return []

    def _retag(self, tagged: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Apply the lexicon to tagger output; returns (canonical word, tag) pairs."""
        tagged = self._expand_part_adjectives(tagged)
        n = len(tagged)
        words = [w for w, _ in tagged]
        tags = [t for _, t in tagged]
        kind: list[str | None] = [None] * n  # COL / AMB / PAT / NEG / BE / WDT / SHADE / INT / FILL
        canon: list[str | None] = [None] * n
        for i, (w, t) in enumerate(tagged):
            if w in lx.NEGATION_CUES:
                kind[i] = "NEG"
                continue
            c = lx.canonical_colour(w)
            if c is None and t == "NN" and i + 1 < n and words[i + 1] in _COLORED \
                    and self._colour_noun(w):
                c = w  # 'a caramel colored dog': the noun names the colour
            if c is not None:
                ambiguous = all(
                    lx.base_colour(p) in lx.AMBIGUOUS_COLOURS
                    for p in c.split(" ")[-1].split("-")
                )
                kind[i], canon[i] = ("AMB" if ambiguous else "COL"), c
            elif w in lx.MODIFIER_CANON:
                kind[i], canon[i] = "PAT", lx.MODIFIER_CANON[w]
            elif w in lx.SHADES:
                kind[i] = "SHADE"
                if t in _NOUN_TAGS and w in _SHADE_ADJECTIVES and i + 1 < n \
                        and tags[i + 1] in _NOUN_TAGS:
                    tags[i] = "JJ"  # 'a long dark/NN beak': an adjective before a noun
            elif w in lx.INTENSIFIERS:
                kind[i] = "INT"
            elif w in lx.COLOUR_FILLERS:
                kind[i] = "FILL"
            elif w in lx.BE_WORDS and (w != "'s" or t == "VBZ"):
                kind[i] = "BE"
            elif w in _RELATIVE and i > 0 and tags[i - 1] in _NOUN_TAGS:
                kind[i] = "WDT"
            elif t in _NOUN_TAGS and w in lx.NOT_NOUNS:
                tags[i] = "RB"  # 'swimming towards/NNS'
            elif t == "NN" and i + 1 < n and tags[i + 1] in _NOUN_TAGS \
                    and self._adjective_not_noun(w):
                tags[i] = "JJ"  # 'a snowy/NN hill': an adjective WordNet has no noun for
            elif t == "JJ" and self._noun_not_adjective(w):
                tags[i] = "NN"  # 'while dog/JJ sits': the tagger's JJ on a plain noun
            elif t == "JJ" and "-" in w and self._hyphenated_noun(w):
                tags[i] = "NN"  # 'a spider-man/JJ outfit', 't-shirt': a hyphenated noun
            elif t == "VBN" and self._after_copula(i, kind, tags):
                tags[i] = "PASS"  # 'the picture was taken outdoors': passive verb, no modifier
            elif t not in _NOUN_TAGS and (
                i == 0 or kind[i - 1] in _LEXICAL_MODS or tags[i - 1] not in _NO_NOUN_AFTER
            ):
                # body-part nouns the tagger reads as adverbs/verbs ('belly' RB, 'wing' VBG)
                if w in lx.PART_WORDS:
                    tags[i] = "NN"
                elif w.endswith("s") and self._lemma(w, "NNS") in lx.PART_WORDS:
                    tags[i] = "NNS"
        # ambiguous colour names: colours only in colour context
        for i in range(n):
            if kind[i] != "AMB":
                continue
            prev_k = kind[i - 2] if i >= 2 and words[i - 1] in ("and", "or", ",") else (
                kind[i - 1] if i >= 1 else None)
            next_k = kind[i + 2] if i + 2 < n and words[i + 1] in ("and", "or", ",") else (
                kind[i + 1] if i + 1 < n else None)
            j = i + 1
            while j < n and kind[j] == "FILL":  # 'cream colored belly'
                j += 1
            next_part = (
                j < n and tags[j] in _NOUN_TAGS
                and self._lemma(words[j], tags[j]) in lx.PART_WORDS
            )
            if tags[i] == "JJ" or "COL" in (prev_k, next_k) or next_part:
                kind[i] = "COL"
            else:
                kind[i], canon[i] = None, None
        # merge: shade + colour, colour + colour (hedged compound); drop fillers after colours
        out: list[list] = []  # [word, tag, kind]
        i = 0
        while i < n:
            k = kind[i]
            if k == "SHADE" and i + 1 < n and kind[i + 1] == "COL" and " " not in canon[i + 1]:
                out.append([f"{words[i]} {canon[i + 1]}", "COL", "COL", i + 1])
                i += 2
                continue
            if k == "COL":
                prev = out[-1] if out else None
                if (
                    prev is not None and prev[2] == "COL" and prev[3] == i - 1
                    and _mergeable(prev[0], canon[i])
                ):
                    prev[0] = f"{prev[0]}-{canon[i]}"
                    prev[3] = i
                    i += 1
                    continue
                out.append([canon[i], "COL", "COL", i])
                i += 1
                continue
            if k == "FILL" and out and out[-1][2] == "COL":
                i += 1
                continue
            if k == "PAT":
                out.append([canon[i], "PAT", "PAT"])
            elif k in ("NEG", "BE", "WDT"):
                out.append([words[i], k, k])
            else:
                out.append([words[i], tags[i], k])
            i += 1
        # intensifiers: only in front of a modifier (right-to-left so chains work); elsewhere
        # the tagger's reading stands, with the JJ → NN repair ('a snow/JJ valley')
        next_tag = None
        for item in reversed(out):
            if item[2] == "INT":
                if next_tag in ("COL", "PAT", "INT") or (
                    item[0] in lx.ADVERB_INTENSIFIERS and next_tag in ("JJ", "VBN")
                ):
                    item[1] = "INT"
                elif item[1] == "JJ" and self._noun_not_adjective(item[0]):
                    item[1] = "NN"
            next_tag = item[1]
        return [(item[0], item[1]) for item in out]

    def _expand_part_adjectives(self, tagged: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """'long-tailed' / 'dark haired' / 'yellow-billed' (a modifier + a body-part noun + -ed)
        describe the part, not the noun they precede: the modifier and the part noun are moved
        in front of the noun phrase's other modifiers and closed with a separator, so
        'a small brown long-haired dog' reads 'a long hair | small brown dog' (long hair,
        small dog, brown dog). Also joins 'multi colored' into 'multicolored'."""
        if not any(w.endswith("ed") for w, _ in tagged):
            return tagged
        out: list[tuple[str, str]] = []
        for w, t in tagged:
            if w in _COLORED and out and out[-1][0] == "multi":
                out[-1] = ("multicolored", "JJ")
                continue
            noun = _part_of_ed(w)
            unit = None  # the modifier tokens that describe the part
            if noun is not None:
                if "-" in w:
                    mods = w.split("-")[:-1]
                    if mods and all(self._modifier_word(m) for m in mods):
                        unit = [(m, "JJ") for m in mods]
                elif out and t in ("VBN", "VBD", "JJ") and self._modifier_word(*out[-1]):
                    k = len(out) - 1
                    if lx.canonical_colour(out[k][0]) is not None:  # 'light brown', 'blue grey'
                        while k > 0 and (lx.canonical_colour(out[k - 1][0]) is not None
                                         or out[k - 1][0] in lx.SHADES):
                            k -= 1
                    unit = [(x, "JJ") for x, _ in out[k:]]
                    del out[k:]
            if unit is None:
                out.append((w, t))
                continue
            # insert before the modifiers the noun phrase already has ('small brown')
            k = len(out)
            while k > 0 and (
                out[k - 1][1] in ("CC", ",", "RB")
                or out[k - 1][0] in lx.INTENSIFIERS or out[k - 1][0] in lx.COLOUR_FILLERS
                or self._modifier_word(*out[k - 1])
            ):
                k -= 1
            out[k:k] = [*unit, (noun, "NN"), _SEP]
        return out

    def _modifier_word(self, word: str, tag: str | None = None) -> bool:
        """A colour, lexicon modifier, shade, or an adjective (by tag or WordNet)."""
        if not word or word in self.config.stop_modifiers or word in _NUMBER_WORDS:
            return False
        if lx.canonical_colour(word) is not None or word in lx.MODIFIER_CANON or word in lx.SHADES:
            return True
        if tag is not None and tag != "NN":
            return tag == "JJ"
        return word.isalpha() and self._lemmatizer.known(word, "a")

    def _colour_noun(self, word: str) -> bool:
        """Whether a noun before 'colored' names the colour ('caramel', 'rainbow', 'rust')."""
        return (
            word.isalpha() and len(word) > 2
            and word not in self.config.stop_modifiers and word not in self.config.stop_nouns
            and word not in lx.PART_WORDS and word not in _ED_PART_NOUNS
        )

    def _hyphenated_noun(self, word: str) -> bool:
        """'spider-man', 'shoe-shine', 't-shirt': noun-noun (a noun, then a word WordNet knows
        only as a noun); not 'multi-print' or 'off-road', which modify."""
        first, _, last = word.partition("-")
        last = last.rpartition("-")[2]
        return (
            first.isalpha() and self._lemmatizer.known(first, "n")
            and not self._lemmatizer.known(first, "a") and self._noun_not_adjective(last)
        )

    def _adjective_not_noun(self, word: str) -> bool:
        lem = self._lemmatizer
        return word.isalpha() and lem.known(word, "a") and not lem.known(word, "n")

    @staticmethod
    def _after_copula(i: int, kind: list, tags: list) -> bool:
        """Whether token ``i`` follows a copula, with only adverbs/negations between."""
        j = i - 1
        while j >= 0 and (kind[j] in ("NEG", "INT") or tags[j] in ("RB", "RBR", "RBS")):
            j -= 1
        return j >= 0 and kind[j] == "BE"

    # --------------------------------------------------------------------------- extraction
    def _extract(self, tree) -> list[Phrase]:
        from nltk import Tree

        nodes = list(tree)
        out: list[Phrase] = []
        pending_neg = False
        for i, node in enumerate(nodes):
            if isinstance(node, Tree):
                label = node.label()
                if label == "NP":
                    if self._is_clothing_colour(node, nodes[i - 1] if i else None):
                        continue
                    out.extend(self._np_phrases(node, pending_neg))
                elif label == "PRED":
                    out.extend(self._pred_phrases(node, nodes, i, pending_neg))
                elif label == "ADJS":
                    # 'white with black on its wings and tail' → black wing, black tail
                    for noun in self._located_parts(nodes, i + 1):
                        for m, t, mneg in self._modifiers(node):
                            if t in ("COL", "PAT"):
                                out.append(Phrase(m, noun, pending_neg or mneg))
                    if any(t == "NEG" for _, t in node.leaves()):
                        pending_neg = True
                    continue
                if label in ("NP", "PRED"):
                    nxt = nodes[i + 1] if i + 1 < len(nodes) else None
                    keep = (
                        pending_neg and not isinstance(nxt, Tree) and nxt is not None
                        and nxt[1] == "CC" and nxt[0] in ("or", "nor")
                    )
                    pending_neg = keep
            else:
                word, tag = node
                if tag == "NEG":
                    pending_neg = True
                elif tag in _NEG_BREAK_TAGS or (tag == "CC" and word not in ("or", "nor")):
                    pending_neg = False
        return out

    def _located_parts(self, nodes, j: int) -> list[str]:
        """Body-part nouns of 'on <NP>' at ``nodes[j]`` when that NP has no modifier of its own
        and names only body parts ('on its wings and tail' → [wing, tail]); else []."""
        from nltk import Tree

        if j + 1 >= len(nodes):
            return []
        prep, np = nodes[j], nodes[j + 1]
        if isinstance(prep, Tree) or prep[0] not in _LOCATIVE_PREPS \
                or not isinstance(np, Tree) or np.label() != "NP":
            return []
        np_neg, mods, nouns, split = self._np_parts(np)
        parts = nouns[:split]
        if np_neg or mods or not parts or any(nn is None or nn not in lx.PART_WORDS for nn in parts):
            return []
        return list(dict.fromkeys(parts))

    def _is_clothing_colour(self, np, prev) -> bool:
        """'a man in red lays on ...': 'in' + bare colour + a verb the tagger read as a plural
        noun. The colour is the noun (clothing); there is no attribute."""
        from nltk import Tree

        if prev is None or isinstance(prev, Tree) or prev[0] != "in":
            return False
        leaves = np.leaves()
        nouns = [(w, t) for w, t in leaves if t in _NOUN_TAGS]
        return (
            len(nouns) == 1 and nouns[0][1] == "NNS"
            and all(t in ("COL", "NNS", "CC", ",") for _, t in leaves)
            and self._lemmatizer.verb_dominant(nouns[0][0], factor=3)  # not 'in pink dresses'
        )

    def _np_parts(self, np):
        """(NP-level negation, [(modifier, tag, negated)], [noun string per noun group], split).

        ``split`` is the index of the first coordinated noun group that is a noun phrase of its
        own (a bare plural after a singular determiner: in "a black beak and wings" the "a" and
        the "black" belong to "beak" only); ``len(nouns)`` when there is none.
        """
        from nltk import Tree

        np_neg = False
        singular_det = False
        mods: list[tuple[str, str, bool]] = []
        groups: list[list[tuple[str, str]]] = [[]]
        for child in np:
            if isinstance(child, Tree):  # ADJS
                mods = self._modifiers(child)
            else:
                w, t = child
                if t == "NEG":
                    np_neg = True
                elif t in _NOUN_TAGS:
                    groups[-1].append((w, t))
                elif t == "CC" and groups[-1]:
                    groups.append([])
                elif w in _SINGULAR_DETS:
                    singular_det = True
        groups = [g for g in groups if g]
        head = groups[0] if groups else []
        if (
            singular_det and len(head) == 1 and head[0][1] == "NNS"
            and self._lemmatizer.verb_dominant(head[0][0], factor=2)
        ):
            # 'a woman wearing a blue uniform stands': 'a' + plural = a verb misread as noun;
            # then the last modifier, if WordNet knows it as a noun, is the real head.
            groups = groups[1:]
            singular_det = False
            if mods and not groups and mods[-1][1] == "JJ" and self._lemmatizer.known(mods[-1][0]):
                groups = [[(mods[-1][0], "NN")]]
                mods = mods[:-1]
        nouns = [self._noun(g) for g in groups]
        split = len(nouns)
        if singular_det and groups and groups[0][-1][1] == "NN":
            split = next((k for k in range(1, len(groups)) if groups[k][-1][1] == "NNS"), split)
        return np_neg, mods, nouns, split

    def _modifiers(self, adjs) -> list[tuple[str, str, bool]]:
        stop = self.config.stop_modifiers
        out = []
        neg = False
        for w, t in adjs.leaves():
            if t == "NEG":
                neg = True
            elif t == "CC" and w == "but":
                neg = False
            elif t in _MOD_TAGS:
                if w in stop or not _WORDLIKE_RE.match(w) or len(w) < 2:
                    continue
                out.append((w, t, neg))
        return out

    def _np_phrases(self, np, outer_neg: bool, own_last: bool = False) -> list[Phrase]:
        """Phrases of an NP's own modifiers. ``own_last``: the last noun group is a noun phrase
        of its own (it heads a relative clause), so the modifiers do not reach it."""
        np_neg, mods, nouns, split = self._np_parts(np)
        if not mods or not nouns or nouns[0] is None:
            return []
        if own_last and len(nouns) > 1:
            split = min(split, len(nouns) - 1)
        neg0 = outer_neg or np_neg
        targets = [nouns[0]]
        if nouns[0] in lx.PART_WORDS:
            targets += [nn for nn in nouns[1:split] if nn is not None and nn in lx.PART_WORDS]
        return [
            Phrase(m, noun, neg0 or mneg)
            for noun in dict.fromkeys(targets)
            for m, _, mneg in mods
        ]

    def _pred_phrases(self, pred, nodes, i: int, outer_neg: bool) -> list[Phrase]:
        from nltk import Tree

        children = list(pred)
        subject = children[0]
        relative = any(not isinstance(c, Tree) and c[1] in ("WDT", "WP") for c in children)
        plural_verb = any(
            not isinstance(c, Tree) and c[1] == "BE" and c[0] in _PLURAL_BE for c in children
        )
        prev = nodes[i - 1] if i > 0 else None
        np_neg, mods, nouns, split = self._np_parts(subject)
        if relative and len(nouns) > 1 and not (
            plural_verb and split == len(nouns)
            and all(nn in lx.PART_WORDS for nn in nouns)
            and (not mods or self._singular_last(subject))
        ):
            # 'a yellow beak and wings that are blue': the relative clause describes the noun
            # right before it, which is then a noun phrase of its own. A coordination of part
            # nouns shares it only with a plural verb, and then only when it is bare ('crown and
            # wings that are red') or the verb agrees with the coordination alone ('a red crown
            # and nape that are spotted': 'nape ... are').
            out = self._np_phrases(subject, outer_neg, own_last=True)
            nouns = nouns[-1:]
        else:
            out = self._np_phrases(subject, outer_neg)
        if not relative and prev is not None and not isinstance(prev, Tree):
            if prev[0] == "of" and i >= 2 and isinstance(nodes[i - 2], Tree) \
                    and nodes[i - 2].label() == "NP":
                _, _, head_nouns, _ = self._np_parts(nodes[i - 2])
                if any(nn is not None for nn in head_nouns):
                    nouns = head_nouns
            elif prev[1] in _NOT_SUBJECT_BEFORE and prev[0] not in _CLAUSE_STARTERS:
                return out
            elif plural_verb and prev[0] in ("and", ","):
                # 'the crown and the tail are black': the subject is the coordination
                for np in self._coordinated_subjects(nodes, i):
                    nouns = [*self._np_parts(np)[2], *nouns]
        located = False
        if not relative and not any(nn is not None for nn in nouns):
            # 'the bird is black on its wings': the colour is located on the parts
            parts = self._located_parts(nodes, i + 1)
            if parts:
                nouns, located = parts, True
        adjs = children[-1]
        pred_neg = outer_neg or np_neg or any(
            not isinstance(c, Tree) and c[1] == "NEG" for c in children[1:-1]
        )
        mods = [
            (m, mneg) for m, t, mneg in self._modifiers(adjs)
            if t != "VBN"  # passive voice ('is covered in'), not an attribute
            and (not located or t in ("COL", "PAT"))
        ]
        for noun in dict.fromkeys(nn for nn in nouns if nn is not None):
            for m, mneg in mods:
                out.append(Phrase(m, noun, pred_neg or mneg))
        return out

    @staticmethod
    def _singular_last(np) -> bool:
        """Whether the last noun of the NP is singular."""
        tags = [t for _, t in np.leaves() if t in _NOUN_TAGS]
        return bool(tags) and tags[-1] == "NN"

    @staticmethod
    def _coordinated_subjects(nodes, i: int) -> list:
        """NPs coordinated with the subject NP of the PRED at ``nodes[i]`` ('the crown and the
        tail are black'), nearest first. Walks back over 'and' / ',' / ', and' links while the
        NP there is definite ('the', 'its', ...) or starts the sentence; the chain counts only if
        its first NP is not the object of a verb or preposition ('it has the crown and ...')."""
        from nltk import Tree

        chain: list = []
        j = i - 1
        while True:
            k = j
            while k >= 0 and not isinstance(nodes[k], Tree) and nodes[k][0] in (",", "and"):
                k -= 1
            if k == j or k < 0 or j - k > 2 or not isinstance(nodes[k], Tree) \
                    or nodes[k].label() != "NP":
                break
            if not chain and nodes[j][0] != "and":
                break  # 'the crown, the tail are ...': no coordination
            first = nodes[k].leaves()[0][0]
            if first not in _DEFINITE_DETS and k > 0:
                break
            chain.append(nodes[k])
            j = k - 1
        if chain and j >= 0:
            before = nodes[j]
            if isinstance(before, Tree) or (
                before[1] in _NOT_SUBJECT_BEFORE and before[0] not in _CLAUSE_STARTERS
            ):
                return []
        return chain

    # --------------------------------------------------------------------------------- nouns
    def _noun_not_adjective(self, word: str) -> bool:
        lem = self._lemmatizer
        return (
            word.isalpha() and lem.known(word, "n") and not lem.known(word, "a")
        )

    def _lemma(self, word: str, tag: str) -> str:
        if word in lx.PLURALIA_TANTUM:
            return word
        irregular = lx.IRREGULAR_PLURALS.get(word)
        if irregular is not None:
            return irregular
        if "-" in word:
            head, _, last = word.rpartition("-")
            return f"{head}-{self._lemma(last, tag)}" if last else word
        if tag == "NNS":
            lemma = self._lemmatizer.lemmatize_plural(word)
        else:
            lemma = self._lemmatizer.lemmatize(word, "n")
        if lemma == word and tag == "NNS" and len(word) > 3 and word.endswith("s") \
                and not word.endswith(("ss", "us", "is")) \
                and not self._lemmatizer.known(word):
            if word.endswith("ies"):
                return word[:-3] + "y"
            if word.endswith(("ches", "shes", "xes", "sses")):
                return word[:-2]
            return word[:-1]
        return lemma

    def _noun(self, group: list[tuple[str, str]]) -> str | None:
        key = (tuple(w for w, _ in group), group[-1][1])
        if key in self._noun_cache:
            return self._noun_cache[key]
        result = self._noun_uncached(group)
        if len(self._noun_cache) < 100_000:
            self._noun_cache[key] = result
        return result

    def _noun_uncached(self, group: list[tuple[str, str]]) -> str | None:
        if not _WORDLIKE_RE.match(group[-1][0]):
            return None
        group = [(w, t) for w, t in group if _WORDLIKE_RE.match(w)]
        # 'a black dog jumps' / 'a dog running': the tagger often reads the verb after a noun
        # as a plural noun or a gerund noun; drop it when WordNet says it is mostly a verb.
        # Inside the group a singular noun + such a verb ends it ('a drummer plays music').
        for k in range(1, len(group) - 1):
            if group[k][1] == "NNS" and group[k - 1][1] == "NN" \
                    and self._lemmatizer.verb_dominant(group[k][0], factor=2):
                group = group[:k]
                break
        while len(group) >= 2:
            w, t = group[-1]
            gerund = w.endswith("ing") and w not in self._lemmatizer.lemmas(w, "v")  # not 'ring'
            if (t == "NNS" and self._lemmatizer.verb_dominant(w, factor=2)) or (
                gerund and self._lemmatizer.verb_dominant(w, factor=3)  # 'brick building'
            ):
                group = group[:-1]
            else:
                break
        words = [w for w, _ in group]
        words[-1] = self._lemma(words[-1], group[-1][1])
        syn = self.config.synonyms
        stop = self.config.stop_nouns
        if len(words) >= 2:
            pair = f"{words[-2]} {words[-1]}"
            if pair in syn:
                words = words[:-2] + [syn[pair]]
        words = [syn.get(w, w) for w in words]
        words = [w for w in words if w not in stop and w not in ("'s",)]
        if not words:
            return None
        noun = " ".join(words[-2:])
        return syn.get(noun, noun)


def _mergeable(prev_colour: str, colour: str) -> bool:
    """Two adjacent colours form one hedged compound (see lexicon policy)."""
    if " " in colour or "-" in prev_colour:  # shade on the second, or already a compound
        return False
    prev_hue = prev_colour.split(" ")[-1]
    hues = {prev_hue, *colour.split("-")}
    return not (hues & lx.ACHROMATIC_LIST_COLOURS) and prev_hue != colour


# ------------------------------------------------------------------------ process pool helpers
#: Below this many sentences to parse, ``parse_many`` stays in one process whatever ``workers``.
PARALLEL_MIN_SENTENCES = 5000
#: ... and this many when the workers must be spawned (they load the NLTK data, ~3 s each).
SPAWN_MIN_SENTENCES = 30_000

_WORKER_PARSER: CaptionParser | None = None


def _usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _resolve_workers(workers: int | None, n_sentences: int) -> int:
    if workers is None:
        workers = _usable_cpus()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be None or an integer >= 1, got {workers!r}")
    if n_sentences <= PARALLEL_MIN_SENTENCES:
        return 1
    return min(workers, max(1, n_sentences // 1000))


def _mp_context():
    """``fork`` (workers inherit the loaded tagger) when this process has a single thread;
    otherwise ``spawn``, because forking a multi-threaded process (a Prefect worker) can
    deadlock. Spawned workers load the NLTK data once each."""
    import multiprocessing as mp
    import threading

    if "fork" in mp.get_all_start_methods() and threading.active_count() == 1:
        return mp.get_context("fork")
    return mp.get_context("spawn")


def _init_worker(config: ParserConfig, engine: str) -> None:
    global _WORKER_PARSER
    _WORKER_PARSER = CaptionParser(config, engine=engine)


def _worker_parse(batch: list[str]) -> list[tuple[Phrase, ...]]:
    assert _WORKER_PARSER is not None, "worker not initialised"
    return _WORKER_PARSER._parse_batch(batch)
