"""Ingest: records from loaders into an index, with error reporting and periodic commits.

A bad record (malformed line, missing or duplicate id, a value of the wrong type) is reported
with its file and line and skipped — or, with ``strict``, stops the run and rolls it back.
Either way every earlier commit stays as it was.

Without ``strict``, what was read is committed every ``commit_every`` documents or
``commit_seconds`` seconds and when the run is interrupted (Ctrl-C), so an interruption keeps
what was read; running the same command again skips every document whose id and content are
already in the index (a content hash kept beside each document), so it resumes cheaply.
``strict`` keeps its all-or-nothing promise: one commit at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zhisou.api import Index
from zhisou.errors import DocumentError, IngestError, ZhisouError
from zhisou.index import parallel
from zhisou.index.documents import content_hash
from zhisou.ingest.loaders import PATH_FIELD, Record, load, source_files

COMMIT_EVERY = 10_000  # documents
COMMIT_SECONDS = 60.0
BATCH = 256  # records looked up together when skipping unchanged ones

# Common source names for the schema's fields (BEIR uses _id/text).
_ALIASES = {"_id": "id", "text": "body", "content": "body"}


@dataclass
class IngestReport:
    added: int = 0
    unchanged: int = 0  # already in the index with the same content: not added again
    deleted: int = 0  # sync: documents of files that are gone
    errors: list[IngestError] = field(default_factory=list)
    generation: int | None = None
    commits: int = 0
    interrupted: bool = False

    @property
    def skipped(self) -> int:
        return len(self.errors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "skipped": self.skipped,
            "generation": self.generation,
            "commits": self.commits,
            "interrupted": self.interrupted,
            "errors": [{"source": e.source, "line": e.line, "message": e.reason} for e in self.errors],
        }


def total_bytes(paths: Iterable[Path]) -> int:
    total = 0
    for path in paths:
        if path.exists():
            total += sum(f.stat().st_size for f, _ in source_files(path))
    return total


LIST_SEP = ";"  # CSV: "排障; 数据库" in a tags cell is two tags


def split_lists(doc: dict[str, Any], names: Iterable[str], separator: str) -> None:
    """A CSV cell of a keyword field split at ``separator`` into its values (trimmed, empty
    ones dropped): CSV has no lists, so ``tags`` arrive as one string."""
    for name in names:
        value = doc.get(name)
        if isinstance(value, str):
            doc[name] = [part.strip() for part in value.split(separator) if part.strip()]


def apply_aliases(doc: dict[str, Any], fields: set[str], field_map: Mapping[str, str]) -> dict[str, Any]:
    out = dict(doc)
    mapping = {**{k: v for k, v in _ALIASES.items() if v in fields and k not in fields}, **field_map}
    for source, target in mapping.items():
        if source in out and target not in out:
            out[target] = out.pop(source)
    return out


def ingest(
    index: Index,
    paths: Iterable[Path],
    *,
    strict: bool = False,
    field_map: Mapping[str, str] | None = None,
    on_record: Callable[[int, int], None] | None = None,
    on_error: Callable[[IngestError], None] | None = None,
    commit_every: int = COMMIT_EVERY,
    commit_seconds: float = COMMIT_SECONDS,
    skip_unchanged: bool = True,
    stop: Callable[[], bool] | None = None,
    list_sep: str = LIST_SEP,
    root: Path | None = None,
    remove_missing: bool = False,
) -> IngestReport:
    """Load every path into ``index``. ``on_record(bytes, added)`` reports progress.

    Commits every ``commit_every`` documents or ``commit_seconds`` seconds, and at the end.
    When ``stop()`` turns true (the CLI sets it on Ctrl-C), what was read so far is committed
    and the report says ``interrupted``. A KeyboardInterrupt between documents commits what was
    added and propagates; one inside the writer's changing steps drops what is not yet
    committed. ``strict``: the first bad record rolls everything back and raises; one commit.
    ``list_sep``: in a CSV cell of a keyword field (tags), what separates its values.
    ``root``: the index's files root (``sources.files_root``), which file ids are relative to.
    ``remove_missing`` (``zhisou sync``): afterwards, delete the documents of files under the
    given folders that this run did not read — files removed, or renamed — in the last commit;
    a file that failed to load keeps its documents, and an interrupted run deletes nothing.
    """
    if commit_every < 1 or not commit_seconds > 0:
        raise ZhisouError("commit every must be at least 1 document and more than 0 seconds")
    if not list_sep:
        raise ZhisouError("the list separator must not be empty; the default is ';' (--list-sep)")
    keyword_fields = [spec.name for spec in index.schema.fields if spec.type == "keyword"]
    report = IngestReport()
    fields = set(index.schema.field_names)
    id_field = index.schema.id_field
    seen: dict[str, str] = {}
    pending = 0  # added since the last commit
    last_commit = time.monotonic()
    in_writer = [False]  # inside a step that changes the writer (an interrupt there is unsafe)

    def fail(error: IngestError) -> None:
        if strict:
            index.rollback()
            raise error
        report.errors.append(error)
        if on_error is not None:
            on_error(error)

    def commit() -> None:
        nonlocal pending, last_commit
        in_writer[0] = True
        report.generation = index.commit()
        in_writer[0] = False
        report.commits += 1
        pending, last_commit = 0, time.monotonic()

    def add_batch(batch: list[Record | IngestError]) -> None:
        """Add a batch in file order; one lookup finds the documents already there unchanged."""
        nonlocal pending
        records = [item for item in batch if isinstance(item, Record)]
        docs = [apply_aliases(record.doc, fields, field_map or {}) for record in records]
        for record, doc in zip(records, docs):
            if record.source.lower().endswith(".csv"):  # a cell holds one string: split the lists
                split_lists(doc, keyword_fields, list_sep)
        hashes = [content_hash(doc) for doc in docs]
        ids = [str(doc.get(id_field, "")).strip() for doc in docs]
        same = iter(index.writer.unchanged(ids, hashes) if skip_unchanged and records else [False] * len(records))
        found = iter(zip(records, docs, ids, hashes))
        if workers > 1 and len(records) >= parallel.BLOCK:
            add_in_workers(batch, found, same)
            batch = []  # handled
        for item in batch:
            if isinstance(item, IngestError):
                fail(item)
                continue
            record, doc, doc_id, digest = next(found)
            unchanged = next(same)
            where = f"{record.source}:{record.line}" if record.line else record.source
            try:
                if doc_id and doc_id in seen:
                    raise DocumentError(f"duplicate id {doc_id!r} in this batch (first at {seen[doc_id]})")
                if unchanged:
                    report.unchanged += 1
                else:
                    prepared = index.writer.prepare(doc, digest)  # analysis: changes nothing
                    in_writer[0] = True
                    index.writer.add_prepared(prepared)
                    in_writer[0] = False
                    report.added += 1
                    pending += 1
            except DocumentError as exc:
                fail(IngestError(str(exc), record.source, record.line))
                continue
            seen[doc_id] = where
            if on_record is not None:
                on_record(record.size, report.added)
        if not strict and pending and (pending >= commit_every or time.monotonic() - last_commit >= commit_seconds):
            commit()

    def add_in_workers(
        batch: list[Record | IngestError],
        found: Iterator[tuple[Record, dict[str, Any], str, float]],
        same: Iterator[bool],
    ) -> None:
        """A batch analysed and written as segments by the writer's worker processes. A record
        whose id an earlier record of the run holds is a duplicate even when that one turns
        out to be bad (its documents are judged in the workers, after the duplicates)."""
        nonlocal pending
        candidates: list[tuple[Record, dict[str, Any], str, float]] = []
        for item in batch:
            if isinstance(item, IngestError):
                fail(item)
                continue
            record, doc, doc_id, digest = next(found)
            unchanged = next(same)  # drawn for every record, as ``found`` is
            where = f"{record.source}:{record.line}" if record.line else record.source
            if doc_id and doc_id in seen:
                message = f"duplicate id {doc_id!r} in this batch (first at {seen[doc_id]})"
                fail(IngestError(message, record.source, record.line))
                continue
            seen[doc_id] = where
            if unchanged:
                report.unchanged += 1
                if on_record is not None:
                    on_record(record.size, report.added)
                continue
            candidates.append((record, doc, doc_id, digest))
        writer = index.writer
        items = ((doc, digest) for _, doc, _, digest in candidates)
        offset = 0
        blocks = parallel.write_in_workers(
            items, writer.segment_folders, writer.schema, writer.analyzers.resources, workers, keep_going=not strict
        )
        for written in blocks:
            in_writer[0] = True
            if written.segments:
                writer.adopt(written.segments)
            in_writer[0] = False
            bad = dict(written.rejected)
            for position in range(written.added if written.stopped else written.size):
                record, _, doc_id, _ = candidates[offset + position]
                if position in bad:
                    seen.pop(doc_id, None)
                    fail(IngestError(str(bad[position]), record.source, record.line))
                    continue
                report.added += 1
                pending += 1
                if on_record is not None:
                    on_record(record.size, report.added)
            if written.stopped:  # strict: the first bad document ends the run
                record = candidates[offset + written.added][0]
                fail(IngestError(str(written.rejected[0][1]), record.source, record.line))
            offset += written.size

    workers = index.writer.workers
    batch_size = BATCH if workers <= 1 else parallel.BLOCK * parallel.IN_FLIGHT_PER_WORKER * workers
    batch: list[Record | IngestError] = []
    try:
        for path in paths:
            for item in load(Path(path), root):
                batch.append(item)
                if len(batch) >= batch_size or (stop is not None and stop()):
                    add_batch(batch)
                    batch = []
                if stop is not None and stop():
                    report.interrupted = True
                    break
            if report.interrupted:
                break
        add_batch(batch)
    except KeyboardInterrupt:
        # Between documents (reading, analysing, a callback) the writer is consistent: keep what
        # was added, then stop. Inside the writer's few changing steps it may not be: drop what
        # is not committed (the periodic commits stay). The CLI stops cleanly through ``stop``.
        report.interrupted = True
        if in_writer[0] or strict:
            index.rollback()
        else:
            commit()
        raise
    if report.interrupted and strict:
        index.rollback()  # all or nothing
        return report
    if remove_missing and not report.interrupted and root is not None:  # no root: no file documents
        gone = documents_of_missing_files(index, paths, root, set(seen), {e.source for e in report.errors})
        report.deleted = index.delete(gone) if gone else 0
    commit()
    return report


def documents_of_missing_files(
    index: Index, folders: Iterable[Path], root: Path, read: set[str], failed: set[str]
) -> list[str]:
    """Ids of the committed documents made from a file under ``folders`` (their ``path`` field,
    relative to ``root``) that this run did not read, except those of files that failed to load."""
    root = root.resolve()
    prefixes = []
    for folder in folders:
        if Path(folder).resolve().is_relative_to(root):
            relative = Path(folder).resolve().relative_to(root).as_posix()
            prefixes.append("" if relative == "." else relative + "/")
    kept = {Path(source).resolve().relative_to(root).as_posix() for source in failed if _under(Path(source), root)}
    reader = index.searcher().reader
    gone = []
    for doc in np.flatnonzero(reader.live).tolist():
        stored = reader.stored(doc)
        where = stored.get(PATH_FIELD)
        doc_id = stored[index.schema.id_field]
        if not isinstance(where, str) or doc_id in read or where in kept:
            continue
        if any(where.startswith(prefix) for prefix in prefixes):
            gone.append(doc_id)
    return gone


def _under(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root)
