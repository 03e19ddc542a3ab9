"""Tokenizers: folded text in, tokens with positions and original character offsets out.

Positions count *units*: one per Latin word or number, one per Chinese character. A Chinese
word therefore spans as many positions as it has characters, and search-mode sub-words sit at
the position of their first character. Phrase queries compare relative positions, so
``"混合精度"`` matches whether a document was segmented as ``混合精度`` or ``混合 | 精度``.

Indexing cuts Chinese the fine way (jieba's search mode: ``搜索引擎`` also gives ``搜索``,
``索引``, ``引擎``), but a sub-word that straddles a seam of its word (``索引`` across 搜索|引擎)
is indexed with ``SUB_WORD`` in front (``\x02索引``), apart from words. A query is cut the
precise way and its words match words: ``倒排索引`` (倒排, 索引) no longer matches a note that
only says 搜索引擎, while 引擎 still does. ``search/query_terms.py`` adds the query words' own
parts at a lower weight and falls back to straddling sub-words where a word is absent — as
Elasticsearch users do with IK's ``ik_max_word`` at index time and ``ik_smart`` for queries.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from zhisou.analysis.normalize import CJK_CHAR, CJK_CHARS, fold

_CJK = CJK_CHARS
_WORD_CHAR = rf"[^\W_{_CJK}]"
_TOKEN_RE = re.compile(
    rf"(?P<cjk>[{_CJK}]+)"
    rf"|(?P<num>\d+(?:\.\d+)+)"
    rf"|(?P<word>{_WORD_CHAR}+(?:['’_]{_WORD_CHAR}+)*)"
)
_HAS_CJK = CJK_CHAR


_LONE_CJK = re.compile(rf"(?<!\S)[{_CJK}](?!\S)")


def is_single_chinese_character(text: str) -> bool:
    return len(text) == 1 and _HAS_CJK.match(text) is not None


def has_single_chinese_word(text: str) -> bool:
    """Whether some whitespace-separated word of ``text`` is one Chinese character."""
    words = text.split(None, 1)  # most queries are one run of characters: no search needed
    if len(words) < 2:
        return bool(words) and is_single_chinese_character(words[0])
    return _LONE_CJK.search(text) is not None


SUB_WORD = "\x02"  # in front of a straddling sub-word's term: no token of text can hold this character


def straddling_sub_words(words: list[tuple[str, int, int]]) -> list[bool]:
    """Which of jieba's search-mode words straddle a seam of a longer word: ``索引`` in
    ``搜|索引|擎`` (搜索 + 引擎), ``华人`` in 中|华人|民 (中华人民共和国). Those are indexed apart (``SUB_WORD``);
    the parts a word is made of (搜索, 引擎, 系统, 人民 in 中华人民共和国) stay plain words.

    Search mode emits each word's inner 2- and 3-character words just before the word, so
    walking backwards a word comes first and its sub-words fall within it. A sub-word that
    begins or ends the word, or a longer sub-word, is a part (长沙 and 沙市 in 长沙市, 上门 in
    找上门, 共和 in 共和国: what remains may be one character, which search mode never emits);
    an inner one is a part when both its edges are edges of other sub-words (人民 in
    中华|人民|共和国), and straddles otherwise (索引 in 搜|索引|擎, 华人 in 中|华人|民).
    """
    flags = [False] * len(words)
    group: list[int] = []  # the sub-words of the word at ``parent``
    parent = -1
    for i in range(len(words) - 1, -2, -1):
        inside = (
            i >= 0
            and parent >= 0
            and words[parent][1] <= words[i][1]
            and words[i][2] <= words[parent][2]
            and words[i][2] - words[i][1] < words[parent][2] - words[parent][1]
        )
        if inside:
            group.append(i)
            continue
        if group:
            ends = {words[parent][1]} | {words[k][2] for k in group}
            starts = {words[parent][2]} | {words[k][1] for k in group}
            spans = [words[parent][1:]] + [words[k][1:] for k in group]
            for k in group:
                start, end = words[k][1], words[k][2]
                at_an_edge = any(
                    (start == first or end == last) and first <= start and end <= last and (first, last) != (start, end)
                    for first, last in spans
                )
                flags[k] = not (at_an_edge or (start in ends and end in starts))
            group = []
        parent = i
    return flags


_LATIN_TOKEN_RE = re.compile(rf"\d+(?:\.\d+)+|{_WORD_CHAR}+(?:['’_]{_WORD_CHAR}+)*")  # no groups: findall
# ASCII text, split without the regex where it cannot matter: every byte that no token holds
# becomes a space, and so does a dot before a space (only numbers like 3.14 keep a dot). What is
# left is words, apart from pieces with an apostrophe, underscore or dot, which the regex
# splits as it would have in place (no token crosses a space).
_NOT_IN_ASCII_TOKENS = bytes(c for c in range(128) if not (chr(c).isalnum() or chr(c) in "'_."))
_ASCII_SPACES = bytes.maketrans(_NOT_IN_ASCII_TOKENS, b" " * len(_NOT_IN_ASCII_TOKENS))
_ASCII_JOINERS = re.compile(r"['_.]")


def latin_terms(text: str) -> list[str]:
    """The regex's tokens of ``text``, which holds no Chinese (``_LATIN_TOKEN_RE.findall``),
    2.5–3.5× faster on ASCII text, where C calls do most of the work."""
    if not text.isascii():
        return _LATIN_TOKEN_RE.findall(text)
    kept = text.encode("ascii").translate(_ASCII_SPACES).decode("ascii").replace(". ", "  ")
    if "'" not in kept and "_" not in kept and "." not in kept:
        return kept.split()
    terms: list[str] = []
    done = 0  # kept[:done] is split
    for match in _ASCII_JOINERS.finditer(kept):
        at = match.start()
        if at < done:
            continue
        start = kept.rfind(" ", 0, at) + 1
        end = kept.find(" ", at)
        end = len(kept) if end < 0 else end
        terms += kept[done:start].split()
        terms += _LATIN_TOKEN_RE.findall(kept[start:end])
        done = end
    terms += kept[done:].split()
    return terms


@dataclass(frozen=True, slots=True)
class Token:
    """One term occurrence: ``start``/``end`` are offsets in the original text."""

    text: str
    position: int
    start: int
    end: int
    cjk: bool = False


@dataclass(slots=True)
class TokenStream:
    """Tokens as parallel lists — cheaper than one object per token on the indexing path.

    ``starts``/``ends`` are filled only when offsets were asked for (queries, highlighting).
    """

    terms: list[str]
    positions: list[int]
    cjk: list[bool]
    starts: list[int] | None = None
    ends: list[int] | None = None

    def keep(self, indices: list[int]) -> TokenStream:
        return TokenStream(
            [self.terms[i] for i in indices],
            [self.positions[i] for i in indices],
            [self.cjk[i] for i in indices],
            None if self.starts is None else [self.starts[i] for i in indices],
            None if self.ends is None else [self.ends[i] for i in indices],
        )

    def tokens(self) -> list[Token]:
        if self.starts is None or self.ends is None:
            raise ValueError("this stream was made without offsets")
        return [Token(*fields) for fields in zip(self.terms, self.positions, self.starts, self.ends, self.cjk)]


class Tokenizer(Protocol):
    def stream(self, text: str, *, offsets: bool) -> TokenStream: ...


class ChineseSegmenter:
    """A jieba-family segmenter (rjieba, the Rust port) with an optional jieba-format user dictionary.

    ``search`` mode also emits the 2- and 3-character words inside longer words, so that
    ``搜索引擎`` is found by ``搜索`` and ``引擎``.
    """

    def __init__(self, user_words: list[tuple[str, int | None, str | None]] | None = None) -> None:
        self._user_words = list(user_words or [])
        self._jieba: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        """The segmenter, loaded on the first Chinese text: its dictionary costs ~55 MB and
        0.3 s, which English-only indexes never pay."""
        if self._jieba is None:
            with self._lock:
                if self._jieba is None:
                    import rjieba

                    jieba = rjieba.Jieba()
                    for word, freq, tag in self._user_words:
                        jieba.add_word(word, freq, tag)
                    self._jieba = jieba
        return self._jieba

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the loaded dictionary and the lock: another process (a Spark
        executor, a worker) rebuilds them on its first Chinese text, with the same user words."""
        return {"user_words": self._user_words}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["user_words"])  # type: ignore[misc]

    def segment(self, text: str, *, search: bool = True) -> list[tuple[str, int, int]]:
        """(word, start, end) of each word of ``text``, a run of Chinese characters."""
        return self._loaded().tokenize(text, "search" if search else "default")  # type: ignore[no-any-return]


def parse_user_dictionary(text: str, source: str = "user dictionary") -> list[tuple[str, int | None, str | None]]:
    """Parse jieba's user dictionary format: ``word [freq] [tag]`` per line."""
    from zhisou.errors import SchemaError

    entries: list[tuple[str, int | None, str | None]] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        parts = line.strip().split()
        if not parts or parts[0].startswith("#"):
            continue
        freq: int | None = None
        tag: str | None = None
        if not all(part.encode("utf-8", "ignore").decode() == part for part in parts):
            raise SchemaError(f"{source}:{line_number}: not valid text (a lone surrogate)")
        if len(parts) >= 2:
            if not (parts[1].isascii() and parts[1].isdigit() and len(parts[1]) <= 9):
                raise SchemaError(
                    f"{source}:{line_number}: frequency must be a whole number below 10^9, got {parts[1]!r}"
                )
            freq = int(parts[1])
        if len(parts) >= 3:
            tag = parts[2]
        entries.append((parts[0], freq, tag))
    return entries


class MixedTokenizer:
    """Chinese runs through the segmenter, Latin words and numbers as whole tokens."""

    def __init__(self, segmenter: ChineseSegmenter | None, *, search_mode: bool = True) -> None:
        self._segmenter = segmenter
        self._search_mode = search_mode

    def stream(self, text: str, *, offsets: bool, precise: bool = False) -> TokenStream:
        """``precise``: Chinese runs cut into words only (jieba's default mode), no sub-words:
        the words a reader sees, which a highlight must not split."""
        folded = fold(text)
        if not offsets and not _HAS_CJK.search(folded.text):
            # Fast path for Latin-only text: one word = one position, found by C code.
            terms = latin_terms(folded.text)
            return TokenStream(terms, list(range(len(terms))), [False] * len(terms))
        search = self._search_mode and not precise
        if not offsets:
            return self._terms(folded.text, search)
        terms: list[str] = []
        positions: list[int] = []
        cjk: list[bool] = []
        starts: list[int] = []
        ends: list[int] = []
        unit = 0
        for match in _TOKEN_RE.finditer(folded.text):
            start = match.start()
            if match.lastgroup == "cjk" and self._segmenter is not None:
                run = match.group()
                words = self._segmenter.segment(run, search=search)
                subs = straddling_sub_words(words) if search and len(words) > 1 else None
                for index, (word, word_start, word_end) in enumerate(words):
                    terms.append(SUB_WORD + word if subs is not None and subs[index] else word)
                    positions.append(unit + word_start)
                    cjk.append(True)
                    starts.append(start + word_start)
                    ends.append(start + word_end)
                unit += len(run)
            else:
                terms.append(match.group())
                positions.append(unit)
                cjk.append(match.lastgroup == "cjk")
                starts.append(start)
                ends.append(match.end())
                unit += 1
        if folded.origin is not None:
            length = len(text)
            starts = [folded.original_offset(i, length) for i in starts]
            ends = [folded.original_offset(i, length) for i in ends]
        return TokenStream(terms, positions, cjk, starts, ends)

    def _terms(self, text: str, search: bool) -> TokenStream:
        """``stream`` without offsets (the indexing and query paths): the same tokens, without
        the bookkeeping of where each one was."""
        terms: list[str] = []
        positions: list[int] = []
        cjk: list[bool] = []
        add_term, add_position, add_cjk = terms.append, positions.append, cjk.append  # a few words a query
        unit = 0
        segmenter = self._segmenter
        for match in _TOKEN_RE.finditer(text):
            kind = match.lastgroup
            if kind == "cjk" and segmenter is not None:
                run = match.group()
                words = segmenter.segment(run, search=search)
                subs = straddling_sub_words(words) if search and len(words) > 1 else None
                for index, (word, start, _) in enumerate(words):
                    add_term(SUB_WORD + word if subs is not None and subs[index] else word)
                    add_position(unit + start)
                    add_cjk(True)
                unit += len(run)
            else:
                add_term(match.group())
                add_position(unit)
                add_cjk(kind == "cjk")
                unit += 1
        return TokenStream(terms, positions, cjk)


class KeywordTokenizer:
    """The whole (stripped) value is one token: ids, tags, categories."""

    def __init__(self, *, lowercase: bool) -> None:
        self._lowercase = lowercase

    def stream(self, text: str, *, offsets: bool) -> TokenStream:
        value = "".join(ch for ch in text.strip() if ch >= " ")
        if not value:
            return TokenStream([], [], [], [] if offsets else None, [] if offsets else None)
        if self._lowercase:
            value = fold(value, traditional_to_simplified=False).text
        if offsets:
            return TokenStream([value], [0], [False], [0], [len(text)])
        return TokenStream([value], [0], [False])
