"""Collection statistics a similarity scores with, and where they come from.

By default a searcher scores with the live statistics of its own reader: N and the summed
field lengths over the live documents, and each term's live document frequency. A shard of a
larger index (or a segment set built by a distributed job) must instead score with the
statistics of the *whole* collection, or its scores are not comparable with its siblings';
those are computed elsewhere — ``local_statistics`` on every shard, ``combine`` — and handed
in as ``SuppliedStatistics``; or, when the shards are open in this process, read from the
reader over all of them (``EnclosingStatistics``). Lengths and column values always come from
the reader searched.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from zhisou.errors import CorruptIndexError
from zhisou.index.reader import IndexReader
from zhisou.index.termdict import encode_keys
from zhisou.search import kernels
from zhisou.search.similarity import FieldStats


class Statistics(Protocol):
    """Collection statistics from outside the reader searched."""

    def field_stats(self, name: str) -> FieldStats | None:
        """The documents that have text field ``name`` and their summed length (None: the reader's)."""

    def doc_freqs_of(self, keys: list[bytes], local: np.ndarray) -> np.ndarray:
        """The document frequency of each key, given its ``local`` one in the reader searched."""


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

    def field_stats(self, name: str) -> FieldStats | None:
        return self.fields.get(name)

    def doc_freqs_of(self, keys: list[bytes], local: np.ndarray) -> np.ndarray:
        supplied = self.doc_freqs
        return np.array([supplied.get(key, int(n)) for key, n in zip(keys, local.tolist())], dtype=np.int64)


def locate(
    reader: IndexReader, keys: list[bytes], encoded: tuple[bytes, np.ndarray] | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per segment, (postings start, count) of every key (count 0 where a segment lacks it);
    and each key's document frequency over the reader's live documents. ``encoded``: the keys
    already encoded (``encode_keys``)."""
    if encoded is None:
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
                try:
                    doc_freqs[index] += kernels.live_doc_freq(
                        segment.packed_postings, start, count, segment.live, segment.doc_count
                    )
                except CorruptIndexError as error:
                    raise segment.damaged(error) from None
    return ranges, doc_freqs


class ReaderStats:
    """The statistics one searcher scores with (live, or ``supplied``), and per-reader caches:
    global length and column arrays, and ``memo`` for other constants (a reader never changes)."""

    def __init__(self, reader: IndexReader, supplied: Statistics | None = None) -> None:
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
        if self.supplied is not None:
            found = self.supplied.field_stats(name)
            if found is not None:
                return found
        if name not in self._fields:
            lengths = self.lengths(name)[self.reader.live]
            self._fields[name] = FieldStats(int(np.count_nonzero(lengths)), int(lengths.sum(dtype=np.int64)))
        return self._fields[name]

    def doc_freqs(self, keys: list[bytes], live: np.ndarray) -> np.ndarray:
        """The document frequencies to score ``keys`` with, given their ``live`` ones here."""
        if self.supplied is None:
            return live
        return self.supplied.doc_freqs_of(keys, live)


class EnclosingStatistics:
    """The statistics of a reader that holds the one searched among others — a sharded index's
    reader over all its shards, for one shard's searcher: exact global counts, each key's looked
    up once per snapshot (the counts never change) whichever shard asks first."""

    HELD = 200_000  # keys remembered before the memo is cleared

    def __init__(self, stats: ReaderStats) -> None:
        self.stats = stats
        self._doc_freqs: dict[bytes, int] = {}
        self._lock = threading.Lock()

    def field_stats(self, name: str) -> FieldStats | None:
        with self._lock:  # the first call computes and caches: once, not once per thread
            return self.stats.field(name)

    def doc_freqs_of(self, keys: list[bytes], local: np.ndarray) -> np.ndarray:
        known = self._doc_freqs
        found = {key: known.get(key) for key in keys}  # another thread may clear ``known``
        missing = [key for key, count in found.items() if count is None]
        if missing:
            counts = self.stats.doc_freqs(missing, locate(self.stats.reader, missing)[1])  # supplied, if any
            counted = dict(zip(missing, counts.tolist()))
            found.update(counted)
            with self._lock:
                if len(known) + len(counted) > self.HELD:
                    known.clear()
                known.update(counted)
        return np.array([found[key] for key in keys], dtype=np.int64)

    def look_up(self, keys: list[bytes]) -> int:
        """Count ``keys``' document frequencies now (before the shards ask, on their threads);
        returns how many postings they have in all (deleted documents included)."""
        if not keys:
            return 0
        ranges, live = locate(self.stats.reader, keys)
        counts = self.stats.doc_freqs(keys, live)  # the enclosing searcher's (supplied ones, if any)
        with self._lock:
            if len(self._doc_freqs) + len(keys) > self.HELD:
                self._doc_freqs.clear()
            self._doc_freqs.update(zip(keys, counts.tolist()))
        return int(sum(int(r[:, 1].sum()) for r in ranges))


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
