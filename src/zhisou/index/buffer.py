"""The in-memory segment: prepared documents inverted term by term until the writer flushes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zhisou.index.documents import PreparedDocument
from zhisou.index.segment import SegmentMeta
from zhisou.index.segment_writer import SegmentWriter
from zhisou.schema import Schema

# Rough CPython cost of one buffered posting or position (list slots, ints, dict entries).
_BYTES_PER_POSITION = 40
_BYTES_PER_POSTING = 120


class SegmentBuffer:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._postings: dict[bytes, tuple[list[int], list[int], list[int]]] = {}
        self._stored: list[dict] = []
        self._lengths: list[list[int]] = []
        self._columns: list[list[float]] = []
        self.ids: dict[str, int] = {}
        self.deleted: set[int] = set()
        self.ram_bytes = 0

    def __len__(self) -> int:
        return len(self._stored)

    def add(self, doc: PreparedDocument) -> int:
        local = len(self._stored)
        cost = 0
        for key, positions in doc.terms.items():
            entry = self._postings.get(key)
            if entry is None:
                entry = self._postings[key] = ([], [], [])
                cost += len(key) + 100
            entry[0].append(local)
            entry[1].append(len(positions))
            entry[2].extend(positions)
            cost += _BYTES_PER_POSTING + _BYTES_PER_POSITION * len(positions)
        self._stored.append(doc.stored)
        self._lengths.append(doc.lengths)
        self._columns.append(doc.columns)
        self.ids[doc.doc_id] = local
        self.ram_bytes += cost + 2 * sum(len(str(v)) for v in doc.stored.values())
        return local

    def delete(self, doc_id: str) -> bool:
        local = self.ids.pop(doc_id, None)
        if local is None:
            return False
        self.deleted.add(local)
        return True

    def write(self, directory: Path, name: str) -> tuple[SegmentMeta, np.ndarray | None]:
        """Serialize as segment ``name``; returns its meta and, if any buffered doc was deleted, its live mask."""
        count = len(self._stored)
        writer = SegmentWriter(directory, name, count)
        try:
            for key in sorted(self._postings):
                docs, freqs, positions = self._postings[key]
                writer.add_term(
                    key,
                    np.asarray(docs, dtype=np.int32),
                    np.asarray(freqs, dtype=np.int32),
                    np.asarray(positions, dtype=np.int32),
                )
            n_text = len(self.schema.text_fields)
            n_cols = len(self.schema.column_fields)
            lengths = np.asarray(self._lengths, dtype=np.uint32).reshape(count, n_text).T
            columns = np.asarray(self._columns, dtype=np.float64).reshape(count, n_cols).T
            ids = [doc[self.schema.id_field] for doc in self._stored]
            meta = writer.finish(lengths, columns, self._stored, ids, segment_fields(self.schema))
        except BaseException:
            writer.abort()
            raise
        live = None
        if self.deleted:
            live = np.ones(count, dtype=np.bool_)
            live[list(self.deleted)] = False
        return meta, live


def segment_fields(schema: Schema) -> dict[str, list[str]]:
    """The field layout a segment records, so it can be read without the schema."""
    return {"text": [f.name for f in schema.text_fields], "columns": [f.name for f in schema.column_fields]}
