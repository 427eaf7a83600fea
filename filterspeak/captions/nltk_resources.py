"""Locate and load the two NLTK resources the caption parser needs, offline.

* ``taggers/averaged_perceptron_tagger_eng`` — the averaged perceptron POS tagger (JSON files),
  loaded into :class:`nltk.tag.PerceptronTagger`.
* ``corpora/wordnet.zip`` (or an unzipped ``corpora/wordnet/``) — WordNet 3.0, used for noun
  lemmatisation exactly as :class:`nltk.stem.WordNetLemmatizer` does it (shortest lemma that
  WordNet's morphy returns, the word itself when WordNet does not know it).

Both ship inside the package, in ``filterspeak/nltk_data/`` (:data:`BUNDLED_DATA`, with their
licence notices), so ``pip install`` is the whole set-up. Nothing here downloads anything:
``nltk.download`` is never called.

Lookup order, per resource (the first folder that has it wins):

1. the entries of the ``NLTK_DATA`` environment variable, as read *at call time* (NLTK itself
   reads the variable once, at import, so a variable set later — by a test fixture or a CLI
   flag — would otherwise be ignored);
2. NLTK's own search path, ``nltk.data.path`` (``~/nltk_data``, ``<venv>/nltk_data``,
   ``/usr/share/nltk_data``, … and whatever the program appended);
3. the copy bundled with FilterSpeak, :data:`BUNDLED_DATA` (skipped when set to ``None``).

So a user's own NLTK data still overrides the bundled copy; the bundled files are byte-identical
to NLTK's releases of these two resources, so results do not depend on which copy is used. The
folders used are put on ``nltk.data.path`` (NLTK's sandbox only reads files under its entries).
When a resource is missing after all, :class:`NltkDataMissing` says in one line which one, where
it was looked for and how to get it back.

Each resource is loaded once per process (:func:`get_tagger`, :func:`get_lemmatizer`, guarded by
a lock); :func:`load_tagger` / :func:`load_lemmatizer` load afresh and are what the cached getters
call. :func:`locate` tells where a resource is found (``python -c "from
filterspeak.captions import nltk_resources as r; print(r.locate())"``).
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from functools import lru_cache
from pathlib import Path

from filterspeak.errors import FilterSpeakError

__all__ = [
    "BUNDLED_DATA",
    "DOWNLOAD_COMMAND",
    "TAGGER_RESOURCE",
    "WORDNET_RESOURCE",
    "NltkDataMissing",
    "WordNetNounLemmatizer",
    "ensure_nltk_data",
    "get_lemmatizer",
    "get_tagger",
    "load_lemmatizer",
    "load_tagger",
    "locate",
    "search_paths",
]

TAGGER_RESOURCE = "taggers/averaged_perceptron_tagger_eng"
WORDNET_RESOURCE = "corpora/wordnet"
DOWNLOAD_COMMAND = "python -m nltk.downloader averaged_perceptron_tagger_eng wordnet"

#: The NLTK data folder shipped inside the package (searched last); ``None`` disables it.
BUNDLED_DATA: Path | None = Path(__file__).resolve().parents[1] / "nltk_data"

_WORDNET_NAMES = [WORDNET_RESOURCE + ".zip/wordnet/", WORDNET_RESOURCE + "/"]

_DESCRIPTIONS = {TAGGER_RESOURCE: "the averaged perceptron part-of-speech tagger", WORDNET_RESOURCE: "WordNet 3.0, used to lemmatise nouns"}


class NltkDataMissing(FilterSpeakError, RuntimeError):
    """An NLTK data resource the caption parser needs is not installed (or not readable).

    Attributes: ``resource`` (e.g. ``'taggers/averaged_perceptron_tagger_eng'``) and
    ``searched`` (the directories that were searched, in order). The message is one line.
    """

    def __init__(self, resource: str, searched: list[str], detail: str | None = None):
        self.resource = resource
        self.searched = list(searched)
        self.detail = detail
        what = _DESCRIPTIONS.get(resource, "an NLTK data package")
        problem = f"is missing or unreadable ({' '.join(detail.split())})" if detail else "is missing"
        where = ", ".join(self.searched) or "(no directories)"
        super().__init__(
            f"NLTK data resource '{resource}' ({what}) {problem}; searched (NLTK_DATA first, then "
            f"NLTK's defaults, then the copy bundled with FilterSpeak): {where}. To fix: reinstall "
            "FilterSpeak (its package ships this data), or set NLTK_DATA to a folder with "
            "taggers/averaged_perceptron_tagger_eng/ and corpora/wordnet.zip, or run (needs "
            f"internet, once): {DOWNLOAD_COMMAND}"
        )

    def __reduce__(self):  # keep it picklable (Prefect, multiprocessing)
        return (type(self), (self.resource, self.searched, self.detail))


def _env_paths() -> list[str]:
    raw = os.environ.get("NLTK_DATA", "")
    return [os.path.expanduser(p) for p in raw.split(os.pathsep) if p.strip()]


def search_paths() -> list[str]:
    """The directories searched, in order: ``$NLTK_DATA`` (read now), ``nltk.data.path``, then
    :data:`BUNDLED_DATA` (when not ``None``, even if it does not exist: it is listed in errors).

    Side effect: the ``NLTK_DATA`` entries are inserted at the front of ``nltk.data.path`` and
    the bundled folder is appended to it (NLTK's sandbox only reads files under the entries of
    that list).
    """
    import nltk.data

    env = _env_paths()
    for p in reversed(env):
        if p not in nltk.data.path:
            nltk.data.path.insert(0, p)
    paths = [str(p) for p in nltk.data.path]
    if BUNDLED_DATA is not None:
        bundled = str(BUNDLED_DATA)
        if bundled not in nltk.data.path:
            nltk.data.path.append(bundled)
        paths = [p for p in paths if p != bundled] + [bundled]
    return paths


# NLTK skips (with this RuntimeWarning) a data folder another account could write to
_REFUSED = re.compile(r"NLTK will not read data from '(.*?)': it is writable by, or owned by, another account")


def _find(resource_names: list[str], main_name: str) -> object:
    """``nltk.data.find`` the first of ``resource_names`` that exists, else NltkDataMissing.

    Folder by folder in :func:`search_paths` order, so that the first folder that has any of
    the names wins (``wordnet.zip`` in NLTK_DATA before an unzipped ``wordnet/`` further down).
    When nothing is found and NLTK refused a folder as writable by others, the error says so.
    """
    import nltk.data

    searched = search_paths()
    refused: list[str] = []
    found = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for folder in searched:
            for name in resource_names:
                try:
                    found = nltk.data.find(name, paths=[folder])
                    break
                except LookupError:
                    continue
                except (OSError, ValueError) as exc:  # found but refused/unreadable
                    raise NltkDataMissing(main_name, searched, detail=str(exc)) from exc
            if found is not None:
                break
    for w in caught:
        hit = _REFUSED.match(str(w.message))
        if hit and found is None:
            if hit.group(1) not in refused:
                refused.append(hit.group(1))
        else:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if found is None:
        detail = None
        if refused:
            detail = (
                f"NLTK refused {', '.join(refused)}: writable by, or owned by, another account; "
                "make it private to its owner with chmod go-w"
            )
        raise NltkDataMissing(main_name, searched, detail=detail)
    return found


def _pointer_path(pointer: object) -> str:
    """A readable location for a path pointer: ``/x/wordnet.zip/wordnet/`` or ``/x/dir``."""
    zip_name = getattr(pointer, "zipfile", None)
    if zip_name is not None:
        return f"{getattr(zip_name, 'filename', zip_name)}/{getattr(pointer, 'entry', '')}"
    return str(getattr(pointer, "path", pointer))


def locate() -> dict[str, str]:
    """Where each resource is found now, ``{resource: location}``; NltkDataMissing if one is not."""
    return {
        TAGGER_RESOURCE: _pointer_path(_find([TAGGER_RESOURCE + "/"], TAGGER_RESOURCE)),
        WORDNET_RESOURCE: _pointer_path(_find(_WORDNET_NAMES, WORDNET_RESOURCE)),
    }


def load_tagger():
    """A freshly loaded :class:`nltk.tag.PerceptronTagger` (English), or NltkDataMissing."""
    from nltk.tag import PerceptronTagger

    loc = _find([TAGGER_RESOURCE + "/"], TAGGER_RESOURCE)
    try:
        tagger = PerceptronTagger(load=False)
        tagger.load_from_json(lang="eng", loc=loc)
    except LookupError as exc:
        raise NltkDataMissing(TAGGER_RESOURCE, search_paths()) from exc
    except (OSError, ValueError, KeyError) as exc:
        raise NltkDataMissing(TAGGER_RESOURCE, search_paths(), detail=str(exc)) from exc
    return tagger


class WordNetNounLemmatizer:
    """``WordNetLemmatizer.lemmatize(word, 'n')`` on an explicitly located WordNet, memoised.

    Same rule as NLTK's lemmatizer: the shortest of WordNet morphy's lemmas, or the word
    unchanged when WordNet has none. (NLTK's class always goes through the global
    ``nltk.corpus.wordnet`` loader; holding our own reader lets us report a missing corpus
    precisely and keeps the lookup cache local.)
    """

    def __init__(self, reader):
        self.reader = reader
        self._lemmas: dict[tuple[str, str], tuple[str, ...]] = {}
        self._verbish: dict[str, tuple[int, int]] = {}
        self._counts: dict[str, int] | None = None

    def lemmas(self, word: str, pos: str = "n") -> tuple[str, ...]:
        """All lemmas WordNet's morphy gives for ``word`` as ``pos`` (empty when unknown)."""
        key = (word, pos)
        hit = self._lemmas.get(key)
        if hit is None:
            try:
                hit = tuple(self.reader._morphy(word, pos))
            except Exception:
                hit = ()
            if len(self._lemmas) < 500_000:
                self._lemmas[key] = hit
        return hit

    def lemmatize(self, word: str, pos: str = "n") -> str:
        """NLTK's rule: the shortest lemma, or ``word`` itself when WordNet has none."""
        lemmas = self.lemmas(word, pos)
        return min(lemmas, key=len) if lemmas else word

    def lemmatize_plural(self, word: str) -> str:
        """For a word tagged as a plural noun: like :meth:`lemmatize` but preferring a lemma
        that differs from the word ('men' → 'man', where WordNet also lists 'men')."""
        lemmas = self.lemmas(word, "n")
        other = [lem for lem in lemmas if lem != word]
        return min(other or lemmas, key=len) if lemmas else word

    def known(self, word: str, pos: str = "n") -> bool:
        """Whether WordNet has any lemma for ``word`` (as a form of ``pos``)."""
        return bool(self.lemmas(word, pos))

    def verb_dominant(self, word: str, factor: float = 1.0) -> bool:
        """True when ``word`` is, by WordNet's SemCor sense counts, more than ``factor`` times
        as often a verb as a noun ('jumps', 'runs', 'jumping' yes; 'feathers', 'bars' no)."""
        counts = self._verb_noun_counts(word)
        return counts[0] > factor * counts[1]

    def _verb_noun_counts(self, word: str) -> tuple[int, int]:
        hit = self._verbish.get(word)
        if hit is not None:
            return hit
        try:
            key_counts = self._key_counts()

            def count(lemma: str, pos: str) -> int:
                # == sum(l.count() for l in ...): Lemma.count() binary-searches cntlist.rev
                # for the sense key on every call; the keys are unique, so a dict is the same
                return sum(key_counts.get(lem.key(), 0) for lem in self.reader.lemmas(lemma, pos))

            verb = max((count(v, "v") for v in self.lemmas(word, "v")), default=0)
            noun = max((count(n, "n") for n in self.lemmas(word, "n")), default=0)
            hit = (verb, noun)
        except Exception:
            hit = (0, 0)
        if len(self._verbish) < 100_000:
            self._verbish[word] = hit
        return hit

    def _key_counts(self) -> dict[str, int]:
        """{sense key: SemCor tag count} from WordNet's ``cntlist.rev`` (read once, ~40k lines)."""
        if self._counts is None:
            counts: dict[str, int] = {}
            stream = self.reader.open("cntlist.rev")
            try:
                text = stream.read()
            finally:
                stream.close()
            for line in text.splitlines():
                key, _, rest = line.partition(" ")
                try:
                    counts.setdefault(key, int(rest.rsplit(" ", 1)[-1]))
                except ValueError:
                    continue
            self._counts = counts
        return self._counts

    def __repr__(self) -> str:
        return f"<WordNetNounLemmatizer root={getattr(self.reader, '_root', '?')}>"


def load_lemmatizer() -> WordNetNounLemmatizer:
    """A freshly loaded WordNet noun lemmatizer, or NltkDataMissing."""
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    root = _find(_WORDNET_NAMES, WORDNET_RESOURCE)
    try:
        with warnings.catch_warnings():
            # "multilingual functions are not available": we pass no OMW reader on purpose.
            warnings.simplefilter("ignore", UserWarning)
            reader = WordNetCorpusReader(root, None)
        lem = WordNetNounLemmatizer(reader)
        lem.lemmatize("wings")  # touch the index now, not in the middle of a parse
    except LookupError as exc:
        raise NltkDataMissing(WORDNET_RESOURCE, search_paths()) from exc
    except (OSError, ValueError, KeyError) as exc:
        raise NltkDataMissing(WORDNET_RESOURCE, search_paths(), detail=str(exc)) from exc
    return lem


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _cached_tagger():
    return load_tagger()


@lru_cache(maxsize=1)
def _cached_lemmatizer():
    return load_lemmatizer()


def get_tagger():
    """The process-wide PerceptronTagger (loaded on first use)."""
    with _lock:
        return _cached_tagger()


def get_lemmatizer() -> WordNetNounLemmatizer:
    """The process-wide WordNet noun lemmatizer (loaded on first use)."""
    with _lock:
        return _cached_lemmatizer()


def ensure_nltk_data() -> None:
    """Load (and cache) both resources now; raises NltkDataMissing naming the first missing."""
    get_tagger()
    get_lemmatizer()
