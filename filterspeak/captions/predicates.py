"""Phrases of a PRED chunk ('its breast is yellow', 'wings that are blue'): which nouns the
predicate modifiers describe (docs/captions.md, "Extract": predicates, relative clauses,
coordinated clause subjects, colours located on parts)."""

from __future__ import annotations

from nltk import Tree

from filterspeak.captions import lexicon as lx
from filterspeak.captions.noun_phrases import NounPhraseParts, NounPhraseReader, singular_last
from filterspeak.captions.results import Phrase

__all__ = ["NOT_SUBJECT_BEFORE", "coordinated_subjects", "is_clause_start", "pred_phrases"]

# Copulas that agree with a plural subject.
_PLURAL_BE = frozenset({"are", "were", "'re", "look", "appear", "seem", "become", "remain"})
# Determiners of an NP that may be a coordinated clause subject ('the crown and the tail are').
_DEFINITE_DETS = frozenset({"the", "its", "their", "his", "her", "these", "those", "both"})
# A PRED whose subject NP directly follows one of these is not a clause subject ...
NOT_SUBJECT_BEFORE = frozenset({"IN", "TO", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD", "PASS"})
# ... except these subordinators (tagged IN), which start a clause: 'while the throat is white'.
_CLAUSE_STARTERS = frozenset({"while", "whilst", "whereas", "although", "though", "because", "since", "if", "unless", "until", "once"})


def is_clause_start(before) -> bool:
    """Whether an NP right after the token ``before`` may start a clause (is not the object of a
    verb or preposition); subordinators count as clause starts."""
    return not (before[1] in NOT_SUBJECT_BEFORE and before[0] not in _CLAUSE_STARTERS)


def pred_phrases(reader: NounPhraseReader, pred: Tree, nodes: list, i: int, outer_neg: bool) -> list[Phrase]:
    """Phrases of the PRED at ``nodes[i]``: its subject NP's own phrases, then the predicate
    modifiers paired with every subject noun (nothing when the subject NP is not a clause
    subject: 'a man in a red shirt is happy')."""
    children = list(pred)
    subject = children[0]
    leaves = [c for c in children if not isinstance(c, Tree)]
    relative = any(c[1] in ("WDT", "WP") for c in leaves)
    plural_verb = any(c[1] == "BE" and c[0] in _PLURAL_BE for c in leaves)
    parts = reader.parts(subject)
    nouns = parts.nouns
    if relative and len(nouns) > 1 and not _clause_covers_all(subject, parts, plural_verb):
        # 'a yellow beak and wings that are blue': the relative clause describes the noun right
        # before it, which is then a noun phrase of its own
        out = reader.phrases(subject, outer_neg, own_last=True)
        nouns = nouns[-1:]
    else:
        out = reader.phrases(subject, outer_neg)
    located = False
    if not relative:
        nouns = _clause_subject_nouns(reader, nodes, i, nouns, plural_verb)
        if nouns is None:
            return out
        if not any(nn is not None for nn in nouns):
            # 'the bird is black on its wings': the colour is located on the parts
            located_nouns = reader.located_parts(nodes, i + 1)
            if located_nouns:
                nouns, located = located_nouns, True
    pred_neg = outer_neg or parts.negated or any(not isinstance(c, Tree) and c[1] == "NEG" for c in children[1:-1])
    mods = [
        (m, mneg)
        for m, t, mneg in reader.modifiers(children[-1])
        if t != "VBN"  # passive voice ('is covered in'), not an attribute
        and (not located or t in ("COL", "PAT"))
    ]
    for noun in dict.fromkeys(nn for nn in nouns if nn is not None):
        for m, mneg in mods:
            out.append(Phrase(m, noun, pred_neg or mneg))
    return out


def _clause_covers_all(subject: Tree, parts: NounPhraseParts, plural_verb: bool) -> bool:
    """Whether a relative clause after coordinated nouns describes all of them: only body-part
    nouns with a plural verb, and either bare ('crown and wings that are red') or the verb agrees
    with the coordination alone ('a red crown and nape that are spotted': 'nape ... are')."""
    return (
        plural_verb
        and parts.split == len(parts.nouns)
        and all(nn in lx.PART_WORDS for nn in parts.nouns)
        and (not parts.modifiers or singular_last(subject))
    )


def _clause_subject_nouns(reader: NounPhraseReader, nodes: list, i: int, nouns: list, plural_verb: bool) -> list | None:
    """The nouns a non-relative PRED at ``nodes[i]`` is about, given its subject's ``nouns``;
    None when the subject NP is not a clause subject. 'the color of the crown is red': the
    noun before 'of' (unless a stop noun); 'the crown and the tail are black': the coordination."""
    prev = nodes[i - 1] if i > 0 else None
    if prev is None or isinstance(prev, Tree):
        return nouns
    if prev[0] == "of" and i >= 2 and isinstance(nodes[i - 2], Tree) and nodes[i - 2].label() == "NP":
        head_nouns = reader.parts(nodes[i - 2]).nouns
        return head_nouns if any(nn is not None for nn in head_nouns) else nouns
    if not is_clause_start(prev):
        return None
    if plural_verb and prev[0] in ("and", ","):
        for np in coordinated_subjects(nodes, i):
            nouns = [*reader.parts(np).nouns, *nouns]
    return nouns


def coordinated_subjects(nodes: list, i: int) -> list:
    """NPs coordinated with the subject NP of the PRED at ``nodes[i]`` ('the crown and the
    tail are black'), nearest first. Walks back over 'and' / ',' / ', and' links while the
    NP there is definite ('the', 'its', ...) or starts the sentence; the chain counts only if
    its first NP is not the object of a verb or preposition ('it has the crown and ...')."""
    chain: list = []
    j = i - 1
    while True:
        k = j
        while k >= 0 and not isinstance(nodes[k], Tree) and nodes[k][0] in (",", "and"):
            k -= 1
        if k == j or k < 0 or j - k > 2 or not isinstance(nodes[k], Tree) or nodes[k].label() != "NP":
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
        if isinstance(before, Tree) or not is_clause_start(before):
            return []
    return chain
