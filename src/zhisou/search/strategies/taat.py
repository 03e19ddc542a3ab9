"""Term-at-a-time: every posting of every query term is scored into one accumulator array.

For a reader of one segment without deletes, scored with its own statistics, a single compiled
call looks the terms up, reads their idf from a per-reader table and accumulates (no Python per
term); otherwise one call per segment accumulates with weights computed from live statistics.
Exact totals; every match can be handed to a collector.
"""

from __future__ import annotations

import numpy as np

from zhisou.errors import CorruptIndexError
from zhisou.search import kernels
from zhisou.search.collectors import Collector
from zhisou.search.plan import Plan
from zhisou.search.stats import locate
from zhisou.search.strategies.base import Context
from zhisou.search.strategies.terms import (
    BUFFERS,
    QueryKeys,
    field_constants,
    one_segment,
    query_keys,
    weights,
    words_of,
)
from zhisou.search.topk import TopDocs


class TermAtATime:
    name = "taat"
    prunes = False

    def supports(self, plan: Plan, collector: Collector | None) -> bool:
        return plan.words is not None

    def run(self, context: Context, plan: Plan, limit: int, collector: Collector | None) -> TopDocs:
        query = query_keys(words_of(plan))
        if not query.keys:
            return TopDocs.empty()
        scores, touched, gathered = BUFFERS.ensure(context.reader.max_doc)
        try:
            docs, top_scores, n_touched = self._accumulate(context, plan, query, limit, scores, touched, gathered)
        except CorruptIndexError:
            scores.fill(0.0)  # a damaged block stopped the loop half-way: the next query starts clean
            raise
        if collector is not None:
            collector.collect(touched[:n_touched].astype(np.int64))
        return TopDocs(np.asarray(docs, dtype=np.int64), top_scores, n_touched)

    @staticmethod
    def _accumulate(
        context: Context,
        plan: Plan,
        query: QueryKeys,
        limit: int,
        scores: np.ndarray,
        touched: np.ndarray,
        gathered: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        reader = context.reader
        allowed = context.allowed(plan)
        filtered = allowed is not reader.live or reader.doc_count < reader.max_doc
        fields = query.fields
        if len(reader.segments) == 1 and reader.segments[0].live is None and context.stats.local:
            try:
                return kernels.score_one_segment(
                    *one_segment(context, fields),
                    *query.encoded,
                    query.multiplicity,
                    query.field_of,
                    allowed,
                    filtered,
                    scores,
                    touched,
                    gathered,
                    limit,
                )
            except CorruptIndexError as error:
                raise reader.segments[0].damaged(error) from None
        constants = field_constants(context, fields)
        ranges, live_doc_freqs = locate(reader, query.keys, query.encoded)
        term_weights = weights(context, query, constants, live_doc_freqs)
        n_touched = 0
        for segment, base, segment_ranges, rows in zip(reader.segments, reader.bases, ranges, constants.rows):
            try:
                n_touched = kernels.accumulate(
                    segment.packed_postings,
                    segment_ranges,
                    term_weights,
                    query.field_of,
                    rows,
                    constants.norm_slopes,
                    segment.length_matrix,
                    constants.norm_bases,
                    allowed,
                    filtered,
                    int(base),
                    segment.doc_count,
                    scores,
                    touched,
                    n_touched,
                )
            except CorruptIndexError as error:
                raise segment.damaged(error) from None
        docs, top_scores = kernels.top_k_and_clear(scores, touched, n_touched, limit, gathered)
        return docs, top_scores, n_touched
