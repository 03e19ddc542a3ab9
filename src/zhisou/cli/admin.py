"""Commands that look after an index: stats, optimize, check, logs prune."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from zhisou.api import Index
from zhisou.cli.base import (
    DEFAULT_INDEX,
    EXIT_INDEX,
    IndexOption,
    JsonOption,
    app,
    count,
    err,
    out,
    print_json,
    run,
)
from zhisou.errors import IndexNotFoundError
from zhisou.serve.searchlog import SearchLog
from zhisou.values import parse_duration


@app.command()
def stats(index: IndexOption = Path(DEFAULT_INDEX), as_json: JsonOption = False) -> None:
    """Documents, segments, terms and size of the index."""

    def action() -> None:
        info = Index.open(index).stats()
        if as_json:
            print_json(info)
            return
        table = Table(box=None, show_header=False)
        for key in ("path", "shards", "generation", "documents", "deleted", "segments", "terms"):
            table.add_row(key, f"{info[key]:,}" if isinstance(info[key], int) else escape(str(info[key])))
        table.add_row("size", f"{info['size_bytes'] / 1e6:.2f} MB")
        table.add_row("fields", escape(", ".join(f"{f['name']}:{f['type']}" for f in info["fields"])))
        if info["old_codec_segments"]:
            old = info["old_codec_segments"]
            table.add_row("codec", f"{old} segment(s) of an older codec: `zhisou optimize` rewrites them")
        if info["old_analysis_segments"]:
            old = info["old_analysis_segments"]
            table.add_row(
                "analysis",
                f"{old} segment(s) analyzed by an older zhisou: words whose analysis changed since are found "
                "once their documents are indexed again (`zhisou index` or `zhisou sync` of their source)",
            )
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
                f"(generation {report.generation}, {count(report.segments, 'segment', 'segments')}, "
                f"{count(report.documents, 'document', 'documents')})"
            )
        else:
            for problem in report.problems:
                err.print(f"[bold red]damaged:[/] {escape(problem)}")
            err.print(f"{len(report.problems)} problem(s); restore the index from a backup or rebuild it")
        if not report.ok:
            raise typer.Exit(EXIT_INDEX)

    run(action)


logs_app = typer.Typer(help="The search log: what was searched and clicked.", no_args_is_help=True)
app.add_typer(logs_app, name="logs")


@logs_app.command("prune")
def logs_prune(
    older_than: Annotated[str, typer.Option("--older-than", help="Remove what was logged longer ago: 90d, 36h.")],
    index: IndexOption = Path(DEFAULT_INDEX),
    as_json: JsonOption = False,
) -> None:
    """Delete search-log events older than a span (whole days, and the older lines of the day the cut falls in)."""

    def action() -> None:
        seconds = parse_duration(older_than, "--older-than", low=86_400)
        Index.open(index).close()  # one clear error when there is no index here
        files, lines = SearchLog(index / "logs").prune(seconds)
        if as_json:
            print_json({"files_removed": files, "events_removed": lines})
        else:
            out.print(
                f"removed {count(lines, 'event', 'events')} logged over {older_than} ago "
                f"({count(files, 'day file', 'day files')} deleted)"
            )

    run(action)
