"""The ``zhisou`` command line. Thin over the Python API: tables for people, ``--json`` for programs.

Exit codes: 0 success; 1 finished, but some input records were skipped; 2 invalid input
(query syntax, schema, bad option); 3 index problem (missing, locked, damaged); 130 interrupted.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from zhisou._version import __version__
from zhisou.api import Index
from zhisou.errors import (
    CorruptIndexError,
    IndexExistsError,
    IndexLockedError,
    IndexNotFoundError,
    QuerySyntaxError,
    ZhisouError,
)
from zhisou.schema import Schema
from zhisou.search.similarity import BM25, SIMILARITIES

EXIT_SKIPPED, EXIT_INPUT, EXIT_INDEX = 1, 2, 3
DEFAULT_INDEX = "zhisou-index"

app = typer.Typer(
    help="知搜 zhisou — search Chinese and English documents. An index is a directory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

IndexOption = Annotated[
    Path, typer.Option("--index", "-i", envvar="ZHISOU_INDEX", help="Index directory.", show_default=True)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for programs.")]

T = TypeVar("T")


def fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def run(action: Callable[[], T]) -> T:
    """Turn library errors into one line and an exit code, never a traceback."""
    try:
        return action()
    except QuerySyntaxError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        err.print(f"  {escape(exc.query)}\n  {' ' * exc.position}^")
        raise typer.Exit(EXIT_INPUT) from None
    except (IndexNotFoundError, IndexLockedError, CorruptIndexError, IndexExistsError) as exc:
        fail(str(exc), EXIT_INDEX)
    except ZhisouError as exc:
        fail(str(exc), EXIT_INPUT)
    except KeyboardInterrupt:
        err.print("interrupted; the last commit is intact")
        raise typer.Exit(130) from None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _marked(snippet: str) -> Text:
    """HTML snippet with <mark> → rich text with the matches in bold yellow."""
    import html

    text = Text()
    for piece in re.split(r"(<mark>.*?</mark>)", snippet):
        if piece.startswith("<mark>"):
            text.append(html.unescape(piece[6:-7]), style="bold yellow")
        else:
            text.append(html.unescape(piece))
    return text


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        docs = task.fields.get("docs", 0)
        elapsed = task.elapsed or 0
        rate = docs / elapsed if elapsed > 0 else 0
        return Text(f"{docs:,} docs  {rate:,.0f} docs/s", style="cyan")


# -- commands ----------------------------------------------------------------------------------
@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the index.")],
    schema: Annotated[Path | None, typer.Option(help="Schema JSON file (default: notes and blogs).")] = None,
    overwrite: Annotated[
        bool,
        typer.Option(help="Replace an existing index, or create one in a folder holding other files (left alone)."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create an empty index."""

    def action() -> None:
        spec = Schema.load(schema) if schema else Schema.default()
        index = Index.create(directory, spec, overwrite=overwrite)
        if as_json:
            print_json(index.stats())
        else:
            fields = ", ".join(f"{f.name}:{f.type}" for f in spec.fields)
            out.print(f"created index at [bold]{escape(str(directory))}[/] with fields {escape(fields)}")

    run(action)


@app.command("index")
def index_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders: .jsonl .json .csv .parquet .md .html .txt")],
    index: IndexOption = Path(DEFAULT_INDEX),
    strict: Annotated[bool, typer.Option(help="Stop at the first bad record and add nothing.")] = False,
    field_map: Annotated[list[str] | None, typer.Option("--map", help="Rename a source field: --map text=body")] = None,
    schema: Annotated[Path | None, typer.Option(help="Schema for a new index.")] = None,
    commit_every: Annotated[int, typer.Option(min=1, help="Commit after this many documents.")] = 10_000,
    commit_interval: Annotated[float, typer.Option(min=0.001, help="Commit at least this often (seconds).")] = 60.0,
    as_json: JsonOption = False,
) -> None:
    """Add documents from files (creating the index if needed). Re-adding an id replaces it.

    Commits as it goes; Ctrl-C commits what was read and stops (a second Ctrl-C stops at once).
    Running the same command again skips the documents already indexed unchanged."""
    import signal

    from zhisou.ingest.pipeline import ingest, total_bytes

    def action() -> None:
        mapping: dict[str, str] = {}
        for item in field_map or []:
            source, sep, target = item.partition("=")
            if not sep or not source or not target:
                raise ZhisouError(f"--map expects source=target, got {item!r}")
            mapping[source] = target
        target_index = Index.open_or_create(index, Schema.load(schema) if schema else None)
        started = time.perf_counter()
        show = not as_json
        with Progress(
            TextColumn("[bold]indexing"),
            BarColumn(),
            RateColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=not show,
            transient=False,
        ) as progress:
            task = progress.add_task("index", total=total_bytes(paths) or None, docs=0)

            def on_record(size: int, added: int) -> None:
                progress.update(task, advance=size, docs=added)

            def on_error(error: ZhisouError) -> None:
                if show:
                    progress.console.print(f"[yellow]skipped[/] {escape(str(error))}")

            stopping: list[bool] = []

            def on_interrupt(signum: int, frame: object) -> None:
                stopping.append(True)
                signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: at once
                progress.console.print("[yellow]stopping[/]: committing what was read (Ctrl-C again to abort)")

            previous = signal.signal(signal.SIGINT, on_interrupt)
            try:
                report = ingest(
                    target_index,
                    paths,
                    strict=strict,
                    field_map=mapping,
                    on_record=on_record,
                    on_error=on_error,
                    commit_every=commit_every,
                    commit_seconds=commit_interval,
                    stop=lambda: bool(stopping),
                )
            finally:
                signal.signal(signal.SIGINT, previous)
            progress.update(task, completed=progress.tasks[0].total or 0)
        elapsed = time.perf_counter() - started
        target_index.close()
        if as_json:
            print_json({**report.to_dict(), "seconds": round(elapsed, 3)})
        else:
            rate = report.added / elapsed if elapsed > 0 else 0
            out.print(
                f"added {report.added:,} documents in {elapsed:.1f}s ({rate:,.0f} docs/s); "
                f"unchanged {report.unchanged:,}; skipped {report.skipped}; commit generation {report.generation}"
            )
        if report.interrupted:
            kept = (
                "nothing was added (--strict)"
                if strict
                else f"what was read is committed (generation {report.generation})"
            )
            err.print(f"interrupted: {kept}; run the same command again to resume — unchanged documents are skipped")
            raise typer.Exit(130)
        if report.skipped:
            raise typer.Exit(EXIT_SKIPPED)

    run(action)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Query: words, "phrases", AND/OR/NOT, +must -not, field:value, ranges.')],
    index: IndexOption = Path(DEFAULT_INDEX),
    page: Annotated[int, typer.Option(min=1, help="Page number (1-based).")] = 1,
    size: Annotated[int, typer.Option(min=1, max=1000, help="Hits per page.")] = 10,
    filters: Annotated[
        list[str] | None, typer.Option("--filter", "-f", help="Filter, e.g. tags:llm or date:>=2024-01-01.")
    ] = None,
    sort: Annotated[str | None, typer.Option(help="Sort by a date/number field; -date = newest first.")] = None,
    operator: Annotated[str, typer.Option(help="Default operator between words: or | and.")] = "or",
    as_json: JsonOption = False,
) -> None:
    """Search the index."""

    def action() -> None:
        if operator not in ("or", "and"):
            raise ZhisouError(f"--operator must be 'or' or 'and', got {operator!r}")
        searched = Index.open(index)
        result = searched.search(
            query,
            page=page,
            size=size,
            filters=filters or None,
            sort=sort,
            default_operator=operator,  # type: ignore[arg-type]
        )
        if as_json:
            print_json(result.to_dict())
            return
        if not result.hits:
            out.print(f"no results for [bold]{escape(query)}[/] ({result.total} matches, page {page})")
            return
        from zhisou.search.hits import CardFields, snippet

        fields = CardFields.of(searched.schema)
        for hit in result.hits:
            title = fields.title_of(hit)
            out.print(f"[bold]{hit.rank:>2}. {escape(title)}[/]  [dim]{escape(hit.id)} · {hit.score:.3f}[/]")
            shown = snippet(hit, fields)
            if shown is not None:
                out.print(Text("    ").append_text(_marked(shown)))
        out.print(
            f"[dim]{result.total:,} matches · page {result.page}/{max(result.pages, 1)} · {result.took_ms:.1f} ms[/]"
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
def delete(
    doc_ids: Annotated[list[str], typer.Argument(help="Document ids.")],
    index: IndexOption = Path(DEFAULT_INDEX),
    as_json: JsonOption = False,
) -> None:
    """Delete documents by id (committed at once)."""

    def action() -> None:
        with Index.open(index) as target:
            deleted = target.delete(doc_ids)
            generation = target.commit()
        if as_json:
            print_json({"deleted": deleted, "generation": generation})
        else:
            out.print(f"deleted {deleted} of {len(doc_ids)} ids; commit generation {generation}")
        if deleted < len(doc_ids):
            raise typer.Exit(EXIT_SKIPPED)

    run(action)


@app.command()
def stats(index: IndexOption = Path(DEFAULT_INDEX), as_json: JsonOption = False) -> None:
    """Documents, segments, terms and size of the index."""

    def action() -> None:
        info = Index.open(index).stats()
        if as_json:
            print_json(info)
            return
        table = Table(box=None, show_header=False)
        for key in ("path", "generation", "documents", "deleted", "segments", "terms"):
            table.add_row(key, f"{info[key]:,}" if isinstance(info[key], int) else escape(str(info[key])))
        table.add_row("size", f"{info['size_bytes'] / 1e6:.2f} MB")
        table.add_row("fields", escape(", ".join(f"{f['name']}:{f['type']}" for f in info["fields"])))
        out.print(table)

    run(action)


@app.command()
def optimize(index: IndexOption = Path(DEFAULT_INDEX), as_json: JsonOption = False) -> None:
    """Merge all segments into one and purge deleted documents."""

    def action() -> None:
        with Index.open(index) as target:
            generation = target.optimize()
            info = target.stats()
        if as_json:
            print_json(info)
        else:
            out.print(f"optimized: {info['segments']} segment(s), generation {generation}")

    run(action)


@app.command()
def check(index: IndexOption = Path(DEFAULT_INDEX), as_json: JsonOption = False) -> None:
    """Read every file of the current commit: sizes, headers, checksums, structure. Lists every problem."""
    from zhisou.index.check import check_index

    def action() -> None:
        if not index.is_dir():
            raise IndexNotFoundError(f"no zhisou index at {index}")
        report = check_index(index)
        if as_json:
            print_json({**vars(report), "ok": report.ok})
        elif report.ok:
            out.print(
                f"{escape(str(index))}: all {report.files} files match their checksums "
                f"(generation {report.generation}, {report.segments} segments, {report.documents:,} documents)"
            )
        else:
            for problem in report.problems:
                err.print(f"[bold red]damaged:[/] {escape(problem)}")
            err.print(f"{len(report.problems)} problem(s); restore the index from a backup or rebuild it")
        if not report.ok:
            raise typer.Exit(EXIT_INDEX)

    run(action)


def sample_corpus() -> Path:
    """The bundled notes: ``examples/notes`` in a source checkout, else the copy in the package."""
    checkout = Path(__file__).resolve().parents[2] / "examples" / "notes"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("zhisou") / "_sample" / "notes"))


DEMO_ORIGIN = "zhisou demo"
DEMO_QUERIES = ("倒排索引", "learning to rank", '"混合精度"', "tags:spark", "檢索 BM25", "attention -tags:llm")


@app.command()
def demo(
    index: Annotated[Path, typer.Option("--index", "-i", help="Where to build the demo index.")] = Path("zhisou-demo"),
    overwrite: Annotated[bool, typer.Option(help="Replace an index that `zhisou demo` did not create.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Index the bundled sample notes and run a few example searches."""
    from zhisou.ingest.pipeline import ingest

    def action() -> None:
        corpus = sample_corpus()
        if not corpus.is_dir():
            fail(f"sample corpus not found at {corpus}; reinstall zhisou", EXIT_INDEX)
        # A demo index is rebuilt freely; anything else at that path needs --overwrite.
        rebuild = overwrite or Index.origin_of(index) == DEMO_ORIGIN
        from zhisou.search.hits import CardFields

        target = Index.create(index, overwrite=rebuild, origin=DEMO_ORIGIN)
        started = time.perf_counter()
        report = ingest(target, [corpus])
        elapsed = time.perf_counter() - started
        results = {q: target.search(q, size=3) for q in DEMO_QUERIES}
        target.close()
        if as_json:
            print_json(
                {"index": str(index), **report.to_dict(), "queries": {q: r.to_dict() for q, r in results.items()}}
            )
            return
        out.print(
            f"indexed {report.added} notes from {escape(str(corpus))} into "
            f"[bold]{escape(str(index))}[/] in {elapsed:.2f}s\n"
        )
        for query, result in results.items():
            out.print(f"[bold cyan]zhisou search {escape(query)!r}[/]  [dim]({result.total} matches)[/]")
            for hit in result.hits:
                out.print(
                    f"  {hit.rank}. [bold]{escape(CardFields.of(target.schema).title_of(hit))}[/] "
                    f"[dim]{escape(hit.id)} · {hit.score:.2f}[/]"
                )
            out.print()
        out.print(f'try: [bold]zhisou search -i {escape(str(index))} "你的查询"[/]')
        out.print(f"or browse them: [bold]zhisou serve -i {escape(str(index))}[/] (needs the serve extra)")

    run(action)


@app.command("eval")
def eval_command(
    dataset: Annotated[Path, typer.Option("--dataset", "-d", help="BEIR-format dataset directory.")],
    split: Annotated[str, typer.Option(help="qrels/<split>.tsv to evaluate.")] = "test",
    mode: Annotated[
        str, typer.Option(help="Retrieval mode: bm25 = keyword (semantic/dense, hybrid, ltr: planned).")
    ] = "bm25",
    k: Annotated[int, typer.Option("--k", help="Hits retrieved per query.")] = 1000,
    run_file: Annotated[Path | None, typer.Option("--run", help="Write a TREC run file here.")] = None,
    k1: Annotated[float, typer.Option(help="BM25 k1 (no reindex needed to change it).")] = BM25.k1,
    b: Annotated[float, typer.Option(help="BM25 b.")] = BM25.b,
    similarity_name: Annotated[
        str, typer.Option("--similarity", help=f"Scoring function: {' | '.join(SIMILARITIES)}.")
    ] = "bm25",
    cache: Annotated[
        Path | None, typer.Option(help="Index cache directory (default $ZHISOU_CACHE or ~/.cache/zhisou).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate retrieval on a BEIR dataset: nDCG@10, Recall@100/1000, MRR@10, MAP, queries/s."""
    from zhisou.eval.runner import run_evaluation

    def action() -> None:
        def on_progress(count: int) -> None:
            if not as_json and err.is_terminal:
                err.print(f"indexing: {count:,} documents", end="\r")

        if similarity_name not in SIMILARITIES:
            raise ZhisouError(f"unknown similarity {similarity_name!r}; choose one of: {', '.join(SIMILARITIES)}")
        try:
            similarity = SIMILARITIES[similarity_name](k1, b)
        except ValueError as exc:
            raise ZhisouError(str(exc)) from exc
        report = run_evaluation(
            dataset,
            split=split,
            mode=mode,
            k=k,
            cache_dir=cache,
            run_file=run_file,
            similarity=similarity,
            on_progress=on_progress,
        )
        if as_json:
            print_json(report.to_dict())
            return
        built = f"built in {report.index_seconds:.1f}s" if report.index_seconds is not None else "cached"
        out.print(
            f"[bold]{escape(report.dataset)}[/] ({report.split}): {report.queries:,} queries, "
            f"{report.documents:,} documents, mode {report.mode}, k={report.k}; index {built}"
        )
        table = Table(box=None)
        for name in report.metrics:
            table.add_column(name, justify="right")
        table.add_column("queries/s", justify="right")
        table.add_row(*(f"{v:.4f}" for v in report.metrics.values()), f"{report.queries_per_second:,.0f}")
        out.print(table)
        if run_file is not None:
            out.print(f"run written to {escape(str(run_file))}")

    run(action)


@app.command()
def serve(
    index: IndexOption = Path(DEFAULT_INDEX),
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[
        str | None, typer.Option(envvar="ZHISOU_TOKEN", help="Bearer token for write endpoints.", show_default=False)
    ] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Refuse every write endpoint.")] = False,
    search_log: Annotated[
        bool, typer.Option("--search-log/--no-search-log", help="Log queries, shown results and clicks.")
    ] = True,
    page_size: Annotated[int, typer.Option(help="Results per page in the web UI.")] = 10,
    threads: Annotated[int, typer.Option(help="Worker threads for searches (more rarely helps: one GIL).")] = 1,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host", help="Host name clients use to reach the server (repeatable; default: loopback)."
        ),
    ] = None,
) -> None:
    """Serve the web UI (latest updates, search, documents) and the HTTP API (/api/docs)."""

    def action() -> None:
        try:
            import uvicorn

            from zhisou.serve.app import create_app
            from zhisou.serve.server import uvicorn_config
            from zhisou.serve.settings import ServeSettings
        except ImportError as exc:
            fail(f"zhisou serve needs the serve extra ({exc.name} is missing): pip install 'zhisou[serve]'", EXIT_INPUT)
        settings = ServeSettings(
            index,
            host=host,
            port=port,
            token=token,
            writes=not read_only,
            search_log=search_log,
            page_size=page_size,
            threads=threads,
            allowed_hosts=tuple(allowed_host or ()),
        )
        application = create_app(settings)
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            try:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
            except OSError as exc:
                fail(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port or --host", EXIT_INPUT)
        writes = (
            "read-only" if read_only else ("writes need a token" if settings.write_token else "writes open (loopback)")
        )
        err.print(f"serving [bold]{escape(str(index))}[/] on http://{host}:{port}/  ({writes}; API docs at /api/docs)")
        uvicorn.Server(uvicorn_config(application, host, port)).run()

    run(action)


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False) -> None:
    if version:
        out.print(f"zhisou {__version__}")
        raise typer.Exit()


def main() -> None:
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()


if __name__ == "__main__":
    main()
