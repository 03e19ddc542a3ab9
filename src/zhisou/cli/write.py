"""Commands that change an index: init, index (ingest files), delete."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from zhisou.api import Index
from zhisou.cli.base import (
    DEFAULT_INDEX,
    EXIT_SKIPPED,
    IndexOption,
    JsonOption,
    app,
    count,
    err,
    out,
    print_json,
    run,
)
from zhisou.cli.render import progress_bar
from zhisou.errors import ZhisouError
from zhisou.schema import Schema


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the index.")],
    schema: Annotated[Path | None, typer.Option(help="Schema JSON file (default: notes and blogs).")] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            metavar="", help="Replace an existing index, or create one in a folder holding other files (left alone)."
        ),
    ] = False,
    shards: Annotated[int, typer.Option(min=1, max=256, help="Split the index into shards (by id hash).")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Create an empty index."""

    def action() -> None:
        spec = Schema.load(schema) if schema else Schema.default()
        index = Index.create(directory, spec, overwrite=overwrite, shards=shards)
        if as_json:
            print_json(index.stats())
        else:
            fields = ", ".join(f"{f.name}:{f.type}" for f in spec.fields)
            split = f" in {shards} shards" if shards > 1 else ""
            out.print(f"created index at [bold]{escape(str(directory))}[/]{split} with fields {escape(fields)}")

    run(action)


MapOption = Annotated[list[str] | None, typer.Option("--map", help="Rename a source field: --map text=body")]
ListSepOption = Annotated[
    str, typer.Option(help="CSV: what separates the values of a keyword field (tags) in one cell.")
]
ThreadsOption = Annotated[
    int,
    typer.Option(min=0, help="Processes that analyse and write documents (0: one per core). Long inputs only."),
]
RootOption = Annotated[
    Path | None,
    typer.Option(
        help="Folder that file ids are relative to (default: the one recorded in the index, else the first folder).",
        file_okay=False,
    ),
]


@app.command("index")
def index_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders: .jsonl .json .csv .parquet .md .html .txt")],
    index: IndexOption = Path(DEFAULT_INDEX),
    strict: Annotated[bool, typer.Option(metavar="", help="Stop at the first bad record and add nothing.")] = False,
    field_map: MapOption = None,
    schema: Annotated[Path | None, typer.Option(help="Schema for a new index.")] = None,
    commit_every: Annotated[int, typer.Option(min=1, help="Commit after this many documents.")] = 10_000,
    commit_interval: Annotated[float, typer.Option(min=0.001, help="Commit at least this often (seconds).")] = 60.0,
    list_sep: ListSepOption = ";",
    root: RootOption = None,
    threads: ThreadsOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Add documents from files (creating the index if needed). Re-adding an id replaces it.

    A Markdown, HTML or text file is one document; its id is its path relative to the index's
    files root, without the extension (or the id: of its front matter). The root is --root, or
    the one recorded in the index, or the first folder indexed (recorded from then on).
    Commits as it goes; Ctrl-C commits what was read and stops (a second Ctrl-C stops at once).
    Running the same command again skips the documents already indexed unchanged."""
    run(
        lambda: _index_files(
            paths,
            index,
            strict=strict,
            field_map=field_map,
            schema=schema,
            commit_every=commit_every,
            commit_interval=commit_interval,
            list_sep=list_sep,
            root=root,
            threads=threads,
            as_json=as_json,
            remove_missing=False,
        )
    )


@app.command()
def sync(
    folder: Annotated[Path, typer.Argument(help="A folder of notes (under the index's files root).")],
    index: IndexOption = Path(DEFAULT_INDEX),
    field_map: MapOption = None,
    list_sep: ListSepOption = ";",
    root: RootOption = None,
    threads: ThreadsOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Bring the index in line with a folder: add new and changed files, delete those of files gone.

    Markdown, HTML and text files that are gone take their documents with them. Unchanged files are
    skipped; a file that fails to load keeps its documents. One commit at the end."""

    def action() -> None:
        if not folder.is_dir():
            raise ZhisouError(f"{folder}: not a folder; sync takes the folder of notes to mirror")
        _index_files(
            [folder],
            index,
            strict=False,
            field_map=field_map,
            schema=None,
            commit_every=10**12,
            commit_interval=float("inf"),
            list_sep=list_sep,
            root=root,
            threads=threads,
            as_json=as_json,
            remove_missing=True,
        )

    run(action)


def _index_files(
    paths: list[Path],
    index: Path,
    *,
    strict: bool,
    field_map: list[str] | None,
    schema: Path | None,
    commit_every: int,
    commit_interval: float,
    list_sep: str,
    root: Path | None,
    threads: int,
    as_json: bool,
    remove_missing: bool,
) -> None:
    """What ``index`` and ``sync`` do: ingest with a progress bar, report, exit code."""
    import signal

    from zhisou.ingest.pipeline import total_bytes
    from zhisou.ingest.sources import resolve_root

    mapping: dict[str, str] = {}
    for item in field_map or []:
        source, sep, target = item.partition("=")
        if not sep or not source or not target:
            raise ZhisouError(f"--map expects source=target, got {item!r}")
        mapping[source] = target
    embedded: list[int] = [0]
    embed_task: list[object] = []

    def on_embedded(count: int) -> None:
        embedded[0] += count
        if embed_task:
            progress.update(embed_task[0], docs=embedded[0])  # type: ignore[arg-type]

    created = not Path(index).exists()  # a failed --strict run must not leave an empty index behind
    target_index = Index.open_or_create(
        index, Schema.load(schema) if schema else None, on_embedded=on_embedded, threads=threads
    )
    try:
        target_index.writer  # noqa: B018 - takes the write lock now: a locked index fails before any bar
        files_root = resolve_root(target_index.directory, paths, root)
    except ZhisouError:
        target_index.close()
        raise
    started = time.perf_counter()
    show = not as_json
    with progress_bar(err, show, transient=False) as progress:
        task = progress.add_task("indexing", total=total_bytes(paths) or None, docs=0)
        if target_index.schema.semantic is not None:  # passages embedded at each flush
            embed_task.append(progress.add_task("embedding", total=None, docs=0, unit="passages"))

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
            report = _ingest_or_clean_up(
                created,
                target_index,
                paths,
                strict=strict,
                field_map=mapping,
                on_record=on_record,
                on_error=on_error,
                commit_every=commit_every,
                commit_seconds=commit_interval,
                stop=lambda: bool(stopping),
                list_sep=list_sep,
                root=files_root,
                remove_missing=remove_missing,
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
            f"added {count(report.added, 'document', 'documents')} in {elapsed:.1f}s ({rate:,.0f} docs/s); "
            f"unchanged {report.unchanged:,}; "
            + (f"deleted {report.deleted:,}; " if remove_missing else "")
            + f"skipped {report.skipped}; commit generation {report.generation}"
        )
    if report.interrupted:
        kept = (
            "nothing was added (--strict)" if strict else f"what was read is committed (generation {report.generation})"
        )
        err.print(f"interrupted: {kept}; run the same command again to resume — unchanged documents are skipped")
        raise typer.Exit(130)
    if report.skipped:
        raise typer.Exit(EXIT_SKIPPED)


def _ingest_or_clean_up(created: bool, target_index: Index, paths: list[Path], **options: Any) -> Any:
    """``ingest``; when a ``--strict`` run fails (it commits nothing) on an index this run
    created, the new, empty index folder is removed again. Without ``--strict`` a failure may
    come after commits, and those are kept."""
    from zhisou.ingest.pipeline import ingest

    try:
        return ingest(target_index, paths, **options)
    except ZhisouError:
        if created and options.get("strict"):
            target_index.close()
            shutil.rmtree(target_index.directory, ignore_errors=True)
        raise


@app.command()
def delete(
    doc_ids: Annotated[list[str], typer.Argument(help="Document ids.")],
    index: IndexOption = Path(DEFAULT_INDEX),
    as_json: JsonOption = False,
) -> None:
    """Delete documents by id (committed at once)."""

    def action() -> None:
        ids = list(dict.fromkeys(doc_ids))  # an id named twice is deleted once
        with Index.open(index) as target:
            reader = target.searcher().reader  # ids looked up, no stored fields read
            missing = [doc_id for doc_id in ids if reader.find(doc_id) is None]
            deleted = target.delete(ids)
            generation = target.commit()
        if as_json:
            print_json({"deleted": deleted, "missing": missing, "generation": generation})
        else:
            out.print(f"deleted {deleted} of {len(ids)} ids; commit generation {generation}")
            if missing:
                shown = ", ".join(repr(doc_id) for doc_id in missing[:10])
                more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
                err.print(escape(f"no document with id {shown}{more} in {index}; nothing to delete there"))
        if missing:
            raise typer.Exit(EXIT_SKIPPED)

    run(action)
