"""A stored text field as a reader sees it: Markdown rendered to plain text, for snippets and
excerpts (the document page renders the Markdown itself).

Headings lose their ``#``, emphasis its markers — with no space left where they were, so
``**重点**内容`` reads ``重点内容`` — links and images keep their text, inline code and code
blocks keep their content, so ``slow_query_log`` and ``~/.cache/pip`` stay whole. Raw HTML is text,
as on the document page (``<b>`` reads ``<b>``). A leading heading that repeats the title is left out.
Plain text (a JSONL corpus) comes out as it went in, apart from whitespace.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_BLOCK_ENDS = {"paragraph_close", "heading_close", "list_item_close", "tr_close", "blockquote_close"}


@lru_cache(maxsize=1)
def markdown_parser() -> Any:
    """The one Markdown configuration: CommonMark with tables and strikethrough, raw HTML off
    (shown as text). The document page renders with it; snippets read its tokens."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")


CACHED_UP_TO = 64 * 1024  # characters: longer texts are rendered each time, not kept


def plain_text(text: str, title: str | None = None, *, code_blocks: bool = True) -> str:
    """``text`` rendered from Markdown to plain text (see ``_render``); the renderings of texts
    up to ``CACHED_UP_TO`` characters are remembered (the same notes come back page after page),
    longer ones are not: 512 of them, so the cache stays under ~130 MB whatever the corpus."""
    if len(text) <= CACHED_UP_TO:
        return _cached(text, title, code_blocks)
    return _render(text, title, code_blocks)


@lru_cache(maxsize=512)
def _cached(text: str, title: str | None, code_blocks: bool) -> str:
    return _render(text, title, code_blocks)


def _render(text: str, title: str | None, code_blocks: bool) -> str:
    """``text`` rendered from Markdown to plain text, paragraphs on lines of their own; a first
    heading equal to ``title`` (after trimming) is dropped, and code blocks too unless
    ``code_blocks`` (snippets search them; an excerpt of a note's opening leaves them out)."""
    if not text:
        return ""
    if not _looks_marked_up(text):
        return text
    tokens = markdown_parser().parse(text)
    lines: list[str] = []
    current: list[str] = []
    skip_heading = title is not None and title.strip() != ""  # only ever the first block
    in_heading = False
    heading_parts: list[str] = []

    def end_line() -> None:
        line = " ".join("".join(current).split())
        if line:
            lines.append(line)
        current.clear()

    for token in tokens:
        kind = token.type
        if kind == "heading_open":
            end_line()
            in_heading = True
            heading_parts = []
        elif kind == "inline":
            parts = _inline_text(token.children or [])
            (heading_parts if in_heading else current).append(parts)
        elif kind == "heading_close":
            in_heading = False
            heading = " ".join("".join(heading_parts).split())
            if skip_heading and not lines and title is not None and heading == " ".join(title.split()):
                continue
            if heading:
                lines.append(heading)
        elif kind in ("fence", "code_block"):
            end_line()
            if code_blocks:
                lines.extend(line.strip() for line in token.content.splitlines() if line.strip())
        elif kind in ("th_close", "td_close"):
            current.append(" ")
        elif kind in _BLOCK_ENDS:
            end_line()
    end_line()
    return "\n".join(lines)


def _inline_text(children: list[Any]) -> str:
    out: list[str] = []
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline"):
            out.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            out.append(" ")
        elif kind == "image":
            out.append(_inline_text(child.children or []))
    return "".join(out)


_MARKUP_CHARS = frozenset("#*_`~[]<>|!-+=>")


def _looks_marked_up(text: str) -> bool:
    """Whether parsing can change anything: text with none of Markdown's marks (and no
    numbered line) is returned as it is."""
    return any(char in _MARKUP_CHARS for char in text) or any(line.lstrip()[:1].isdigit() for line in text.splitlines())
