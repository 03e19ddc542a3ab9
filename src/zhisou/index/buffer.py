"""The in-memory segment: the tokens of buffered documents in flat arrays until the writer flushes.

Each token is appended as (term id, position); a flush orders them by (term, document) with
one stable sort by term, derives postings and frequencies from the runs, and writes them in bulk.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from zhisou.analysis import AnalyzerRegistry
from zhisou.compiled import kernel
from zhisou.errors import DocumentError
from zhisou.index.documents import CONTENT_HASH_COLUMN, DocumentPreparer, PreparedDocument
from zhisou.index.postings import compiled_pays
from zhisou.index.segment import ComponentProducer, OptionalComponent, SegmentMeta, new_segment_name
from zhisou.index.segment_writer import SegmentWriter
from zhisou.index.termdict import FIELD_SEPARATOR
from zhisou.schema import Schema

# What the flush budget counts per buffered token and per distinct term (dict entry, string,
# int). A token is held in 12 bytes (term id, position); a flush needs about as much again to
# sort them, so a token counts 24.
_BYTES_PER_TOKEN = 24
_BYTES_PER_TERM = 150


class SegmentBuffer:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._term_ids: dict[str, dict[str, int]] = {}  # field → term → id
        self._token_terms = array("q")  # term id of every token, document after document
        self._token_positions = array("i")
        self._tokens_per_doc = array("q")
        self._stored: list[str] = []
        self._doc_ids: list[str] = []
        self._lengths: list[list[int]] = []
        self._columns: list[list[float]] = []
        self._n_terms = 0
        self.ids: dict[str, int] = {}
        self.deleted: set[int] = set()
        self.ram_bytes = 0

    def __len__(self) -> int:
        return len(self._stored)

    def add(self, doc: PreparedDocument) -> int:
        local = len(self._stored)
        n_tokens = 0
        before = self._n_terms
        for field, terms, positions in doc.tokens:
            ids = self._term_ids.get(field)
            if ids is None:
                ids = self._term_ids[field] = {}
            term_ids = list(map(ids.get, terms))
            if None in term_ids:
                for index, term in enumerate(terms):
                    if term_ids[index] is None:
                        term_id = ids.get(term)
                        if term_id is None:
                            term_id = ids[term] = self._n_terms
                            self._n_terms += 1
                        term_ids[index] = term_id
            self._token_terms.extend(term_ids)  # type: ignore[arg-type]
            self._token_positions.extend(positions)
            n_tokens += len(terms)
        self._tokens_per_doc.append(n_tokens)
        self._stored.append(doc.stored_json)
        self._doc_ids.append(doc.doc_id)
        self._lengths.append(doc.lengths)
        self._columns.append(doc.columns)
        self.ids[doc.doc_id] = local
        self.ram_bytes += (
            (self._n_terms - before) * _BYTES_PER_TERM + n_tokens * _BYTES_PER_TOKEN + 2 * len(doc.stored_json)
        )
        return local

    def delete(self, doc_id: str) -> bool:
        local = self.ids.pop(doc_id, None)
        if local is None:
            return False
        self.deleted.add(local)
        return True

    def _sorted_keys(self) -> tuple[list[bytes], np.ndarray]:
        """Term keys in byte order, and the rank of every term id in that order."""
        keys: list[bytes] = [b""] * self._n_terms
        for field, ids in self._term_ids.items():
            prefix = field + FIELD_SEPARATOR
            for term, term_id in ids.items():
                keys[term_id] = (prefix + term).encode()
        by_key = sorted(range(len(keys)), key=keys.__getitem__)
        rank = np.empty(len(keys), dtype=np.int64)
        rank[by_key] = np.arange(len(keys))
        return [keys[i] for i in by_key], rank

    def write(
        self, directory: Path, name: str, producers: Sequence[ComponentProducer] = ()
    ) -> tuple[SegmentMeta, np.ndarray | None]:
        """Serialize as segment ``name`` (with the optional components ``producers`` compute);
        returns its meta and, if any buffered doc was deleted, its live mask."""
        count = len(self._stored)
        n_text = len(self.schema.text_fields)
        lengths = np.asarray(self._lengths, dtype=np.uint32).reshape(count, n_text).T
        writer = SegmentWriter(
            directory, name, count, {spec.name: row for spec, row in zip(self.schema.text_fields, lengths)}
        )
        try:
            keys, rank = self._sorted_keys()
            term = rank[np.frombuffer(self._token_terms, dtype=np.int64)]
            doc = np.repeat(np.arange(count, dtype=np.int64), np.frombuffer(self._tokens_per_doc, dtype=np.int64))
            # Tokens arrive document after document, so one stable sort by term orders them by
            # (term, doc) and keeps a term's positions within a document in token order.
            order = stable_order(term, len(keys))
            term, doc = term[order], doc[order]
            positions = np.frombuffer(self._token_positions, dtype=np.int32)[order]
            starts = np.flatnonzero(np.concatenate(([True], (term[1:] != term[:-1]) | (doc[1:] != doc[:-1]))))
            freqs = np.diff(np.append(starts, len(term))).astype(np.int32)
            writer.add_sorted_terms(
                keys,
                np.bincount(term[starts], minlength=len(keys)),
                doc[starts].astype(np.int32),
                freqs,
                positions,
            )
            n_cols = len(self.schema.column_fields) + 1  # and the content hash
            columns = np.asarray(self._columns, dtype=np.float64).reshape(count, n_cols).T
            optional: dict[OptionalComponent, np.ndarray] = {}
            if producers:
                docs = StoredDocs(self._stored)
                for producer in producers:
                    optional.update(producer.produce(docs))
                for producer in producers:
                    optional.update(producer.derive(optional, writer.terms()))
            meta = writer.finish(lengths, columns, self._stored, self._doc_ids, segment_fields(self.schema), optional)
        except BaseException:
            writer.abort()
            raise
        live = None
        if self.deleted:
            live = np.ones(count, dtype=np.bool_)
            live[list(self.deleted)] = False
        return meta, live


class StoredDocs(Sequence[dict[str, Any]]):
    """The buffered documents' stored fields for the producers, parsed on first use (once):
    a producer that reads none of them (suggestions of a schema without title or tags) costs
    no parse of every document."""

    def __init__(self, stored: list[str]) -> None:
        self._stored = stored
        self._docs: list[dict[str, Any]] | None = None

    def _parsed(self) -> list[dict[str, Any]]:
        if self._docs is None:
            self._docs = [json.loads(stored) for stored in self._stored]
        return self._docs

    def __len__(self) -> int:
        return len(self._stored)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self._parsed()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._parsed())


def stable_order(keys: np.ndarray, n_keys: int) -> np.ndarray:
    """The permutation that sorts ``keys`` (each in 0 .. ``n_keys`` - 1) stably: a compiled
    counting sort (linear) when numba is loaded or the flush is large enough to pay for loading
    it, as for the postings codec; else numpy's stable sort (0.33 s for 3.2M tokens)."""
    if compiled_pays(len(keys)):
        return _counting_order(keys, n_keys)
    return np.argsort(keys, kind="stable")


@kernel
def _counting_order(keys: np.ndarray, n_keys: int) -> np.ndarray:
    starts = np.zeros(n_keys + 1, dtype=np.int64)
    for key in keys:
        starts[key + 1] += 1
    for key in range(n_keys):
        starts[key + 1] += starts[key]
    order = np.empty(keys.shape[0], dtype=np.int64)
    for i in range(keys.shape[0]):
        order[starts[keys[i]]] = i
        starts[keys[i]] += 1
    return order


def segment_fields(schema: Schema) -> dict[str, Any]:
    """The field layout a segment records, so it can be read without the schema (and, with
    semantic recall, the embedding model its passage vectors come from)."""
    columns = [f.name for f in schema.column_fields] + [CONTENT_HASH_COLUMN]
    layout: dict[str, Any] = {"text": [f.name for f in schema.text_fields], "columns": columns}
    if schema.semantic is not None:
        layout["semantic"] = schema.semantic.model
    return layout


def write_segment(
    directory: Path,
    schema: Schema,
    analyzers: AnalyzerRegistry,
    docs: Iterable[Mapping[str, Any]],
    producers: Sequence[ComponentProducer] = (),
) -> SegmentMeta:
    """Write ``docs`` as one segment in ``directory``, outside any index — in another process or
    on another machine — for ``IndexWriter.add_segments`` to adopt. A later document replaces an
    earlier one with the same id. Raises ``DocumentError`` for a bad document (nothing written)."""
    preparer = DocumentPreparer(schema, analyzers)
    return write_prepared(directory, schema, [preparer.prepare(doc) for doc in docs], producers)


def write_prepared(
    directory: Path, schema: Schema, prepared: Iterable[PreparedDocument], producers: Sequence[ComponentProducer] = ()
) -> SegmentMeta:
    """Prepared documents as one new segment in ``directory`` (a later copy of an id wins)."""
    latest: dict[str, PreparedDocument] = {}
    for document in prepared:
        latest.pop(document.doc_id, None)
        latest[document.doc_id] = document
    if not latest:
        raise DocumentError("no documents to write as a segment")
    buffer = SegmentBuffer(schema)
    for document in latest.values():
        buffer.add(document)
    from zhisou.suggest.phrases import with_suggestions

    meta, _ = buffer.write(directory, new_segment_name(), with_suggestions(schema, producers))
    return meta
