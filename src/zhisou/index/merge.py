"""Merging: a tiered merge policy picks segments, the merger rewrites them as one without deleted docs."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zhisou.index.docstore import encode_doc
from zhisou.index.segment import SegmentMeta
from zhisou.index.segment_reader import SegmentReader
from zhisou.index.segment_writer import SegmentWriter


@dataclass(frozen=True)
class TieredMergePolicy:
    """Segments fall into tiers by live size (``floor_docs`` × ``factor``^tier); a tier holding
    ``factor`` segments is merged into one of the next tier. Segments with more than
    ``max_deleted_ratio`` deleted are rewritten on their own. The segment count therefore grows
    with the logarithm of the index size."""

    factor: int = 10
    floor_docs: int = 1000
    max_deleted_ratio: float = 0.5

    def find_merges(self, segments: Sequence[SegmentMeta]) -> list[list[SegmentMeta]]:
        merges: list[list[SegmentMeta]] = []
        tiers: dict[int, list[SegmentMeta]] = {}
        for meta in segments:
            if meta.doc_count and meta.del_count / meta.doc_count > self.max_deleted_ratio:
                merges.append([meta])
                continue
            size = max(meta.live_count, self.floor_docs)
            tier = int(math.log(size / self.floor_docs, self.factor) + 1e-9)
            tiers.setdefault(tier, []).append(meta)
        for tier in sorted(tiers):
            members = sorted(tiers[tier], key=lambda m: m.live_count)
            while len(members) >= self.factor:
                merges.append(members[: self.factor])
                members = members[self.factor :]
        return merges


def _keys_with_source(index: int, reader: SegmentReader) -> Iterator[tuple[bytes, int, int]]:
    for ordinal, key in enumerate(reader.terms.keys()):
        yield key, index, ordinal


def merge_segments(
    directory: Path,
    name: str,
    readers: Sequence[SegmentReader],
    lives: Sequence[np.ndarray],
    fields: dict[str, Any],
) -> SegmentMeta:
    """Write segment ``name`` holding the live documents of ``readers``, in order."""
    remaps: list[np.ndarray] = []
    base = 0
    for live in lives:
        remap = np.cumsum(live, dtype=np.int64) - 1 + base
        remaps.append(remap.astype(np.int32))
        base += int(live.sum())
    writer = SegmentWriter(directory, name, base)
    try:
        merged = heapq.merge(*(_keys_with_source(i, r) for i, r in enumerate(readers)))
        group: list[tuple[int, int]] = []
        current: bytes | None = None
        for key, index, ordinal in merged:
            if key != current and group:
                _write_term(writer, current, group, readers, lives, remaps)
                group = []
            current = key
            group.append((index, ordinal))
        if group and current is not None:
            _write_term(writer, current, group, readers, lives, remaps)
        text_fields = fields["text"]
        column_fields = fields["columns"]
        lengths = (
            np.stack([np.concatenate([r.lengths[f][live] for r, live in zip(readers, lives)]) for f in text_fields])
            if text_fields
            else np.empty((0, base), dtype=np.uint32)
        )
        columns = (
            np.stack([np.concatenate([r.columns[f][live] for r, live in zip(readers, lives)]) for f in column_fields])
            if column_fields
            else np.empty((0, base), dtype=np.float64)
        )
        stored = (encode_doc(r.stored(int(doc))) for r, live in zip(readers, lives) for doc in np.flatnonzero(live))
        ids = (r.doc_id(int(doc)) for r, live in zip(readers, lives) for doc in np.flatnonzero(live))
        return writer.finish(lengths, columns, stored, ids, fields)
    except BaseException:
        writer.abort()
        raise


def _write_term(
    writer: SegmentWriter,
    key: bytes | None,
    group: list[tuple[int, int]],
    readers: Sequence[SegmentReader],
    lives: Sequence[np.ndarray],
    remaps: Sequence[np.ndarray],
) -> None:
    assert key is not None
    docs_parts, freq_parts, pos_parts = [], [], []
    for index, ordinal in group:
        docs, freqs = readers[index].postings_at(ordinal)
        positions = readers[index].positions_at(ordinal)
        keep = lives[index][docs]
        if not keep.all():
            positions = positions[np.repeat(keep, freqs)]
            docs, freqs = docs[keep], freqs[keep]
        docs_parts.append(remaps[index][docs])
        freq_parts.append(freqs)
        pos_parts.append(positions)
    writer.add_term(key, np.concatenate(docs_parts), np.concatenate(freq_parts), np.concatenate(pos_parts))
