"""Pinyin forms of Chinese words, for fields that ask for them (``FieldSpec.pinyin``).

Each Chinese word a field indexes (a word or a part, not a straddling sub-word) also gives two
terms at its position, in namespaces of their own so they never meet a word: its full pinyin
joined (``\\x03daopai`` for 倒排) and its initials (``\\x04dp``). The readings are pypinyin's
(its phrase table picks 银行 → yin hang). On the query side (``search/query_terms.py``) a Latin
word the field does not hold — ``daopai``, ``dao pai suo yin``, ``dpsy`` — and a Chinese word it
does not hold (a homophone typo: 缓村) are split into known pinyin forms and looked up at a
lower weight than words, so an exact Chinese match always comes first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from zhisou.analysis.tokenizers import SUB_WORD

FULL = "\x03"  # in front of a word's joined full pinyin
INITIALS = "\x04"  # in front of a word's initials
MAX_PIECE = 24  # letters: the longest pinyin form a query piece is looked up as


# Tone marks off, ü as v: pypinyin's plain style (its NORMAL), done by one C call per syllable
# instead of its style converter (a quarter of the time of a word: the suggestion tables read the
# pinyin of every frequent word of a segment). The same letters as NORMAL for every reading of
# every character and phrase in pypinyin's dictionaries (tests/search/test_pinyin.py).
_PLAIN = str.maketrans(
    {
        **dict.fromkeys("āáǎà", "a"),
        **dict.fromkeys("ēéěè", "e"),
        **dict.fromkeys("īíǐì", "i"),
        **dict.fromkeys("ōóǒò", "o"),
        **dict.fromkeys("ūúǔù", "u"),
        **dict.fromkeys("üǖǘǚǜ", "v"),
        "ḿ": "m",
        **dict.fromkeys("ńňǹ", "n"),
    }
)


@lru_cache(maxsize=200_000)
def word_pinyin(word: str) -> tuple[str, str] | None:
    """(full pinyin joined, initials) of a Chinese word, or None when a character has none."""
    marked = _marked_readings(word)
    if not marked:
        return None
    full = [syllable.translate(_PLAIN) for syllable in marked]
    if not all(syllable.isascii() and syllable.isalpha() for syllable in full):
        return None
    return "".join(full), "".join(syllable[0] for syllable in full)


def _marked_readings(word: str) -> list[str] | None:
    """pypinyin's reading of ``word`` with tone marks (what ``lazy_pinyin`` gives with its TONE
    style), read from its tables directly: its phrase table for the whole word, else its own
    longest-match cut into phrases and single characters, each character's first reading. A
    quarter of the time of going through its converter's hooks (the suggestion tables read the
    pinyin of every frequent word at commit); held equal to ``lazy_pinyin`` by
    tests/search/test_pinyin.py. None when a character has no reading."""
    from pypinyin.constants import PHRASES_DICT, PINYIN_DICT, RE_HANS
    from pypinyin.seg.mmseg import seg

    if not RE_HANS.match(word):  # a character pypinyin does not read as Chinese
        return None
    phrase = PHRASES_DICT.get(word)
    if phrase is not None:
        return [readings[0] for readings in phrase]
    out: list[str] = []
    for piece in seg.cut(word):
        phrase = PHRASES_DICT.get(piece)
        if phrase is not None:
            out += [readings[0] for readings in phrase]
            continue
        for char in piece:
            readings = PINYIN_DICT.get(ord(char))
            if readings is None:
                return None
            out.append(readings.split(",", 1)[0])
    return out


def pinyin_tokens(terms: Sequence[str], positions: Sequence[int], cjk: Sequence[bool]) -> tuple[list[str], list[int]]:
    """The pinyin terms of an indexed stream's Chinese tokens, at their positions."""
    out_terms: list[str] = []
    out_positions: list[int] = []
    for term, position, is_cjk in zip(terms, positions, cjk):
        if not is_cjk or term.startswith(SUB_WORD):  # a straddling sub-word gives none
            continue
        forms = word_pinyin(term)
        if forms is None:
            continue
        out_terms += (FULL + forms[0], INITIALS + forms[1])
        out_positions += (position, position)
    return out_terms, out_positions


def text_pinyin(text: str) -> str:
    """The full pinyin of a run of Chinese characters, joined (缓村 → huancun)."""
    forms = word_pinyin(text)
    return forms[0] if forms is not None else ""


def split_known(letters: str, known: Callable[[list[str]], list[bool]]) -> list[str] | None:
    """``letters`` as the fewest pieces that ``known`` (a batch membership test) accepts, or None.
    Every piece up to ``MAX_PIECE`` letters is asked about in one batch."""
    n = len(letters)
    if not n:
        return None
    spans = [(i, j) for i in range(n) for j in range(i + 1, min(n, i + MAX_PIECE) + 1)]
    accepted = {span for span, ok in zip(spans, known([letters[i:j] for i, j in spans])) if ok}
    best: list[tuple[int, int] | None] = [None] * (n + 1)  # (pieces, start of the last piece)
    best[0] = (0, 0)
    for j in range(1, n + 1):
        for i in range(max(0, j - MAX_PIECE), j):
            if best[i] is not None and (i, j) in accepted:
                candidate = (best[i][0] + 1, i)  # type: ignore[index]
                if best[j] is None or candidate[0] < best[j][0]:  # type: ignore[index]
                    best[j] = candidate
    if best[n] is None:
        return None
    pieces: list[str] = []
    j = n
    while j > 0:
        i = best[j][1]  # type: ignore[index]
        pieces.append(letters[i:j])
        j = i
    return pieces[::-1]
