"""Long documents as passages the encoder can read whole.

A document's text is cut into sentences (after ``。！？；.!?`` and line breaks; a run of
more than 400 characters without one is cut every 400 characters — under 512 tokens in
either language), sentences are packed greedily into passages of
at most ``max_tokens`` tokens, and consecutive passages share about ``overlap`` tokens of
sentences, so a statement that straddles a cut is whole in one of them. The title leads every
passage (a passage out of context still says what it is about). Token counts come from the
embedder's own tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=\.)(?=\s)|\n+")
_MAX_PIECE_CHARS = 400  # a sentence longer than this is cut before token counting


@dataclass(frozen=True)
class Passage:
    doc: int  # which of the documents given
    text: str  # what is encoded: the title, then the passage
    start: int  # character span of the passage in the document's text
    end: int


def sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (whitespace trimmed, empty ones dropped;
    a run without an end mark is cut every ``_MAX_PIECE_CHARS`` characters)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text + "\n"):
        end = match.start()
        if end <= start:
            start = max(start, match.end())
            continue
        for piece in range(start, end, _MAX_PIECE_CHARS):
            left, right = piece, min(end, piece + _MAX_PIECE_CHARS)
            while left < right and text[left].isspace():
                left += 1
            while right > left and text[right - 1].isspace():
                right -= 1
            if right > left:
                spans.append((left, right))
        start = match.end()
    return spans


def split_passages(
    texts: Sequence[str],
    titles: Sequence[str],
    count_tokens: Callable[[list[str]], list[int]],
    max_tokens: int,
    overlap: int = 32,
) -> list[Passage]:
    """Passages of every document, documents in order; every document gives at least one
    passage (its title alone when it has no text)."""
    out: list[Passage] = []
    for number, (text, title) in enumerate(zip(texts, titles)):
        head = f"{title}\n" if title else ""
        spans = sentences(text)
        if not spans:
            out.append(Passage(number, head.strip() or text.strip(), 0, len(text)))
            continue
        budget = max(8, max_tokens - (count_tokens([head])[0] if head else 0))
        sizes = count_tokens([text[a:b] for a, b in spans])
        first = 0
        while first < len(spans):
            last, used = first, sizes[first]
            while last + 1 < len(spans) and used + sizes[last + 1] <= budget:
                last += 1
                used += sizes[last]
            start, end = spans[first][0], spans[last][1]
            out.append(Passage(number, head + text[start:end], start, end))
            if last + 1 >= len(spans):
                break
            # The next passage starts with the last sentences of this one, about ``overlap`` tokens.
            shared, back = 0, last
            while back > first and shared + sizes[back] <= overlap:
                shared += sizes[back]
                back -= 1
            first = max(first + 1, back + 1)
    return out
