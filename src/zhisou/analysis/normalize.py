"""Character folding applied before tokenization.

Folding is full-width → half-width (NFKC), lower case, and traditional → simplified Chinese
(OpenCC ``t2s``), so that ``ＢＭ２５`` finds ``bm25`` and ``檢索`` finds ``检索``. Tokens must
point back into the *original* text for highlighting, so folding returns an offset map
whenever it changed the length of the text.

Words differ between regions too (網路 / 网络, 軟體 / 软件, 記憶體 / 内存). A run of Chinese
characters written in traditional script is converted with OpenCC's ``tw2sp`` (Taiwan phrases to
mainland ones, then characters), so a traditional note and a simplified query meet on the
mainland word, and the other way round. Only runs holding a traditional character (one ``t2s``
rewrites by itself) are converted at all: both tables also rewrite words spelled the same in both
scripts (``tw2sp`` 文件 → 文档, ``t2s`` 打坏 → 打坯), which would move simplified text away from
its own vocabulary; and most text, having none, skips OpenCC. An index made before these rules
(``ANALYSIS_VERSION``) finds such words again once it is rebuilt.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from functools import cache
from typing import NamedTuple

import opencc

_SURROGATE = re.compile(r"[\ud800-\udfff]")


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@cache
def _tw2sp() -> opencc.OpenCC:
    return opencc.OpenCC("tw2sp")


# The Han blocks of the Basic Multilingual Plane: where t2s rewrites characters by themselves
# (it rewrites a few hundred beyond it, in planes 2 and 3, checked one by one when present).
_T2S_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00))
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@cache
def _traditional() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Character classes of the Basic Multilingual Plane's characters that ``t2s`` rewrites on
    their own (traditional ones) and lone surrogates (only the conversion's path mends them):
    alone, and with every character beyond the plane. Read from OpenCC itself: one call over
    the Han blocks, a character a line so that no phrase forms (~15 ms, once). A class rather
    than a set: a search is C code over the string, where a set makes a string a character."""
    chars = [chr(code) for first, end in _T2S_RANGES for code in range(first, end)]
    converted = _t2s().convert("\n".join(chars)).split("\n")
    assert len(converted) == len(chars), "t2s joined or split lines"
    codes = sorted({ord(char) for char, after in zip(chars, converted) if after != char} | set(range(0xD800, 0xE000)))
    spans: list[list[int]] = []
    for code in codes:
        if spans and code == spans[-1][1] + 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])
    members = "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in spans)
    return re.compile(f"[{members}]"), re.compile(f"[{members}\U00010000-\U0010ffff]")


def holds_traditional(text: str) -> bool:
    """Whether ``text`` holds a character ``t2s`` rewrites by itself."""
    traditional, maybe = _traditional()
    if maybe.search(text) is None:  # most text: one search
        return False
    if traditional.search(text) is not None:
        return True
    astral = "\n".join(_ASTRAL.findall(text))  # rare: ask OpenCC about these characters
    return _t2s().convert(astral) != astral


# Han characters (CJK unified ideographs, extension A, compatibility ideographs, planes 2): the
# one definition tokenizers, phrases and highlights share.
CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
CJK_CHAR = re.compile(f"[{CJK_CHARS}]")
_CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
# Taiwan words OpenCC's phrase tables leave to character conversion, rewritten to the
# traditional spelling of the mainland word first (``tw2sp`` then simplifies it).
_REGIONAL_WORDS = {"憑證": "證書"}
# Taiwan technical words as they appear in simplified script (a converted article, a query typed
# on a simplified keyboard), which no traditional character marks: rewritten in every run. Only
# words with no other mainland reading are listed (软体 is also a mollusc, 快取 "take quickly").
TAIWAN_WORDS_IN_SIMPLIFIED = {
    "分散式": "分布式",
    "网路": "网络",
    "记忆体": "内存",
    "资料库": "数据库",
    "伺服器": "服务器",
    "演算法": "算法",
    "执行绪": "线程",
    "硬碟": "硬盘",
}
_TAIWAN_WORD = re.compile("|".join(TAIWAN_WORDS_IN_SIMPLIFIED))


class FoldedText(NamedTuple):
    """Folded text and, when lengths differ, the original offset of every folded character.
    (A named tuple: made for every query and document, at a third of a frozen dataclass's cost.)"""

    text: str
    origin: tuple[int, ...] | None = None

    def original_offset(self, index: int, source_length: int) -> int:
        """Map an offset in ``text`` (0..len) back to the original string."""
        if self.origin is None:
            return index
        if index >= len(self.origin):
            return source_length
        return self.origin[index]


def _fold_char(char: str) -> str:
    return unicodedata.normalize("NFKC", char).lower()


def _convert_char(char: str) -> str:
    converted = _t2s().convert(char)
    return converted if len(converted) == 1 else char


def fold(text: str, *, traditional_to_simplified: bool = True) -> FoldedText:
    """Fold ``text`` for matching; cheap when the text is ASCII or folding keeps its length."""
    if text.isascii():
        return FoldedText(text.lower())
    folded = unicodedata.normalize("NFKC", text).lower()
    origin: tuple[int, ...] | None = None
    if len(folded) != len(text):
        pieces: list[str] = []
        offsets: list[int] = []
        for position, char in enumerate(text):
            piece = _fold_char(char)
            pieces.append(piece)
            offsets.extend([position] * len(piece))
        folded = "".join(pieces)
        origin = tuple(offsets)
    if traditional_to_simplified:
        if not holds_traditional(folded):
            # No traditional character: t2s would only rewrite phrases spelled alike in both
            # scripts (打坏 → 打坯, "make bricks"); most text and queries skip OpenCC this way.
            if _TAIWAN_WORD.search(folded):
                folded, origin = _regional_words(folded, folded, origin)
            return FoldedText(folded, origin)
        try:
            converted = _t2s().convert(folded)
        except UnicodeEncodeError:
            # Lone surrogates are not text (only the Python API can pass them; documents and
            # queries are refused earlier): U+FFFD keeps every offset. No cost on the common path.
            folded = _SURROGATE.sub("\ufffd", folded)
            converted = _t2s().convert(folded)
        # A phrase conversion that changed the length would break offsets: go character by character.
        if len(converted) != len(folded):
            folded = "".join(_convert_char(char) for char in folded)
        elif converted != folded or _TAIWAN_WORD.search(converted):
            folded, origin = _regional_words(folded, converted, origin)
        else:
            folded = converted
    return FoldedText(folded, origin)


def _regional_words(folded: str, converted: str, origin: tuple[int, ...] | None) -> tuple[str, tuple[int, ...] | None]:
    """``folded`` with each Chinese run that holds a traditional character converted through
    ``tw2sp``, and the other runs as they were but for their Taiwan words (``converted``:
    ``folded`` through ``t2s``, same length, for what lies between runs); the offset map follows
    the runs whose length changed (記憶體 → 内存), each new character pointing at the old one it
    replaces."""
    pieces: list[str] = []
    places: list[int] = []  # index in ``folded`` of every output character
    changed_length = False
    done = 0
    for run in _CJK_RUN.finditer(folded):
        start, end = run.span()
        text = run.group()
        if holds_traditional(text):
            for word, replacement in _REGIONAL_WORDS.items():
                text = text.replace(word, replacement)
            phrase = _tw2sp().convert(text)
        else:
            phrase = text
            for word, replacement in TAIWAN_WORDS_IN_SIMPLIFIED.items():
                phrase = phrase.replace(word, replacement)
            if phrase == converted[start:end]:
                continue
        pieces.append(converted[done:start])
        places.extend(range(done, start))
        if len(phrase) == end - start:
            places.extend(range(start, end))
        else:
            changed_length = True
            places.extend(start + i for i in _align(converted[start:end], phrase))
        pieces.append(phrase)
        done = end
    pieces.append(converted[done:])
    places.extend(range(done, len(folded)))
    text = "".join(pieces)
    if not changed_length:
        return text, origin
    return text, tuple(places if origin is None else [origin[place] for place in places])


def _align(before: str, after: str) -> list[int]:
    """For each character of ``after``, the index in ``before`` it stands for: unchanged
    stretches one to one, a replaced stretch character by character from its start (the last
    ones sharing the stretch's last character); a dropped stretch (演算法 → 算法) is covered by
    the character that follows it."""
    places: list[int] = []
    dropped: int | None = None
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag == "delete":
            dropped = i1 if dropped is None else dropped
            continue
        first = len(places)
        if tag == "equal":
            places.extend(range(i1, i2))
        else:  # replaced, or inserted before ``i1`` (at the very end: after the last character)
            last = min(max(i1, i2 - 1), len(before) - 1)
            places.extend(min(i1 + k, last) for k in range(j2 - j1))
        if dropped is not None and len(places) > first:
            places[first] = dropped
            dropped = None
    return places
