"""Hits, in one place for the CLI, the HTTP API and the web UI: hydration (a ranked document's
stored fields and highlighted snippets), which fields play the title, body, date and tags of a
card (read from the schema once), the card itself, and the snippet that stands under a title."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zhisou.index.reader import IndexReader
from zhisou.schema import Schema
from zhisou.search.highlight import excerpt, highlight
from zhisou.search.plaintext import plain_text
from zhisou.search.results import Hit

EXCERPT_CHARS = 150


def hydrate(
    reader: IndexReader,
    docs: Sequence[int],
    scores: Sequence[float],
    first_rank: int,
    terms: dict[str, set[str]],
    highlight_fields: Sequence[str] | None = None,
) -> list[Hit]:
    """Ranked documents as hits: stored fields, and a snippet per text field with the query's
    ``terms`` (field → analyzed terms) marked; ``highlight_fields`` limits which fields."""
    hits = []
    title = CardFields.of(reader.schema).title
    for rank, (doc, score) in enumerate(zip(docs, scores), start=first_rank):
        stored = reader.stored(doc)
        hits.append(
            Hit(
                str(stored.get(reader.schema.id_field)),
                score,
                rank,
                stored,
                highlights(reader, stored, terms, highlight_fields, title),
            )
        )
    return hits


def highlights(
    reader: IndexReader,
    stored: dict[str, Any],
    terms: dict[str, set[str]],
    wanted: Sequence[str] | None = None,
    title_field: str | None = None,
) -> dict[str, str]:
    """field → HTML snippet with the terms marked, for text fields holding any of them. Fields
    other than the title (``CardFields.title``) are read as rendered text: no '#', and no first
    heading that repeats the title."""
    out: dict[str, str] = {}
    for spec in reader.schema.text_fields:
        if wanted is not None and spec.name not in wanted:
            continue
        value = stored.get(spec.name)
        field_terms = terms.get(spec.name)
        if not isinstance(value, str) or not field_terms:
            continue
        if spec.name != title_field:
            title = stored.get(title_field) if title_field else None
            value = plain_text(value, title if isinstance(title, str) else None)
        marked = highlight(value, reader.analyzers.get(spec.analyzer_name), field_terms)
        if marked is not None:
            out[spec.name] = marked
    return out


@dataclass(frozen=True)
class CardFields:
    """The schema's fields in the roles a card shows: the text field ``title`` (else, when there
    are several text fields, the first), ``body`` (else the last text field), the first date
    field, and ``tags`` when it is a keyword field."""

    title: str | None
    body: str | None
    date: str | None
    tags: str | None

    @classmethod
    def of(cls, schema: Schema) -> CardFields:
        fields = {f.name: f for f in schema.fields}
        text = [f.name for f in schema.text_fields]
        tags = fields.get("tags")
        title = "title" if "title" in text else (text[0] if len(text) > 1 else None)
        return cls(
            title=title,
            body="body" if "body" in text else (text[-1] if text and text[-1] != title else None),
            date=next((f.name for f in schema.fields if f.type == "date"), None),
            tags="tags" if tags is not None and tags.type == "keyword" else None,
        )

    def title_of(self, hit: Hit) -> str:
        value = hit.doc.get(self.title) if self.title else None
        return str(value) if value not in (None, "") else hit.id


def card(hit: Hit, fields: CardFields, excerpt_chars: int = EXCERPT_CHARS) -> dict[str, Any]:
    """A hit as the API and the pages show it: ``excerpt`` is the body's opening as plain text
    (Markdown rendered, not HTML-escaped), ``excerpt_html`` the same, escaped for a page."""
    doc = hit.doc
    body = doc.get(fields.body) if fields.body else None
    title = doc.get(fields.title) if fields.title else None
    opening = excerpt(body, excerpt_chars, title if isinstance(title, str) else None) if isinstance(body, str) else ""
    out = {
        "id": hit.id,
        "rank": hit.rank,
        "score": round(hit.score, 4),
        "title": doc.get(fields.title) if fields.title else None,
        "date": doc.get(fields.date) if fields.date else None,
        "tags": (doc.get(fields.tags) or []) if fields.tags else [],
        "url": doc.get("url"),
        "excerpt": opening,
        "excerpt_html": html.escape(opening),
        "highlights": hit.highlights,
    }
    if hit.explain is not None:
        out["explain"] = hit.explain
    return out


def snippet(hit: Hit, fields: CardFields, excerpt_chars: int = 120) -> str | None:
    """HTML under a title: the body's highlighted snippet, else another field's (not the
    title's), else the body's opening; None when there is nothing to show."""
    highlights = hit.highlights
    for name in (fields.body, *highlights):
        if name is not None and name in highlights and name != fields.title:
            return highlights[name]
    body = hit.doc.get(fields.body) if fields.body else None
    if not isinstance(body, str) or not body:
        return None
    title = hit.doc.get(fields.title) if fields.title else None
    return html.escape(excerpt(body, excerpt_chars, title if isinstance(title, str) else None)) or None
