"""Exact, faster stand-ins for the two NLTK components the caption parser runs per sentence.

* :class:`FastPerceptronTagger` tags exactly like :meth:`nltk.tag.PerceptronTagger.tag` with the
  same model (same tag dictionary, same features, same weights, same tie-break), but scores a
  token with one NumPy reduction over a dense copy of the weights instead of Python dict loops,
  and memoises the prediction for a repeated context (the features depend only on the word, a
  five-word window and the two previous tags). The per-label sums are added in NLTK's feature
  order, so the scores are bit-identical and so is every tag.
* :class:`FastRegexpChunker` runs a cascade of chunk rules (``LABEL: {<tag pattern>}``, the
  only rule kind :data:`filterspeak.captions.grammar.GRAMMAR` uses) exactly like
  :class:`nltk.RegexpParser`: same tag-pattern → regex translation
  (:func:`nltk.chunk.regexp.tag_pattern2re_pattern`), same left-to-right non-overlapping matches
  on the ``<TAG><TAG>…`` string, same :class:`nltk.Tree` output. It skips NLTK's per-call
  string verification and its timed ``regex`` wrapper, which cost most of the chunking time.
  Sentences it cannot handle (a tag containing ``<>{}``) go to the NLTK parser.

``tests/captions/test_fast_nltk.py`` checks both against NLTK on real captions.
"""

from __future__ import annotations

import re
import threading

import numpy as np

__all__ = ["FastPerceptronTagger", "FastRegexpChunker"]

_MEMO_MAX = 500_000
_add_reduce = np.add.reduce


class FastPerceptronTagger:
    """``tag`` / ``tag_sents`` of an NLTK :class:`~nltk.tag.PerceptronTagger`, faster, same output."""

    def __init__(self, tagger):
        self.tagger = tagger
        self.tagdict = tagger.tagdict
        self.START = list(tagger.START)
        self.END = list(tagger.END)
        weights = tagger.model.weights
        # Columns in descending label order: np.argmax returns the first maximum, i.e. the
        # largest label among equal scores, which is NLTK's max(key=(score, label)) tie-break.
        labels = sorted(set(tagger.model.classes), reverse=True)
        column = {label: j for j, label in enumerate(labels)}
        self._labels = labels
        self._index: dict[str, int] = {}
        rows, cols, vals = [], [], []
        for i, (feature, by_label) in enumerate(weights.items()):
            self._index[feature] = i
            for label, weight in by_label.items():
                j = column.get(label)
                if j is None:  # a weight for a label outside `classes`: NLTK never picks it
                    continue
                rows.append(i)
                cols.append(j)
                vals.append(weight)
        # one extra all-zero row for features the model does not know (NLTK skips them; adding
        # 0.0 leaves every sum unchanged)
        self._unknown = len(weights)
        matrix = np.zeros((len(weights) + 1, len(labels)), dtype=np.float64)
        matrix[np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)] = np.asarray(vals, dtype=np.float64)
        self._weights = matrix
        self._memo: dict[tuple, str] = {}

    # NLTK's PerceptronTagger.normalize
    @staticmethod
    def normalize(word: str) -> str:
        if "-" in word and word[0] != "-":
            return "!HYPHEN"
        if word.isdigit() and len(word) == 4:
            return "!YEAR"
        if word and word[0].isdigit():
            return "!DIGITS"
        return word.lower()

    def tag_sents(self, sentences):
        return [self.tag(tokens) for tokens in sentences]

    def tag(self, tokens):
        tagdict = self.tagdict
        memo = self._memo
        norm = self.normalize
        context = self.START + [norm(w) for w in tokens] + self.END
        prev, prev2 = self.START
        output = []
        for i, word in enumerate(tokens):
            tag = tagdict.get(word)
            if not tag:
                c = i + 2
                key = (word, prev, prev2, context[c - 2], context[c - 1], context[c], context[c + 1], context[c + 2])
                tag = memo.get(key)
                if tag is None:
                    tag = self._predict(word, context, c, prev, prev2)
                    if len(memo) < _MEMO_MAX:
                        memo[key] = tag
            output.append((word, tag))
            prev2 = prev
            prev = tag
        return output

    def _predict(self, word, context, i, prev, prev2) -> str:
        # the features of nltk PerceptronTagger._get_features, in the same order
        index = self._index
        unknown = self._unknown
        ci = context[i]
        cm1 = context[i - 1]
        cp1 = context[i + 1]
        features = (
            "bias",
            "i suffix " + word[-3:],
            "i pref1 " + (word[0] if word else ""),
            "i-1 tag " + prev,
            "i-2 tag " + prev2,
            "i tag+i-2 tag " + prev + " " + prev2,
            "i word " + ci,
            "i-1 tag+i word " + prev + " " + ci,
            "i-1 word " + cm1,
            "i-1 suffix " + cm1[-3:],
            "i-2 word " + context[i - 2],
            "i+1 word " + cp1,
            "i+1 suffix " + cp1[-3:],
            "i+2 word " + context[i + 2],
        )
        rows = [index.get(f, unknown) for f in features]
        # axis-0 reduction of a C-contiguous block adds the rows one after the other, per
        # column: the same order (and the same float results) as NLTK's dict accumulation
        scores = _add_reduce(self._weights.take(rows, axis=0), axis=0)
        return self._labels[int(scores.argmax())]


_RULE_RE = re.compile(r"^\s*([^:\s]+)\s*:\s*\{(.*)\}\s*$")


class FastRegexpChunker:
    """A cascade of ``LABEL: {<tag pattern>}`` chunk rules, parsed like :class:`nltk.RegexpParser`."""

    def __init__(self, grammar: str, root_label: str = "S"):
        import nltk
        from nltk.chunk.regexp import tag_pattern2re_pattern

        self.reference = nltk.RegexpParser(grammar, root_label=root_label)
        self.root_label = root_label
        stages = []
        for line in grammar.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            match = _RULE_RE.match(line)
            if match is None:
                raise ValueError(f"FastRegexpChunker supports only 'LABEL: {{<tag pattern>}}' rules, got {line!r}")
            label, pattern = match.groups()
            stages.append((label, re.compile(tag_pattern2re_pattern(pattern))))
        self.stages = stages

    def parse(self, tagged):
        from nltk import Tree

        pieces = list(tagged)
        for label, regex in self.stages:
            tags = [p[1] if isinstance(p, tuple) else p.label() for p in pieces]
            text = "<" + "><".join(tags) + ">"
            if "{" in text or "}" in text or text.count("<") != len(tags):
                return self.reference.parse(list(tagged))  # unusual tags: the NLTK way
            starts = {}
            pos = 0
            for k, t in enumerate(tags):
                starts[pos] = k
                pos += len(t) + 2
            starts[pos] = len(tags)
            out = []
            last = 0
            for m in regex.finditer(text):
                a, b = m.span()
                if a == b:
                    continue
                i = starts.get(a)
                j = starts.get(b)
                if i is None or j is None:  # a match not on tag boundaries
                    return self.reference.parse(list(tagged))
                out.extend(pieces[last:i])
                out.append(Tree(label, pieces[i:j]))
                last = j
            if last:
                out.extend(pieces[last:])
                pieces = out
        return Tree(self.root_label, pieces)


_fast_taggers: dict[int, FastPerceptronTagger] = {}
_lock = threading.Lock()


def fast_tagger(tagger) -> FastPerceptronTagger:
    """The process-wide :class:`FastPerceptronTagger` for an NLTK tagger (built once, ~0.1 s)."""
    with _lock:
        hit = _fast_taggers.get(id(tagger))
        if hit is None or hit.tagger is not tagger:
            hit = _fast_taggers[id(tagger)] = FastPerceptronTagger(tagger)
        return hit
