"""Highlighted snippets: the best window of a stored field around the query's terms.

The field is re-analyzed with its own analyzer, so matches are found exactly as the index
found them (Chinese without spaces included) and marked at the original character offsets; a
Chinese word found through its pinyin (``dpsy``, ``daopai``, the homophone 缓村) is marked as the
index found it, by the pinyin forms it was indexed with.
The window with the most distinct matched terms wins, then the most matches, then the
earliest. Text is HTML-escaped; matches are wrapped in ``<mark>``.
"""

from __future__ import annotations

import bisect
import html
from typing import NamedTuple

from zhisou.analysis import Analyzer
from zhisou.analysis.normalize import CJK_CHAR
from zhisou.analysis.pinyin import FULL, INITIALS, word_pinyin
from zhisou.analysis.tokenizers import SUB_WORD
from zhisou.search.plaintext import plain_text

ELLIPSIS = "…"


class _Match(NamedTuple):
    term: str
    start: int
    end: int


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _render(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> str:
    out: list[str] = []
    cursor = start
    for span_start, span_end in spans:
        span_start, span_end = max(span_start, start), min(span_end, end)
        if span_start >= span_end:
            continue
        out.append(html.escape(text[cursor:span_start]))
        out.append(f"<mark>{html.escape(text[span_start:span_end])}</mark>")
        cursor = span_end
    out.append(html.escape(text[cursor:end]))
    return "".join(out)


def _nice_start(text: str, start: int, limit: int = 12) -> int:
    """Move a window start back to a nearby word or sentence boundary."""
    for index in range(start, max(start - limit, 0) - 1, -1):
        if index == 0 or text[index - 1] in " \n\t。，；！？.,;!?":
            return index
    return start


def _whole_words(spans: list[tuple[int, int]], analyzer: Analyzer, text: str) -> list[tuple[int, int]]:
    """Each span widened to the Chinese words it lies in: a sub-word match (索引 in 搜索引擎) marks
    the whole word, never ``搜<mark>索引</mark>擎``."""
    words = analyzer.word_spans(text) if any(CJK_CHAR.match(text, s) for s, _ in spans) else []
    if not words:
        return spans
    starts = [start for start, _ in words]
    widened = []
    for start, end in spans:
        first = bisect.bisect_right(starts, start) - 1
        if first >= 0 and words[first][0] <= start < words[first][1]:
            start = words[first][0]
        last = bisect.bisect_right(starts, end - 1) - 1
        if last >= 0 and words[last][0] <= end - 1 < words[last][1]:
            end = max(end, words[last][1])
        widened.append((start, end))
    return widened


def marked_words(text: str, analyzer: Analyzer, terms: set[str]) -> set[str]:
    """The words of ``text`` a snippet marks for ``terms``, as written there, for a page that
    marks them itself (the document page: 檢索 for 检索, 倒排索引 for ``dpsy``, Spark for ``spak~``)."""
    spans = [(match.start, match.end) for match in _matches(text, analyzer, terms)]
    return {text[start:end] for start, end in _merge(_whole_words(spans, analyzer, text))} if spans else set()


def excerpt(text: str, length: int = 150, title: str | None = None) -> str:
    """The opening of ``text`` as plain text (Markdown rendered: ``plaintext``; a leading
    heading equal to ``title`` and code blocks left out; whitespace folded), with an ellipsis if cut. Not
    HTML-escaped: what a card shows when nothing is highlighted, escaped by whoever makes HTML."""
    flat = " ".join(plain_text(text, title, code_blocks=False).split())
    if len(flat) <= length:
        return flat
    return flat[:length].rstrip() + ELLIPSIS


def _matches(text: str, analyzer: Analyzer, terms: set[str]) -> list[_Match]:
    """The tokens of ``text`` that ``terms`` (a query's analyzed terms) match, with their offsets."""
    stream = analyzer.stream(text, offsets=True)
    assert stream.starts is not None and stream.ends is not None
    pinyin = {term for term in terms if term[:1] in (FULL, INITIALS)}
    found = []
    for term, start, end, cjk in zip(stream.terms, stream.starts, stream.ends, stream.cjk):
        if term in terms or (pinyin and cjk and _by_pinyin(term, pinyin)):
            found.append(_Match(term, start, end))
    return found


def _by_pinyin(word: str, pinyin: set[str]) -> bool:
    """Whether a Chinese word's pinyin forms (the ones ``pinyin_tokens`` indexes) are asked for."""
    if word.startswith(SUB_WORD):  # a straddling sub-word has none
        return False
    forms = word_pinyin(word)
    return forms is not None and (FULL + forms[0] in pinyin or INITIALS + forms[1] in pinyin)


def highlight(text: str, analyzer: Analyzer, terms: set[str], fragment_length: int = 160) -> str | None:
    """A snippet of ``text`` with matched terms marked, or None when no term occurs."""
    if not terms or not text:
        return None
    matched = _matches(text, analyzer, terms)
    if not matched:
        return None
    matched.sort(key=lambda t: t.start)
    best = (0, 0, 0)  # (distinct, count, -start)
    best_start = matched[0].start
    right = 0
    for left, token in enumerate(matched):
        right = max(right, left)
        while right + 1 < len(matched) and matched[right + 1].end - token.start <= fragment_length:
            right += 1
        window = matched[left : right + 1]
        score = (len({t.term for t in window}), len(window), -token.start)
        if score > best:
            best, best_start = score, token.start
    if len(text) <= fragment_length:
        start, end = 0, len(text)
    else:
        start = _nice_start(text, max(0, best_start - fragment_length // 5))
        end = min(len(text), start + fragment_length)
    spans = _merge(_whole_words([(t.start, t.end) for t in matched if t.start < end and t.end > start], analyzer, text))
    body = _render(text, start, end, spans)
    body = " ".join(body.split())
    return (ELLIPSIS if start > 0 else "") + body + (ELLIPSIS if end < len(text) else "")
