"""Commands that read an index: search, get, suggest."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from zhisou.api import Index
from zhisou.cli.base import (
    DEFAULT_INDEX,
    EXIT_INPUT,
    IndexOption,
    JsonOption,
    app,
    count,
    fail,
    out,
    print_json,
    run,
)
from zhisou.cli.render import print_hits
from zhisou.errors import ZhisouError
from zhisou.modes import SEARCH_MODES, search_mode
from zhisou.search.fusion import DEFAULT_FUSION, DEFAULT_NORMALIZATION, DEFAULT_WEIGHT


@app.command()
def search(
    query: Annotated[
        str,
        typer.Argument(
            help='Query: words, "phrases", AND/OR/NOT, +must -not, field:value, ranges, '
            'word^2 (boost), word~ (fuzzy), "a b"~2 (proximity).'
        ),
    ],
    index: IndexOption = Path(DEFAULT_INDEX),
    page: Annotated[int, typer.Option(min=1, help="Page number (1-based).")] = 1,
    size: Annotated[int, typer.Option(min=0, max=1000, help="Hits per page (0: the count only).")] = 10,
    filters: Annotated[
        list[str] | None, typer.Option("--filter", "-f", help="Filter, e.g. tags:llm or date:>=2024-01-01.")
    ] = None,
    sort: Annotated[str | None, typer.Option(help="Sort by a date/number field; -date = newest first.")] = None,
    operator: Annotated[str, typer.Option(help="Default operator between words: or | and.")] = "or",
    mode: Annotated[str, typer.Option(help=f"Retrieval mode: {' | '.join(SEARCH_MODES)}.")] = "keyword",
    explain: Annotated[
        bool,
        typer.Option("--explain", metavar="", help="Show each hit's rank and score in every channel, and the fusion."),
    ] = False,
    fusion: Annotated[str, typer.Option(help="Hybrid fusion: convex | rrf.")] = DEFAULT_FUSION,
    fusion_weight: Annotated[
        float, typer.Option(help="Convex fusion: the semantic list's weight, 0 (keywords) to 1 (meaning).")
    ] = DEFAULT_WEIGHT,
    normalization: Annotated[str, typer.Option(help="Convex fusion: zscore | minmax.")] = DEFAULT_NORMALIZATION,
    as_json: JsonOption = False,
) -> None:
    """Search the index."""

    def action() -> None:
        started = time.perf_counter()
        searched = Index.open(index)
        searcher = searched.searcher()
        has_model = mode == "ltr" and searcher.ranking_model() is not None
        chosen = search_mode(mode, has_vectors=searcher.has_vectors, has_model=has_model).name
        if operator not in ("or", "and"):
            raise ZhisouError(f"--operator must be 'or' or 'and', got {operator!r}")
        options = {
            "page": page,
            "size": size,
            "filters": filters or None,
            "sort": sort,
            "default_operator": operator,
            "mode": chosen,
            "explain": explain,
            "fusion": fusion,
            "fusion_weight": fusion_weight,
            "normalization": normalization,
        }
        # The first search of a process also loads the compiled kernels (for semantic modes,
        # the model; for snippets, the Markdown parser): start-up, not search. It runs once
        # untimed.
        searched.search(query, **{**options, "explain": False})
        startup_ms = (time.perf_counter() - started) * 1000
        result = searched.search(query, **options)
        # Nothing matched anywhere: a corrected query, as the web page offers.
        suggestion = searcher.did_you_mean(query) if result.total == 0 and query.strip() else None
        if as_json:
            print_json({**result.to_dict(), "suggestion": suggestion, "startup_ms": round(startup_ms, 3)})
            return
        if not result.hits:
            matches = count(result.total, "match", "matches")
            if size == 0:
                out.print(f"{matches} for [bold]{escape(query)}[/]" if query.strip() else matches)
                return
            out.print(f"no results for [bold]{escape(query)}[/] ({matches}, page {page})")
            if suggestion:
                out.print(f"did you mean: [bold]{escape(suggestion)}[/]?")
            return
        print_hits(out, result, searched.schema)
        out.print(
            f"[dim]{count(result.total, 'match', 'matches')} · page {result.page}/{max(result.pages, 1)} · "
            f"{result.took_ms:.1f} ms (start-up {startup_ms:,.0f} ms)[/]"
        )

    run(action)


@app.command()
def get(
    doc_id: Annotated[str, typer.Argument(help="Document id.")],
    index: IndexOption = Path(DEFAULT_INDEX),
    as_json: JsonOption = False,
) -> None:
    """Show one document's stored fields."""

    def action() -> None:
        doc = Index.open(index).get(doc_id)
        if doc is None:
            fail(f"no document with id {doc_id!r} in {index}", EXIT_INPUT)
        if as_json:
            print_json(doc)
        else:
            for key, value in doc.items():
                out.print(f"[bold]{escape(key)}[/]: {escape(str(value))}")

    run(action)


@app.command()
def suggest(
    prefix: Annotated[str, typer.Argument(help="What has been typed so far: words, pinyin or initials.")],
    index: IndexOption = Path(DEFAULT_INDEX),
    size: Annotated[int, typer.Option(min=1, max=20, help="How many completions.")] = 8,
    as_json: JsonOption = False,
) -> None:
    """Complete a prefix: popular past searches first, then titles and tags."""

    def action() -> None:
        found = Index.open(index).suggest(prefix, size)
        if as_json:
            print_json({"q": prefix, "suggestions": [completion.as_dict() for completion in found]})
            return
        if not found:
            out.print(f"no completions for {escape(prefix)!r}")
        for completion in found:
            note = " (corrected)" if completion.corrected else ""
            out.print(f"{escape(completion.text)}  [dim]{completion.source}{note}[/]")

    run(action)
