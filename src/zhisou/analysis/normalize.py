"""Character folding applied before tokenization.

Folding is full-width → half-width (NFKC), lower case, and traditional → simplified Chinese
(OpenCC ``t2s``), so that ``ＢＭ２５`` finds ``bm25`` and ``檢索`` finds ``检索``. Tokens must
point back into the *original* text for highlighting, so folding returns an offset map
whenever it changed the length of the text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import opencc

_SURROGATE = re.compile(r"[\ud800-\udfff]")


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@dataclass(frozen=True, slots=True)
class FoldedText:
    """Folded text and, when lengths differ, the original offset of every folded character."""

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
        try:
            converted = _t2s().convert(folded)
        except UnicodeEncodeError:
            # Lone surrogates are not text (only the Python API can pass them; documents and
            # queries are refused earlier): U+FFFD keeps every offset. No cost on the common path.
            folded = _SURROGATE.sub("\ufffd", folded)
            converted = _t2s().convert(folded)
        # A phrase conversion that changed the length would break offsets: go character by character.
        same_length = len(converted) == len(folded)
        folded = converted if same_length else "".join(_convert_char(char) for char in folded)
    return FoldedText(folded, origin)
