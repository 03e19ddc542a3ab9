"""Merging: a tiered merge policy picks segments, the merger rewrites them as one without deleted docs."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zhisou.index.docstore import BLOCK_DOCS, encode_doc
from zhisou.index.postings import prefer_compiled
from zhisou.index.segment import ComponentProducer, OptionalComponent, SegmentMeta
from zhisou.index.segment_reader import SegmentReader
from zhisou.index.segment_writer import SegmentWriter
from zhisou.index.termdict import merge_key_lists


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


# Terms merged per batch: bounds the arrays a merge holds at once.
MERGE_BATCH_TERMS = 20_000


def _merged_optional(
    readers: Sequence[SegmentReader], lives: Sequence[np.ndarray]
) -> dict[OptionalComponent, np.ndarray]:
    """Per-doc optional components every source holds, as the rows of live documents in merged
    order (rows must agree in width); derived components, and ones only some sources hold, are
    dropped (their owner rebuilds them)."""
    merged: dict[OptionalComponent, np.ndarray] = {}
    if not readers:
        return merged
    for component in readers[0].components:
        if not isinstance(component, OptionalComponent) or not component.per_doc:
            continue
        if not all(component.suffix in r.optional for r in readers):
            continue
        parts = [_live_rows(r, component, live) for r, live in zip(readers, lives)]
        widths = {part.shape[1] for part in parts if part.ndim == 2 and part.shape[0]}
        if len(widths) > 1:
            continue
        width = widths.pop() if widths else 1
        merged[component] = np.concatenate([part.reshape(-1, width) for part in parts])
    return merged


def _live_rows(reader: SegmentReader, component: OptionalComponent, live: np.ndarray) -> np.ndarray:
    rows = reader.optional[component.suffix]
    if component.counts is None:
        return rows[live] if len(rows) else rows
    counts = reader.optional[component.counts].reshape(-1).astype(np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)  # the document of each row
    return rows[live[owner]]


def merge_segments(
    directory: Path,
    name: str,
    readers: Sequence[SegmentReader],
    lives: Sequence[np.ndarray],
    fields: dict[str, Any],
    producers: Sequence[ComponentProducer] = (),
) -> SegmentMeta:
    """Write segment ``name`` holding the live documents of ``readers``, in order (with the
    per-document optional components every reader holds, and what ``producers`` derive from them).

    Terms go in batches of ``MERGE_BATCH_TERMS`` (in global key order): each source segment
    holds a batch's postings contiguously, so a batch is a few slices per segment, remapped
    and filtered with numpy, then ordered by term with one stable sort (documents keep their
    order, since segments are concatenated in document order).
    """
    remaps: list[np.ndarray] = []
    base = 0
    for live in lives:
        remap = np.cumsum(live, dtype=np.int64) - 1 + base
        remaps.append(remap.astype(np.int32))
        base += int(live.sum())
    text_fields = fields["text"]
    column_fields = fields["columns"]
    lengths = (
        np.stack([np.concatenate([r.lengths[f][live] for r, live in zip(readers, lives)]) for f in text_fields])
        if text_fields
        else np.empty((0, base), dtype=np.uint32)
    )
    analysis = min(r.meta.analysis for r in readers)  # the oldest analysis its terms came from
    writer = SegmentWriter(directory, name, base, dict(zip(text_fields, lengths)), analysis)
    # Batches of a large merge each hold fewer postings than pay for loading numba, the merge
    # as a whole does: take the compiled codec for all of them.
    prefer_compiled(sum(int(r.term_info[:, 1].sum(dtype=np.int64)) for r in readers))
    try:
        # Per segment: the global rank of each of its terms (ascending, as its keys are sorted).
        all_keys, ranks = merge_key_lists([r.terms for r in readers])
        for first in range(0, len(all_keys), MERGE_BATCH_TERMS):
            last = min(first + MERGE_BATCH_TERMS, len(all_keys))
            _merge_batch(writer, all_keys, first, last, readers, lives, remaps, ranks)
        columns = (
            np.stack([np.concatenate([r.columns[f][live] for r, live in zip(readers, lives)]) for f in column_fields])
            if column_fields
            else np.empty((0, base), dtype=np.float64)
        )
        stored = _stored(readers, lives)
        ids = (r.doc_id(int(doc)) for r, live in zip(readers, lives) for doc in np.flatnonzero(live))
        optional = _merged_optional(readers, lives)
        for producer in producers:
            optional.update(producer.derive(optional, writer.terms()))
        return writer.finish(lengths, columns, stored, ids, fields, optional)
    except BaseException:
        writer.abort()
        raise


def _stored(readers: Sequence[SegmentReader], lives: Sequence[np.ndarray]) -> Iterator[str | bytes]:
    """Every live document's stored JSON, in merged order. A source without deletes reached at
    a block boundary of the output hands over its full blocks compressed as they are (no
    inflating, parsing, encoding and compressing again: most of a merge's time otherwise)."""
    written = 0
    for reader, live in zip(readers, lives):
        docs = np.flatnonzero(live)
        start = 0
        if written % BLOCK_DOCS == 0 and len(docs) == reader.doc_count:
            start = min(reader.doc_count // BLOCK_DOCS, reader.store.block_count) * BLOCK_DOCS
            for block in range(start // BLOCK_DOCS):
                yield reader.store.raw_block(block)
        for doc in docs[start:].tolist():
            yield encode_doc(reader.stored(doc))
        written += len(docs)


def _merge_batch(
    writer: SegmentWriter,
    all_keys: list[bytes],
    first: int,
    last: int,
    readers: Sequence[SegmentReader],
    lives: Sequence[np.ndarray],
    remaps: Sequence[np.ndarray],
    ranks: Sequence[np.ndarray],
) -> None:
    """Merge the terms of global ranks ``first``..``last`` - 1 from every segment."""
    term_parts, docs_parts, freq_parts, pos_parts = [], [], [], []
    for reader, live, remap, segment_ranks in zip(readers, lives, remaps, ranks):
        low, high = np.searchsorted(segment_ranks, [first, last])
        if low == high:
            continue
        info = reader.term_info[low:high]
        docs, freqs = reader.postings_of_rows(low, high)
        positions = reader.positions_of_rows(low, high, freqs)
        terms = np.repeat(segment_ranks[low:high], info[:, 1])
        keep = live[docs]
        if not keep.all():
            positions = positions[np.repeat(keep, freqs)]
            docs, freqs, terms = docs[keep], freqs[keep], terms[keep]
        term_parts.append(terms)
        docs_parts.append(remap[docs])
        freq_parts.append(freqs)
        pos_parts.append(positions)
    if not term_parts:
        return
    terms = np.concatenate(term_parts)
    freqs = np.concatenate(freq_parts)
    order = np.argsort(terms, kind="stable")
    terms, freqs = terms[order], freqs[order]
    # Gather each posting's positions in the new posting order.
    first_position = np.concatenate(([0], np.cumsum(np.concatenate(freq_parts), dtype=np.int64)[:-1]))[order]
    new_first = np.concatenate(([0], np.cumsum(freqs, dtype=np.int64)[:-1]))
    gather = np.repeat(first_position - new_first, freqs) + np.arange(int(freqs.sum()))
    present, counts = np.unique(terms, return_counts=True)
    writer.add_sorted_terms(
        [all_keys[r] for r in present.tolist()],
        counts,
        np.concatenate(docs_parts)[order],
        freqs,
        np.concatenate(pos_parts)[gather],
    )
