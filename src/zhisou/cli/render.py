"""Shared rendering for people: hit lists with highlighted snippets, and indexing progress."""

from __future__ import annotations

import html
import re
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

from zhisou.schema import Schema
from zhisou.search.hits import CardFields, snippet
from zhisou.search.results import SearchResult


def marked(html_snippet: str) -> Text:
    """HTML snippet with <mark> → rich text with the matches in bold yellow."""
    text = Text()
    for piece in re.split(r"(<mark>.*?</mark>)", html_snippet):
        if piece.startswith("<mark>"):
            text.append(html.unescape(piece[6:-7]), style="bold yellow")
        else:
            text.append(html.unescape(piece))
    return text


def print_hits(
    console: Console, result: SearchResult, schema: Schema, *, snippets: bool = True, indent: str = ""
) -> None:
    """One line per hit — rank, title (from the schema's roles, ``search/hits.py``), id, score —
    and, with ``snippets``, the highlighted snippet under it."""
    fields = CardFields.of(schema)
    for hit in result.hits:
        title = fields.title_of(hit)
        console.print(f"{indent}[bold]{hit.rank:>2}. {escape(title)}[/]  [dim]{escape(hit.id)} · {hit.score:.3f}[/]")
        shown = snippet(hit, fields) if snippets else None
        if shown is not None:
            console.print(Text(indent + "    ").append_text(marked(shown)))
        if hit.explain is not None:
            console.print(f"{indent}    [cyan]{escape(explanation_line(hit.explain))}[/]")


def explanation_line(explain: dict[str, Any]) -> str:
    """``bm25 #3 12.410 · semantic #1 0.873 → rrf (k=60): … = 0.0325`` (``search/explain.py``),
    then the learned ranker's score and the features it read (those not 0)."""
    parts = [
        f"{name} —" if found is None else f"{name} #{found['rank']} {found['score']:.3f}"
        for name, found in explain["channels"].items()
    ]
    fused = f" → {explain['fusion']} = {explain['score']:.4f}" if explain.get("fusion") else ""
    rerank = explain.get("rerank")
    if rerank:  # the learned ranker's score, and the features it read that are not 0
        shown = ", ".join(f"{name} {value:g}" for name, value in rerank["features"].items() if value)
        fused += f" → {rerank['model']} = {rerank['score']:.4f} ({shown})"
    return " · ".join(parts) + fused


class RateColumn(ProgressColumn):
    """Items done and items per second (documents, or passages with ``unit``), for ``rich.progress``."""

    def render(self, task: Task) -> Text:
        docs = task.fields.get("docs", 0)
        unit = task.fields.get("unit", "docs")
        elapsed = task.elapsed or 0
        rate = docs / elapsed if elapsed > 0 else 0
        return Text(f"{docs:,} {unit}  {rate:,.0f} {unit}/s", style="cyan")


def progress_bar(console: Console, show: bool, *, transient: bool) -> Progress:
    """The progress display of long commands: description, bar, items and rate, time left."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        RateColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not show,
        transient=transient,
    )
