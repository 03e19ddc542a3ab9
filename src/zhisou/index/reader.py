"""A point-in-time view of a committed index: the segments of one manifest, opened read-only.

A reader never changes: the writer only adds files and publishes new manifests, so a reader
(and every searcher built on it) stays valid while indexing goes on. ``reopen`` gives a newer one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from zhisou.analysis import AnalysisResources, AnalyzerRegistry
from zhisou.errors import CorruptIndexError
from zhisou.index.idpages import IdPages
from zhisou.index.manifest import Manifest, load_generation, load_latest, manifest_generations
from zhisou.index.segment_reader import SegmentReader
from zhisou.index.termdict import term_key
from zhisou.schema import Schema

HELD_MEMO = 200_000  # term presence answers a reader remembers (cleared when full)
DECODED_IDS_UP_TO = 200_000  # documents; ~14 MB of id strings at most
OPEN_RETRY_SECONDS = 30.0


class IndexReader:
    def __init__(
        self, directory: Path, manifest: Manifest, segments: list[SegmentReader], analyzers: AnalyzerRegistry
    ) -> None:
        self.directory = directory
        self.manifest = manifest
        self.schema = Schema.from_dict(manifest.schema, str(directory))
        self.segments = segments
        self.analyzers = analyzers
        self.bases = np.cumsum([0] + [s.doc_count for s in segments], dtype=np.int64)
        self.max_doc = int(self.bases[-1])
        live_parts = [s.live_mask() for s in segments]
        self.live = np.concatenate(live_parts) if live_parts else np.zeros(0, dtype=np.bool_)
        self.doc_count = int(self.live.sum())
        self._all_ids: list[str] | None = None
        self._id_pages: IdPages | None = None
        self._held: dict[bytes, bool] = {}  # has_terms' answers
        # What layers above work out from this reader and keep as long as it lives (it never
        # changes): query planning's terms of a word, say. Keyed by the owner's name.
        self.memo: dict[str, Any] = {}
        self._distinct_terms: int | None = None

    @classmethod
    def open(
        cls, directory: Path, analyzers: AnalyzerRegistry | None = None, *, generation: int | None = None
    ) -> IndexReader:
        """Open the newest commit (or commit ``generation``: ``FileNotFoundError`` when a newer
        commit removed it).

        A commit removes the files of the commit before last; a reader that loses that race
        (it read an old manifest, then its files went) tries the newer commit, keeping the
        segments it already opened. It gives up only when the same commit fails twice (damage)
        or after ``OPEN_RETRY_SECONDS`` of commits outrunning it."""
        directory = Path(directory)
        opened: dict[tuple[str, str, int], SegmentReader] = {}
        deadline = time.monotonic() + OPEN_RETRY_SECONDS
        while True:
            manifest = load_latest(directory) if generation is None else load_generation(directory, generation)
            try:
                segments = []
                for meta in manifest.segments:
                    key = (meta.name, meta.uid, meta.del_gen)
                    segment = opened.get(key)
                    if segment is None or segment.meta != meta:
                        segment = opened[key] = SegmentReader(directory, meta)
                    segments.append(segment)
            except (CorruptIndexError, FileNotFoundError) as exc:
                if generation is not None:
                    raise
                if load_latest(directory).generation != manifest.generation and time.monotonic() < deadline:
                    continue  # a newer commit replaced these files while we opened them
                if isinstance(exc, CorruptIndexError):
                    raise
                raise CorruptIndexError(f"{directory}: {exc}; the index is damaged") from exc
            registry = analyzers or AnalyzerRegistry(AnalysisResources.load(directory))
            return cls(directory, manifest, segments, registry)

    @property
    def generation(self) -> int:
        return self.manifest.generation

    def is_current(self) -> bool:
        """Whether no newer commit exists (a directory listing; no manifest is read)."""
        generations = manifest_generations(self.directory)
        return not generations or generations[0] == self.generation

    def reopen(self) -> IndexReader:
        """A reader on the newest commit (self if nothing changed)."""
        if self.is_current():
            return self
        return IndexReader.open(self.directory, self.analyzers)

    def locate(self, global_doc: int) -> tuple[SegmentReader, int]:
        index = int(np.searchsorted(self.bases, global_doc, side="right")) - 1
        return self.segments[index], global_doc - int(self.bases[index])

    def stored(self, global_doc: int) -> dict[str, Any]:
        segment, local = self.locate(global_doc)
        return segment.stored(local)

    def doc_id(self, global_doc: int) -> str:
        segment, local = self.locate(global_doc)
        return segment.doc_id(local)

    def distinct_live_terms(self) -> int:
        """Distinct (field, term) keys held by at least one live document, across segments
        (a term in three segments counts once; one whose documents are all deleted, not at all).
        Computed once per reader."""
        if self._distinct_terms is None:
            if len(self.segments) == 1:
                self._distinct_terms = len(self.segments[0].live_term_ordinals())
            else:
                keys: set[bytes] = set()
                for segment in self.segments:
                    view = segment.terms.key_view
                    keys.update(view[int(ordinal)] for ordinal in segment.live_term_ordinals())
                self._distinct_terms = len(keys)
        return self._distinct_terms

    def doc_ids(self, global_docs: list[int]) -> list[str]:
        """Ids of a page of documents: from a list decoded once per reader when the reader is
        small (it costs ~70 bytes a document), else from each segment's id bytes."""
        if self.max_doc <= DECODED_IDS_UP_TO:
            ids = self.all_doc_ids()
            return [ids[doc] for doc in global_docs]
        if len(self.segments) == 1:
            return self.segments[0].doc_ids(global_docs)
        if len(global_docs) > 64:
            if self._id_pages is None:
                self._id_pages = IdPages(
                    [segment.id_bytes for segment in self.segments],
                    [segment.id_offsets for segment in self.segments],
                    self.bases,
                )
            joined = self._id_pages.joined(global_docs)
            if joined is not None:  # else an id holds a NUL byte: one by one
                try:
                    return joined.decode().split("\0")
                except UnicodeDecodeError:
                    message = f"{self.directory}: document ids are not UTF-8; the index is damaged"
                    raise CorruptIndexError(message) from None
        owners = np.searchsorted(self.bases, np.asarray(global_docs, dtype=np.int64), side="right") - 1
        return [self.segments[i].doc_id(d - int(self.bases[i])) for i, d in zip(owners.tolist(), global_docs)]

    def all_doc_ids(self) -> list[str]:
        if self._all_ids is None:
            self._all_ids = [doc_id for segment in self.segments for doc_id in segment.all_doc_ids()]
        return self._all_ids

    def has_terms(self, keys: list[bytes]) -> list[bool]:
        """Whether any segment holds each term (``field\x1fterm``; deleted documents count).
        Answers are remembered (a reader's dictionaries never change): query planning asks
        about the same common words again and again, and a dictionary probe per segment costs
        ~10 µs of a ~60 µs query."""
        known = self._held
        missing = [key for key in dict.fromkeys(keys) if key not in known]
        if missing:
            found = np.zeros(len(missing), dtype=np.bool_)
            for segment in self.segments:
                found |= segment.terms.ordinals(missing) >= 0
            if len(known) + len(missing) > HELD_MEMO:
                known.clear()
            known.update(zip(missing, found.tolist()))
        return [known[key] for key in keys]

    def find(self, doc_id: str) -> int | None:
        """Global doc number of the live document with this id."""
        key = term_key(self.schema.id_field, doc_id)
        for segment, base in zip(self.segments, self.bases):
            docs = segment.doc_ids_for(key)
            if len(docs):
                return int(base) + int(docs[-1])
        return None

    def get(self, doc_id: str) -> dict[str, Any] | None:
        doc = self.find(doc_id)
        return None if doc is None else self.stored(doc)

    def verify(self, *, remember: bool = True) -> None:
        for segment in self.segments:
            segment.verify(remember=remember)
