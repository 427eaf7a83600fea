"""Word lists for the caption parser, and the normalisation policies they encode.

Everything here is lower case. The parser's chunk grammar decides *structure* (which modifier
goes with which noun); this lexicon decides *identity* (is this word a colour, a pattern, an
intensifier, a negation) and *canonical spelling*. Known colour and pattern words are treated as
modifiers whatever the POS tagger says ('orange' and 'grey' are often tagged NN).

Policies
--------
Colours
    * Spelling: ``gray`` → ``grey`` everywhere (also inside compounds: ``blue-gray`` → ``blue-grey``),
      ``blond`` → ``blonde`` (the more frequent spelling in Flickr8k; a hair colour).
      Other words keep the (dominant, US) caption spelling: ``colorful``, ``multicolored``.
    * Hedged ``-ish``/``-y`` colours collapse to their base colour: ``yellowish`` → ``yellow``,
      ``reddish`` → ``red``, ``bluish`` → ``blue``, ``orangey`` → ``orange``.
    * ``<colour>-colored`` / ``-coloured`` / ``-toned`` / ``-tinted`` → the colour
      (``red-colored`` → ``red``); a free-standing ``colored`` right after a colour is dropped
      (``brown colored wings`` → brown wing).
    * Two adjacent colours, written ``a-b`` or ``a b``, form ONE hedged compound modifier
      ``'a-b'`` (``blue grey`` / ``blue-grey`` / ``blue-gray`` → ``'blue-grey'``;
      ``reddish orange`` → ``'red-orange'``), *unless* one of them is black or white: those
      almost always start a list (``black white and grey wings``, ``black-white``), so they stay
      separate modifiers. Word order is kept (``grey-blue`` ≠ ``blue-grey``). At most two hues are
      merged from separate words; a hyphenated token of three hues stays one compound.
    * Shade words :data:`SHADES` (``light``, ``dark``, ``pale``) directly before a colour are kept
      as part of it: ``light brown``, ``dark brown``, ``pale yellow``, ``light blue-grey``
      (they change the colour a person would pick). Alone (``dark wings``) they are ordinary
      adjectives, so ``dark wing`` is still a phrase.
    * Intensifiers :data:`INTENSIFIERS` (``bright``, ``deep``, ``vivid``, ``very``, ``mostly``,
      ``solid``, ...) are dropped when they precede another modifier: ``bright red`` → ``red``,
      ``mostly white`` → ``white``. When they directly precede a noun they are left to the tagger
      (``deep water`` stays a phrase).
    * Some colour names are also common nouns (:data:`AMBIGUOUS_COLOURS`: ``cream``, ``olive``,
      ``gold``, ``rust``, ``lime``, ...). They count as colours when tagged as adjectives, next to
      another colour or a colour conjunction (``cream and brown``), or directly before a body-part
      noun (``buff breast``); otherwise the tagger's reading stands (``olive oil``).
Patterns and shapes
    Pattern words (``striped``, ``spotted``, ``speckled``, ...) and shape/size words (``pointed``,
    ``curved``, ``long``, ``short``, ``small``, ``large``, ...) are modifiers whatever their tag,
    canonicalised (``stripy`` → ``striped``, ``pointy`` → ``pointed``, ``cone-shaped`` →
    ``conical``). **Size words are kept**: CUB's own attribute set has size and bill length, and
    ``long tail`` / ``short beak`` / ``large beak`` are discriminative, so ``a small black striped
    wing`` gives small wing, black wing, striped wing. (``small bird`` still gives nothing because
    ``bird`` is a stop noun.)
Stop modifiers
    :data:`STOP_MODIFIERS`: quantity/deixis (``other``, ``same``, ``several``, ``many``, ``first``),
    evaluative (``beautiful``, ``pretty``, ``cute``, ``nice``), vague salience (``distinct``,
    ``noticeable``, ``prominent``) and location words (``upper``, ``lower``, ``inner``, ``outer``,
    ``left``, ``right``, ``middle``: ``white upper wing`` → white wing). They never form phrases.
Stop nouns
    :data:`STOP_NOUNS`: the whole object and meta words (``bird``, ``animal``, ``picture``,
    ``photo``, ``image``, ``part``, ``one``, ``thing``, ``color``, ``kind``, ``area``, ...). They are
    removed from noun compounds (``bird wings`` → wing, ``the wing color is brown`` → brown wing);
    a noun group with nothing left gives nothing.
Synonyms
    :data:`DEFAULT_SYNONYMS` merges true synonyms only (``bill`` → ``beak``, ``chest`` → ``breast``,
    ``stomach``/``abdomen`` → ``belly``, ``eye ring`` → ``eyering``, ``wing bar`` → ``wingbar``,
    ``superciliary``/``eye brow`` → ``eyebrow``); distinct parts stay apart (crown ≠ head ≠ nape,
    throat ≠ neck). Applied to the lemmatised noun compound first, then to each word.
Nouns
    Nouns are lemmatised with WordNet (``wings`` → ``wing``); :data:`PLURALIA_TANTUM` are kept
    (``jeans``, ``glasses``, ``shorts``), :data:`IRREGULAR_PLURALS` cover bird-topography Latin,
    and a plural WordNet does not know loses its ``-s`` (``wingbars`` → ``wingbar``).
    :data:`PART_WORDS` (body-part nouns plus one-word synonyms: ``chest``, ``bill``) are nouns
    even when the tagger says otherwise (``a blue striped chest/JJS``).
Negation
    :data:`NEGATION_CUES` (``no``, ``not``, ``n't``, ``without``, ``lacks``, ``never``, ``nor``...).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "ACHROMATIC_LIST_COLOURS",
    "ADVERB_INTENSIFIERS",
    "AMBIGUOUS_COLOURS",
    "BE_WORDS",
    "COLOURS",
    "COLOUR_FILLERS",
    "DEFAULT_STOP_MODIFIERS",
    "DEFAULT_STOP_NOUNS",
    "DEFAULT_SYNONYMS",
    "INTENSIFIERS",
    "IRREGULAR_PLURALS",
    "LEXICON_VERSION",
    "MODIFIER_CANON",
    "NEGATION_CUES",
    "NOT_NOUNS",
    "PART_NOUNS",
    "PART_WORDS",
    "PATTERN_WORDS",
    "PLURALIA_TANTUM",
    "SHADES",
    "SHAPE_WORDS",
    "STOP_MODIFIERS",
    "STOP_NOUNS",
    "base_colour",
    "canonical_colour",
    "is_colour_word",
    "split_colour_list",
    "word_set",
]

#: Bump when a list below changes in a way that changes parser output (part of cache keys).
LEXICON_VERSION = "3"


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``: long word lists stay readable as prose."""
    return frozenset(text.split())


# --------------------------------------------------------------------------------------- colours
#: Colour words that are (almost) never anything else in captions.
_PLAIN_COLOURS = word_set(
    """
    black white grey brown red orange yellow green blue purple pink tan beige maroon crimson
    scarlet teal turquoise violet magenta lavender khaki tawny ochre rufous golden indigo cyan
    burgundy auburn ivory chartreuse fuchsia vermilion umber sepia taupe blonde
    """
)
#: Colour names that are also ordinary nouns; colours only in colour context (see module doc).
AMBIGUOUS_COLOURS = word_set(
    """
    buff cream olive gold silver rust lime navy chestnut cinnamon copper bronze amber charcoal
    coral peach salmon lemon rose plum mustard sand slate straw cherry ruby emerald
    """
)
#: All canonical base colours.
COLOURS = _PLAIN_COLOURS | AMBIGUOUS_COLOURS
#: Colours that never merge into a hedged compound with a neighbour (they start lists).
ACHROMATIC_LIST_COLOURS = frozenset({"black", "white"})
#: Shade words kept as part of the following colour ('light brown').
SHADES = frozenset({"light", "dark", "pale"})
#: Words after a colour that add nothing ('brown colored wings', 'red-toned').
COLOUR_FILLERS = frozenset({"colored", "coloured", "color", "colour", "toned", "tinted", "hued", "tinged", "shaded"})

_SPELLING = {"gray": "grey", "blond": "blonde"}


#: Hedged colour words → base colour ('yellowish' → 'yellow'). Explicit, not generated: the
#: generated forms collide with other words ('sandy', 'rosy', 'peachy').
# fmt: off
_HEDGED: dict[str, str] = {
    "blackish": "black", "whitish": "white", "whiteish": "white",
    "grayish": "grey", "greyish": "grey", "grayey": "grey", "greyey": "grey",
    "brownish": "brown", "browny": "brown", "reddish": "red", "reddy": "red",
    "orangish": "orange", "orangeish": "orange", "orangey": "orange", "orangy": "orange",
    "yellowish": "yellow", "yellowy": "yellow", "greenish": "green", "greeny": "green",
    "bluish": "blue", "blueish": "blue", "bluey": "blue", "purplish": "purple",
    "purpley": "purple", "pinkish": "pink", "pinky": "pink", "tannish": "tan",
    "buffy": "buff", "buffish": "buff", "creamy": "cream", "olivish": "olive",
    "olivey": "olive", "rusty": "rust", "rustish": "rust", "silvery": "silver",
    "coppery": "copper", "goldish": "gold", "beigish": "beige", "tawnyish": "tawny",
    "maroonish": "maroon", "violetish": "violet", "turquoiseish": "turquoise",
}
# fmt: on

_COLOUR_SUFFIX_RE = re.compile(r"^(.+?)-(?:colou?red|toned|tinted|hued|tinged|ish)$")


@lru_cache(maxsize=65536)
def base_colour(word: str) -> str | None:
    """Canonical single colour for one word ('gray' → 'grey', 'yellowish' → 'yellow'), or None."""
    w = _SPELLING.get(word, word)
    if w in COLOURS:
        return w
    hedged = _HEDGED.get(w)
    if hedged is not None:
        return hedged
    m = _COLOUR_SUFFIX_RE.match(w)
    if m:
        return base_colour(m.group(1))
    return None


def is_colour_word(word: str) -> bool:
    return canonical_colour(word) is not None


@lru_cache(maxsize=65536)
def canonical_colour(token: str) -> str | None:
    """Canonical colour for a (possibly hyphenated) token, or None when it is not a colour.

    ``'blue-gray'`` → ``'blue-grey'``; ``'light-brown'`` → ``'light brown'``;
    ``'reddish-orange'`` → ``'red-orange'``; ``'red-colored'`` → ``'red'``; ``'gray'`` → ``'grey'``.
    A hyphenated token that mixes black/white with other hues is *not* one colour (it is a list,
    the parser splits it), and neither is anything with a non-colour part.
    """
    single = base_colour(token)
    if single is not None:
        return single
    if "-" not in token:
        return None
    m = _COLOUR_SUFFIX_RE.match(token)
    if m:
        inner = canonical_colour(m.group(1))
        if inner is not None:
            return inner
    parts = [p for p in token.split("-") if p]
    if len(parts) < 2:
        return None
    shade = None
    if parts[0] in SHADES:
        shade, parts = parts[0], parts[1:]
    hues = [base_colour(p) for p in parts]
    if any(h is None for h in hues):
        return None
    if len(hues) > 1 and any(h in ACHROMATIC_LIST_COLOURS for h in hues):
        return None
    hue = "-".join(dict.fromkeys(hues))  # 'red-reddish' → 'red'
    return f"{shade} {hue}" if shade else hue


def split_colour_list(token: str) -> list[str] | None:
    """Split a hyphenated colour list token into words: 'black-and-white' → ['black', 'and',
    'white']; 'black-white' → ['black', 'white']; 'black-striped' → ['black', 'striped'].
    None when the token is not such a list (e.g. it is a compound colour, or has other words)."""
    if "-" not in token or canonical_colour(token) is not None:
        return None
    parts = [p for p in token.split("-") if p]
    if len(parts) < 2:
        return None
    out: list[str] = []
    n_mod = 0
    for p in parts:
        if p in ("and", "or", "n"):
            out.append("and" if p == "n" else p)
        elif base_colour(p) is not None or p in MODIFIER_CANON or p in SHADES:
            out.append(p)
            n_mod += 1
        else:
            return None
    if base_colour(parts[0]) is None and parts[0] not in SHADES:
        return None  # 'long-striped'? leave such tokens alone
    return out if n_mod >= 2 else None


# --------------------------------------------------------------------------- patterns and shapes
#: Pattern / texture words → canonical modifier.
# fmt: off
PATTERN_WORDS: dict[str, str] = {
    "striped": "striped", "stripped": "striped", "stripy": "striped", "stripey": "striped",
    "spotted": "spotted", "spotty": "spotted", "dotted": "dotted", "polka-dotted": "dotted",
    "speckled": "speckled", "specked": "speckled", "speckly": "speckled",
    "flecked": "flecked", "freckled": "freckled",
    "streaked": "streaked", "streaky": "streaked", "streaking": "streaked",
    "striated": "striated", "barred": "barred", "banded": "banded", "ringed": "ringed",
    "mottled": "mottled", "dappled": "dappled", "marbled": "marbled", "blotchy": "blotchy",
    "patchy": "patchy", "patterned": "patterned", "checkered": "checkered",
    "chequered": "checkered", "plaid": "plaid", "scaly": "scaly", "scalloped": "scalloped",
    "plain": "plain", "iridescent": "iridescent", "glossy": "glossy", "shiny": "shiny",
    "metallic": "metallic", "fluffy": "fluffy", "fuzzy": "fuzzy", "ruffled": "ruffled",
    "crested": "crested", "tufted": "tufted", "hooded": "hooded", "colorful": "colorful", "colourful": "colorful",
    "multicolored": "multicolored", "multi-colored": "multicolored",
    "multicoloured": "multicolored", "multi-coloured": "multicolored",
    "multicolor": "multicolored", "multi-color": "multicolored",
}
# fmt: on
#: Shape / size words → canonical modifier (kept: see "Patterns and shapes" above).
# fmt: off
SHAPE_WORDS: dict[str, str] = {
    "pointed": "pointed", "pointy": "pointed", "sharp": "sharp", "curved": "curved",
    "hooked": "hooked", "straight": "straight", "blunt": "blunt", "stubby": "stubby",
    "stout": "stout", "conical": "conical", "cone-shaped": "conical",
    "long": "long", "short": "short", "thick": "thick", "thin": "thin", "slender": "slender",
    "narrow": "narrow", "broad": "broad", "wide": "wide", "flat": "flat", "round": "round",
    "rounded": "rounded", "forked": "forked", "notched": "notched", "webbed": "webbed",
    "small": "small", "large": "large", "big": "big", "tiny": "tiny", "little": "little",
    "huge": "huge", "fat": "fat", "plump": "plump", "skinny": "skinny", "tall": "tall",
}
# fmt: on
#: All lexicon modifiers other than colours → canonical form.
MODIFIER_CANON: dict[str, str] = {**PATTERN_WORDS, **SHAPE_WORDS}

#: Dropped before a colour or a lexicon modifier ('bright red' → red, 'mostly white' → white,
#: 'jet black' → black); adverbs among them are also dropped before any adjective.
INTENSIFIERS = word_set(
    """
    bright brilliant vivid vibrant deep rich dull dim intense strong bold faint soft muted
    very really extremely fairly quite rather pretty somewhat slightly mostly mainly primarily
    predominantly largely partly partially almost nearly entirely completely totally fully
    all solid pure true jet pitch snow dusky dusty
    """
)
#: The intensifiers that are adverbs ('very happy' → happy).
ADVERB_INTENSIFIERS = word_set(
    """
    very really extremely fairly quite rather somewhat slightly mostly mainly primarily
    predominantly largely partly partially almost nearly entirely completely totally fully
    """
)

#: Negation cues; a negated noun phrase is dropped (default) or marked.
NEGATION_CUES = word_set(
    """
    no not n't without lacks lack lacking lacked never none nor neither nothing absent cannot nt
    """
)

#: Copulas and perception verbs that link a subject to predicate adjectives.
BE_WORDS = word_set(
    """
    is are was were be been being am 's 're looks look looked appears appear appeared seems seem
    seemed becomes become turns remain remains
    """
)

# ----------------------------------------------------------------------------------------- nouns
#: True synonyms only — crown, head and nape stay distinct.
# fmt: off
DEFAULT_SYNONYMS: dict[str, str] = {
    "bill": "beak", "beek": "beak", "chest": "breast", "stomach": "belly", "abdomen": "belly",
    "tummy": "belly", "underbelly": "belly",
    "wing bar": "wingbar", "wing-bar": "wingbar", "wingbar": "wingbar",
    "eye ring": "eyering", "eye-ring": "eyering", "eyering": "eyering",
    "eye brow": "eyebrow", "eye-brow": "eyebrow", "brow": "eyebrow",
    "superciliary": "eyebrow", "supercilium": "eyebrow",
    "eye stripe": "eyestripe", "eye-stripe": "eyestripe", "eye line": "eyeline",
    "eye-line": "eyeline", "rectrix": "tail feather", "remex": "flight feather",
    "retrix": "tail feather", "tailfeather": "tail feather",
    "under side": "underside", "under-side": "underside", "under part": "underpart",
    "upper part": "upperpart",
}
# fmt: on

#: Meta / whole-object nouns that never form attributes.
DEFAULT_STOP_NOUNS = word_set(
    """
    bird birdie animal creature specimen species picture photo photograph image pic shot
    part one thing something anything everything nothing color colour colors colours coloring
    colouring shade hue tint tone kind type sort variety lot bit amount mix combination
    feature features detail area region section portion way shape size inch rest remainder
    """
)
STOP_NOUNS = DEFAULT_STOP_NOUNS

#: Words that never act as modifiers (quantity, deixis, evaluation, vague salience, location).
DEFAULT_STOP_MODIFIERS = word_set(
    """
    other another same several many few various different such own much more most certain
    whole entire main overall next last first second third only able similar distinct
    distinctive noticeable visible prominent notable obvious beautiful pretty cute nice lovely
    gorgeous unique interesting unusual regular normal typical usual particular specific total
    general upper lower inner outer left right middle top bottom front rear central inside
    outside medium
    sized medium-sized colored coloured
    """
)
STOP_MODIFIERS = DEFAULT_STOP_MODIFIERS

#: Body-part nouns (canonical): a modifier is shared over coordinated part nouns
#: ('red crown and breast' → red crown, red breast) and an ambiguous colour before one is a colour.
PART_NOUNS = word_set(
    """
    wing wingbar tail crown head nape neck throat breast belly back rump flank side beak eye
    eyering eyebrow eyestripe eyeline cheek face forehead crest leg foot feet claw talon feather
    plumage body underside underpart upperpart chin mask lore primary secondary covert mantle
    shoulder tip bar patch spot stripe streak marking tarsus toe bib cap collar hood vent
    undertail tail feather flight feather wingtip
    """
) | frozenset({"tail feather", "flight feather", "wing feather", "breast feather"})

#: :data:`PART_NOUNS` plus the one-word spellings the default synonyms map onto them ('chest',
#: 'bill', 'stomach'): a body-part word whether or not a custom synonym map canonicalises it.
PART_WORDS = PART_NOUNS | frozenset(k for k, v in DEFAULT_SYNONYMS.items() if v in PART_NOUNS and " " not in k)

#: Closed-class words and adverbs the tagger sometimes tags as nouns ('swimming towards/NNS',
#: 'taken outdoors/NNS'); never nouns (so 'the great outdoors' gives nothing either).
NOT_NOUNS = word_set(
    """
    towards toward upwards downwards backwards forwards afterwards onwards outwards inwards
    sideways away ahead across along around through into onto upon while whilst some any
    outdoors indoors overhead nearby
    someone somebody everyone everybody anyone anybody nobody
    """
)

#: Plural-only nouns kept as written (WordNet would turn 'jeans' into 'jean').
PLURALIA_TANTUM = word_set(
    """
    jeans pants trousers shorts glasses sunglasses goggles overalls tights leggings pajamas
    pyjamas clothes scissors binoculars headphones earphones stairs suspenders trunks
    sweatpants swimtrunks boxers briefs species series news
    """
)
#: Plurals WordNet does not know.
# fmt: off
IRREGULAR_PLURALS = {
    "rectrices": "rectrix", "retrices": "rectrix", "remiges": "remex", "tarsi": "tarsus",
    "lores": "lore", "undertails": "undertail",
}
# fmt: on
