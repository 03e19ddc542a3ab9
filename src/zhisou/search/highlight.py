"""Highlighted snippets: the best window of a stored field around the query's terms.

The field is re-analyzed with its own analyzer, so matches are found exactly as the index
found them (Chinese without spaces included) and marked at the original character offsets.
The window with the most distinct matched terms wins, then the most matches, then the
earliest. Text is HTML-escaped; matches are wrapped in ``<mark>``.
"""

from __future__ import annotations

import html
import re
from typing import NamedTuple

from zhisou.analysis import Analyzer

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


_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.S)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"(^|\s)(#{1,6}|[-*+>]|\d+\.)\s+|[*_`~|]", re.M)


def excerpt(text: str, length: int = 150) -> str:
    """The opening of ``text`` as plain text (Markdown markup and code blocks dropped, whitespace
    folded), HTML-escaped, with an ellipsis if cut: what a card shows when nothing is highlighted."""
    flat = " ".join(_MARKUP.sub(" ", _LINK.sub(r"\1", _CODE_BLOCK.sub(" ", text))).split())
    if len(flat) <= length:
        return html.escape(flat)
    return html.escape(flat[:length].rstrip()) + ELLIPSIS


def highlight(text: str, analyzer: Analyzer, terms: set[str], fragment_length: int = 160) -> str | None:
    """A snippet of ``text`` with matched terms marked, or None when no term occurs."""
    if not terms or not text:
        return None
    stream = analyzer.stream(text, offsets=True)
    assert stream.starts is not None and stream.ends is not None
    matched = [
        _Match(term, start, end) for term, start, end in zip(stream.terms, stream.starts, stream.ends) if term in terms
    ]
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
    spans = _merge([(t.start, t.end) for t in matched if t.start < end and t.end > start])
    body = _render(text, start, end, spans)
    body = " ".join(body.split())
    return (ELLIPSIS if start > 0 else "") + body + (ELLIPSIS if end < len(text) else "")
