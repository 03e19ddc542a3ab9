"""Collection statistics a similarity scores with, and where they come from.

By default a searcher scores with the live statistics of its own reader: N and the summed
field lengths over the live documents, and each term's live document frequency. A shard of a
larger index (or a segment set built by a distributed job) must instead score with the
statistics of the *whole* collection, or its scores are not comparable with its siblings';
those are computed elsewhere — ``local_statistics`` on every shard, ``combine`` — and handed
in as ``SuppliedStatistics``. Lengths and column values always come from the reader.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from zhisou.index.reader import IndexReader
from zhisou.index.termdict import encode_keys
from zhisou.search import kernels
from zhisou.search.similarity import FieldStats


@dataclass(frozen=True)
class SuppliedStatistics:
    """Statistics of a whole collection, computed outside this reader: per text field the
    documents that have it and their summed length, per term key (``field\\x1fterm``) its
    document frequency. A term missing from ``doc_freqs`` is scored with the reader's own."""

    fields: Mapping[str, FieldStats]
    doc_freqs: Mapping[bytes, int] = field(default_factory=dict)

    @staticmethod
    def combine(parts: Iterable[SuppliedStatistics]) -> SuppliedStatistics:
        """The statistics of shards taken together (counts add up)."""
        fields: dict[str, FieldStats] = {}
        doc_freqs: dict[bytes, int] = {}
        for part in parts:
            for name, stats in part.fields.items():
                old = fields.get(name, FieldStats(0, 0))
                fields[name] = FieldStats(old.doc_count + stats.doc_count, old.total_length + stats.total_length)
            for key, count in part.doc_freqs.items():
                doc_freqs[key] = doc_freqs.get(key, 0) + count
        return SuppliedStatistics(fields, doc_freqs)


def locate(reader: IndexReader, keys: list[bytes]) -> tuple[list[np.ndarray], np.ndarray]:
    """Per segment, (postings start, count) of every key (count 0 where a segment lacks it);
    and each key's document frequency over the reader's live documents."""
    encoded = encode_keys(keys)
    ranges = [segment.postings_of(encoded) for segment in reader.segments]
    if len(ranges) == 1 and reader.segments[0].live is None:
        return ranges, ranges[0][:, 1]
    doc_freqs = np.zeros(len(keys), dtype=np.int64)
    for segment, segment_ranges in zip(reader.segments, ranges):
        if segment.live is None:
            doc_freqs += segment_ranges[:, 1]
            continue
        for index, (start, count) in enumerate(segment_ranges.tolist()):
            if count:
                doc_freqs[index] += kernels.live_doc_freq(segment.docs, start, count, segment.live)
    return ranges, doc_freqs


class ReaderStats:
    """The statistics one searcher scores with (live, or ``supplied``), and per-reader caches:
    global length and column arrays, and ``memo`` for other constants (a reader never changes)."""

    def __init__(self, reader: IndexReader, supplied: SuppliedStatistics | None = None) -> None:
        self.reader = reader
        self.supplied = supplied
        self._fields: dict[str, FieldStats] = {}
        self._lengths: dict[str, np.ndarray] = {}
        self._columns: dict[str, np.ndarray] = {}
        self.memo: dict[tuple[object, ...], object] = {}

    @property
    def local(self) -> bool:
        """Whether scores use this reader's own statistics (per-reader precomputation is valid)."""
        return self.supplied is None

    def lengths(self, name: str) -> np.ndarray:
        if name not in self._lengths:
            parts = [s.lengths[name] for s in self.reader.segments]
            self._lengths[name] = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)
        return self._lengths[name]

    def column(self, name: str) -> np.ndarray:
        if name not in self._columns:
            parts = [s.columns[name] for s in self.reader.segments]
            self._columns[name] = np.concatenate(parts) if parts else np.zeros(0)
        return self._columns[name]

    def field(self, name: str) -> FieldStats:
        if self.supplied is not None and name in self.supplied.fields:
            return self.supplied.fields[name]
        if name not in self._fields:
            lengths = self.lengths(name)[self.reader.live]
            self._fields[name] = FieldStats(int(np.count_nonzero(lengths)), int(lengths.sum(dtype=np.int64)))
        return self._fields[name]

    def doc_freqs(self, keys: list[bytes], live: np.ndarray) -> np.ndarray:
        """The document frequencies to score ``keys`` with, given their ``live`` ones here."""
        if self.supplied is None:
            return live
        supplied = self.supplied.doc_freqs
        return np.array([supplied.get(key, int(n)) for key, n in zip(keys, live.tolist())], dtype=np.int64)


def local_statistics(reader: IndexReader, keys: Iterable[bytes] = ()) -> SuppliedStatistics:
    """What this reader contributes to collection statistics: every text field's counts over
    its live documents, and the live document frequency of each of ``keys``."""
    stats = ReaderStats(reader)
    fields = {spec.name: stats.field(spec.name) for spec in reader.schema.text_fields}
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return SuppliedStatistics(fields, {})
    counts = locate(reader, wanted)[1]
    return SuppliedStatistics(fields, dict(zip(wanted, counts.tolist())))
