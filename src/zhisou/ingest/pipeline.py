"""Ingest: records from loaders into an index, with error reporting and one commit at the end.

A bad record (malformed line, missing or duplicate id, a value of the wrong type) is reported
with its file and line and skipped — or, with ``strict``, stops the run and rolls it back.
Either way every earlier commit stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhisou.api import Index
from zhisou.errors import DocumentError, IngestError
from zhisou.ingest.loaders import Record, load, source_files

# Common source names for the schema's fields (BEIR uses _id/text).
_ALIASES = {"_id": "id", "text": "body", "content": "body"}


@dataclass
class IngestReport:
    added: int = 0
    errors: list[IngestError] = field(default_factory=list)
    generation: int | None = None

    @property
    def skipped(self) -> int:
        return len(self.errors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "skipped": self.skipped,
            "generation": self.generation,
            "errors": [{"source": e.source, "line": e.line, "message": e.reason} for e in self.errors],
        }


def total_bytes(paths: Iterable[Path]) -> int:
    total = 0
    for path in paths:
        if path.exists():
            total += sum(f.stat().st_size for f, _ in source_files(path))
    return total


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
) -> IngestReport:
    """Load every path into ``index`` and commit once. ``on_record(bytes, added)`` reports progress."""
    report = IngestReport()
    fields = set(index.schema.field_names)
    seen: dict[str, str] = {}

    def fail(error: IngestError) -> None:
        if strict:
            index.rollback()
            raise error
        report.errors.append(error)
        if on_error is not None:
            on_error(error)

    for path in paths:
        for item in load(Path(path)):
            if isinstance(item, IngestError):
                fail(item)
                continue
            record: Record = item
            doc = apply_aliases(record.doc, fields, field_map or {})
            where = f"{record.source}:{record.line}" if record.line else record.source
            try:
                doc_id = str(doc.get(index.schema.id_field, "")).strip()
                if doc_id and doc_id in seen:
                    raise DocumentError(f"duplicate id {doc_id!r} in this batch (first at {seen[doc_id]})")
                index.add(doc)
            except DocumentError as exc:
                fail(IngestError(str(exc), record.source, record.line))
                continue
            seen[doc_id] = where
            report.added += 1
            if on_record is not None:
                on_record(record.size, report.added)
    report.generation = index.commit()
    return report
