"""MaxScore (Turtle & Flood): document-at-a-time over the terms' postings, one shared heap; once
the heap is full, terms whose summed upper bounds cannot beat its smallest score stop driving
the iteration and are only probed for documents the others found.

Counts the first ``track_total_hits`` matches exactly and reports a lower bound past that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from zhisou.errors import CorruptIndexError
from zhisou.index.segment_reader import SegmentReader
from zhisou.search import kernels
from zhisou.search.collectors import Collector
from zhisou.search.plan import Plan
from zhisou.search.stats import locate
from zhisou.search.strategies.base import Context
from zhisou.search.strategies.terms import field_constants, query_keys, weights, words_of
from zhisou.search.topk import TopDocs

_FLAT_FIELDS = ("starts", "counts", "weights", "rows", "norm_base", "norm_slope")


@dataclass
class Cursors:
    """One segment's postings cursors, over all fields, as parallel arrays."""

    starts: np.ndarray
    counts: np.ndarray
    weights: np.ndarray
    rows: np.ndarray  # row of each cursor's field in the length matrix
    norm_base: np.ndarray
    norm_slope: np.ndarray

    def sorted_by_weight(self) -> Cursors:
        order = np.argsort(self.weights, kind="stable")
        return Cursors(*(getattr(self, f)[order] for f in _FLAT_FIELDS))


class Heap:
    """The top-k heap shared by every segment of one search, and the matches counted."""

    def __init__(self, limit: int) -> None:
        self.scores = np.zeros(limit)
        self.docs = np.zeros(limit, dtype=np.int64)
        self.size = 0
        self.matched = 0

    def top_docs(self, track_total_hits: int, known_total: int | None = None) -> TopDocs:
        """The heap in rank order; ``known_total``: the exact match count when known anyway."""
        docs, scores = kernels.sort_heap(self.scores, self.docs, self.size)
        if known_total is not None:
            return TopDocs(docs, scores, known_total, True)
        return TopDocs(docs, scores, self.matched, self.matched < track_total_hits)


@dataclass
class SegmentCursors:
    """Every segment's cursors, and the exact match count when the query is one term searched
    without filters: its live document frequency (as Lucene counts a term query), so pruning
    costs such a query no exactness."""

    segments: list[Cursors]
    known_total: int | None


def segment_cursors(context: Context, plan: Plan) -> SegmentCursors | None:
    """Per segment, the cursors of the plan's terms it holds; None when the query has no terms."""
    query = query_keys(words_of(plan))
    if not query.keys:
        return None
    constants = field_constants(context, query.fields)
    ranges, live_doc_freqs = locate(context.reader, query.keys, query.encoded)
    term_weights = weights(context, query, constants, live_doc_freqs)
    cursors = []
    for segment_ranges, rows in zip(ranges, constants.rows):
        held = np.flatnonzero(segment_ranges[:, 1] > 0)
        fields = query.field_of[held]
        cursors.append(
            Cursors(
                segment_ranges[held, 0].copy(),
                segment_ranges[held, 1].copy(),
                term_weights[held],
                rows[fields],
                constants.norm_bases[fields],
                constants.norm_slopes[fields],
            )
        )
    unfiltered = context.allowed(plan) is context.reader.live
    return SegmentCursors(cursors, int(live_doc_freqs[0]) if len(query.keys) == 1 and unfiltered else None)


class PrunedStrategy:
    """What MaxScore, block-max MaxScore and block-max WAND share: free-text plans whose
    collector (if any) does not need every match, one pass over the segments into one heap,
    each segment searched by the strategy's kernel (``kernel``, a name in ``search/kernels.py``;
    all take the same arguments)."""

    name = ""
    prunes = True
    kernel = ""
    by_bound = False  # the kernel wants its cursors by bound, ascending (MaxScore)

    def supports(self, plan: Plan, collector: Collector | None) -> bool:
        return plan.words is not None and (collector is None or not collector.needs_every_match)

    def run(self, context: Context, plan: Plan, limit: int, collector: Collector | None) -> TopDocs:
        return run_pruned(context, plan, limit, self.search_segment)

    def search_segment(
        self, segment: SegmentReader, base: int, flat: Cursors, allowed: np.ndarray, heap: Heap, plan: Plan
    ) -> None:
        if self.by_bound:
            flat = flat.sorted_by_weight()
        heap.size, heap.matched = getattr(kernels, self.kernel)(
            segment.packed_postings,
            flat.starts,
            flat.counts,
            flat.weights,
            flat.rows,
            segment.length_matrix,
            flat.norm_base,
            flat.norm_slope,
            allowed,
            base,
            heap.scores,
            heap.docs,
            heap.size,
            heap.matched,
            plan.track_total_hits,
        )


class MaxScore(PrunedStrategy):
    name = "maxscore"
    kernel = "maxscore"
    by_bound = True


SegmentSearch = Callable[[SegmentReader, int, Cursors, np.ndarray, Heap, Plan], None]


def run_pruned(context: Context, plan: Plan, limit: int, search_segment: SegmentSearch) -> TopDocs:
    """A pruning strategy's pass: every segment's cursors searched into one shared heap."""
    cursors = segment_cursors(context, plan)
    if cursors is None:
        return TopDocs.empty()
    allowed = context.allowed(plan)
    heap = Heap(limit)
    for segment, base, flat in zip(context.reader.segments, context.reader.bases, cursors.segments):
        if not len(flat.starts):
            continue
        try:
            search_segment(segment, int(base), flat, allowed, heap, plan)
        except CorruptIndexError as error:
            raise segment.damaged(error) from None
    return heap.top_docs(plan.track_total_hits, cursors.known_total)
