"""Serializes one segment. Every file is fsynced; the segment is invisible until a manifest
that names it is committed.

Call order: the terms, in ascending key order, in batches (``add_sorted_terms``), then ``finish``.
"""

from __future__ import annotations

import bisect
import itertools
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zhisou.analysis import ANALYSIS_VERSION
from zhisou.index.codec import FramedWriter
from zhisou.index.docstore import BLOCK_DOCS, encode_block
from zhisou.index.postings import encode_positions, encode_postings
from zhisou.index.segment import (
    Component,
    FileInfo,
    OptionalComponent,
    SegmentComponent,
    SegmentMeta,
    SegmentTerms,
)

_U32_MAX = (1 << 32) - 1
FIELD_SEPARATOR = b"\x1f"
NEXT_SEPARATOR = b"\x20"  # the byte after the separator: keys below field + it are the field's


def posting_lengths(
    keys: list[bytes], counts: np.ndarray, docs: np.ndarray, lengths: Mapping[str, np.ndarray]
) -> np.ndarray:
    """The field length of each posting's document (0 in a field without ``lengths``), for
    terms of ``keys`` in ascending order with ``counts`` postings each."""
    out = np.zeros(len(docs), dtype=np.int64)
    ends = np.cumsum(counts)
    first = 0
    while first < len(keys):  # keys sort by field first: one run per field
        field = keys[first].split(FIELD_SEPARATOR, 1)[0]
        stop = bisect.bisect_left(keys, field + NEXT_SEPARATOR, first)
        values = lengths.get(field.decode(errors="replace"))
        if values is not None:
            low, high = int(ends[first] - counts[first]), int(ends[stop - 1])
            out[low:high] = values[docs[low:high]]
        first = stop
    return out


class _ComponentFile:
    """One component's framed file (see ``codec``), written as arrays or bytes."""

    def __init__(self, path: Path, component: SegmentComponent, uid: bytes) -> None:
        self.component = component
        self._file = FramedWriter(path, component.suffix, uid)

    def write(self, data: bytes | np.ndarray) -> None:
        raw = data.astype(self.component.dtype, copy=False).tobytes() if isinstance(data, np.ndarray) else data
        self._file.write(raw)

    def close(self) -> FileInfo:
        return FileInfo(*self._file.close())

    def discard(self) -> None:
        self._file.discard()


class SegmentWriter:
    def __init__(
        self,
        directory: Path,
        name: str,
        doc_count: int,
        lengths: Mapping[str, np.ndarray] | None = None,
        analysis: int | None = None,
    ) -> None:
        """``lengths``: each text field's token count per document, for the block bounds the
        postings carry (a field without lengths, a keyword field, bounds by length 0).
        ``analysis``: the ANALYSIS_VERSION its terms came from (this zhisou's unless a merge says)."""
        self.directory = directory
        self.analysis = ANALYSIS_VERSION if analysis is None else analysis
        self.name = name
        self.doc_count = doc_count
        self.uid = os.urandom(16)
        self._files: dict[Component, _ComponentFile] = {}
        self._optional_files: list[_ComponentFile] = []
        try:
            for component in Component:
                self._files[component] = _ComponentFile(directory / component.file_name(name), component, self.uid)
        except BaseException:
            self.abort()
            raise
        self._keys: list[bytes] = []
        self._key_lengths: list[np.ndarray] = []
        self._term_info: list[np.ndarray] = []
        self._lengths = {name: np.asarray(values, dtype=np.int64) for name, values in (lengths or {}).items()}
        self._postings = 0  # words of the postings file so far
        self._positions = 0  # words of the positions file so far
        self._last_key: bytes | None = None

    def add_sorted_terms(
        self, keys: list[bytes], counts: np.ndarray, docs: np.ndarray, freqs: np.ndarray, positions: np.ndarray
    ) -> None:
        """Terms in ascending key order, after every term added so far: ``counts[i]`` postings
        each (all > 0), concatenated, with their positions concatenated the same way."""
        if not keys:
            return
        if (self._last_key is not None and keys[0] <= self._last_key) or any(
            a >= b for a, b in itertools.pairwise(keys)
        ):
            raise ValueError(f"terms out of order at {keys[0]!r}")
        self._last_key = keys[-1]
        self._files[Component.TERM_KEYS].write(b"".join(keys))
        self._keys += keys
        self._key_lengths.append(np.fromiter((len(k) for k in keys), dtype=np.int64, count=len(keys)))
        counts = np.asarray(counts, dtype=np.int64)
        docs = np.asarray(docs, dtype=np.int64)
        post_words, post_starts = encode_postings(
            counts, docs, freqs, posting_lengths(keys, counts, docs, self._lengths)
        )
        pos_words, pos_starts = encode_positions(freqs, positions, counts)
        self._term_info.append(np.column_stack((post_starts + self._postings, counts, pos_starts + self._positions)))
        self._files[Component.POSTINGS].write(post_words)
        self._files[Component.POSITIONS].write(pos_words)
        self._postings += len(post_words)
        self._positions += len(pos_words)

    def terms(self) -> SegmentTerms:
        """The terms added so far, with their document frequencies (for producers' ``derive``)."""
        doc_freqs = np.concatenate([info[:, 1] for info in self._term_info]) if self._term_info else np.zeros(0)
        return SegmentTerms(self._keys, doc_freqs.astype(np.int64))

    def finish(
        self,
        lengths: np.ndarray,
        columns: np.ndarray,
        stored_json: Iterable[str | bytes],
        ids: Iterable[str],
        fields: dict[str, Any],
        optional: dict[OptionalComponent, np.ndarray] | None = None,
    ) -> SegmentMeta:
        """Field lengths (field × doc), columns (field × doc), and per document its stored JSON and
        id; ``optional`` components' payloads (a per-doc one: ``doc_count`` rows). Among the
        stored JSON, a ``bytes`` item is a whole compressed block of ``BLOCK_DOCS`` documents
        (a merge copying a source's blocks), taken only where a block starts."""
        files = self._files
        key_lengths = np.concatenate(self._key_lengths) if self._key_lengths else np.zeros(0, dtype=np.int64)
        key_offsets = np.concatenate(([0], np.cumsum(key_lengths)))
        term_info = np.concatenate(self._term_info) if self._term_info else np.zeros((0, 3), dtype=np.int64)
        if int(key_offsets[-1]) > _U32_MAX or (len(term_info) and int(term_info.max()) > _U32_MAX):
            # 2^32 words is 16 GiB of postings in one segment: far beyond what merges produce.
            raise ValueError(f"segment {self.name}: over 2^32 words of postings or bytes of terms")
        files[Component.TERM_OFFSETS].write(key_offsets)
        files[Component.TERM_INFO].write(term_info)
        files[Component.LENGTHS].write(np.ascontiguousarray(lengths, dtype=np.uint32))
        files[Component.COLUMNS].write(np.ascontiguousarray(columns, dtype=np.float64))
        block: list[str] = []
        offsets = [0]
        written = 0
        for doc in stored_json:
            if isinstance(doc, bytes):
                if block:
                    raise ValueError(f"segment {self.name}: a stored block handed over between block starts")
                files[Component.STORE].write(doc)
                offsets.append(offsets[-1] + len(doc))
                written += BLOCK_DOCS
                continue
            block.append(doc)
            if len(block) == BLOCK_DOCS:
                offsets.append(offsets[-1] + self._write_block(block))
                block = []
            written += 1
        if block:
            offsets.append(offsets[-1] + self._write_block(block))
        if written != self.doc_count:
            raise ValueError(f"segment {self.name}: {written} stored documents for {self.doc_count} docs")
        files[Component.STORE_INDEX].write(np.asarray(offsets, dtype=np.int64))
        encoded = [doc_id.encode() for doc_id in ids]
        if len(encoded) != self.doc_count:
            raise ValueError(f"segment {self.name}: {len(encoded)} ids for {self.doc_count} docs")
        files[Component.IDS].write(b"".join(encoded))
        files[Component.ID_OFFSETS].write(np.concatenate(([0], np.cumsum([len(e) for e in encoded]))))
        # A spare word at the end of the packed files: decoders read words in pairs.
        files[Component.POSTINGS].write(np.zeros(1, dtype=np.uint32))
        files[Component.POSITIONS].write(np.zeros(1, dtype=np.uint32))
        infos = {component.suffix: handle.close() for component, handle in files.items()}
        optional = optional or {}
        for component, payload in optional.items():
            infos[component.suffix] = self._write_optional(component, payload, self._rows_of(component, optional))
        return SegmentMeta(self.name, self.doc_count, infos, fields=fields, uid=self.uid.hex(), analysis=self.analysis)

    def _rows_of(self, component: OptionalComponent, optional: dict[OptionalComponent, np.ndarray]) -> int:
        """Rows a per-doc component must hold: one per document, or the sum of its counts."""
        if component.counts is None:
            return self.doc_count
        counts = next((payload for c, payload in optional.items() if c.suffix == component.counts), None)
        if counts is None:
            raise ValueError(
                f"segment {self.name}: .{component.suffix} comes without its row counts .{component.counts}"
            )
        return int(np.asarray(counts).sum())

    def _write_optional(self, component: OptionalComponent, payload: np.ndarray, rows: int) -> FileInfo:
        if component.per_doc and (payload.ndim != 2 or payload.shape[0] != rows):
            raise ValueError(f"segment {self.name}: .{component.suffix} needs {rows} rows, got {payload.shape}")
        handle = _ComponentFile(self.directory / component.file_name(self.name), component, self.uid)
        self._optional_files.append(handle)
        handle.write(np.ascontiguousarray(payload))
        return handle.close()

    def _write_block(self, block: list[str]) -> int:
        data = encode_block(block)
        self._files[Component.STORE].write(data)
        return len(data)

    def abort(self) -> None:
        for handle in [*self._files.values(), *self._optional_files]:
            handle.discard()
