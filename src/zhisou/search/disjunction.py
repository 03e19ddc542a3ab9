"""The common case, compiled: a free-text query — a disjunction of words — scored by BM25.

``plan_disjunction`` recognizes query trees of that shape (words, optionally restricted by
filter and exclusion clauses); ``score_disjunction`` computes exactly what the general
executor would (same statistics, same sums), through the kernels in ``kernels.py``.
Anything else — phrases, prefixes, AND, sorting — takes the general path.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from zhisou.index.reader import IndexReader
from zhisou.index.termdict import term_key
from zhisou.search.executor import QueryTerms, ReaderStats
from zhisou.search.kernels import accumulate_bm25, live_doc_freq, top_k_and_clear
from zhisou.search.query import BooleanQuery, Query, TermQuery
from zhisou.search.similarity import BM25


@dataclass(frozen=True)
class DisjunctionPlan:
    words: tuple[TermQuery, ...]
    filters: tuple[Query, ...] = ()
    exclusions: tuple[Query, ...] = ()


def _is_word(query: Query, text_fields: set[str]) -> bool:
    return isinstance(query, TermQuery) and not query.prefix and (query.field is None or query.field in text_fields)


def plan_disjunction(tree: Query, text_fields: set[str]) -> DisjunctionPlan | None:
    filters: tuple[Query, ...] = ()
    exclusions: tuple[Query, ...] = ()
    if isinstance(tree, BooleanQuery) and len(tree.must) == 1 and not tree.should:
        # The shape Searcher builds for the ``filters=`` argument: must=(query,), filter=(...).
        filters, exclusions = tree.filter, tree.must_not
        tree = tree.must[0]
    if _is_word(tree, text_fields):
        return DisjunctionPlan((tree,), filters, exclusions)  # type: ignore[arg-type]
    if not isinstance(tree, BooleanQuery) or tree.must or not tree.should:
        return None
    if not all(_is_word(q, text_fields) for q in tree.should):
        return None
    # With filters and no required match, Lucene semantics would also return filter-only
    # documents with score 0; the compiled path only returns documents that match a word.
    if tree.minimum_should_match > 1 or (tree.filter and tree.minimum_should_match < 1):
        return None
    return DisjunctionPlan(tree.should, filters + tree.filter, exclusions + tree.must_not)  # type: ignore[arg-type]


class _Buffers(threading.local):
    """Per-thread score array and touched list, reused across queries (cleared as they are read)."""

    def __init__(self) -> None:
        self.scores = np.zeros(0)
        self.touched = np.zeros(0, dtype=np.int64)

    def ensure(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        if self.scores.shape[0] < size:
            self.scores = np.zeros(size)
            self.touched = np.zeros(size, dtype=np.int64)
        return self.scores, self.touched


_BUFFERS = _Buffers()


def weighted_terms(
    reader: IndexReader, plan: DisjunctionPlan, default_fields: tuple[str, ...]
) -> dict[str, dict[str, int]]:
    """field → term → how many times the analyzed query produced it (Lucene counts repeats)."""
    schema = reader.schema
    texts: dict[str, list[str]] = {}
    for word in plan.words:
        for field in (word.field,) if word.field is not None else default_fields:
            texts.setdefault(field, []).append(word.text)
    by_field: dict[str, dict[str, int]] = {}
    analyzed: dict[tuple[str, str], list[str]] = {}  # fields sharing an analyzer analyze once
    for field, words in texts.items():
        spec = schema.get(field)
        if spec is None:
            continue
        text = " ".join(words)
        name = spec.analyzer or "zh"
        terms = analyzed.get((name, text))
        if terms is None:
            terms = analyzed[(name, text)] = reader.analyzers.get(name).stream(text, for_query=True).terms
        counts = by_field.setdefault(field, {})
        for term in terms:
            counts[term] = counts.get(term, 0) + 1
    return by_field


def score_disjunction(
    reader: IndexReader,
    stats: ReaderStats,
    similarity: BM25,
    plan: DisjunctionPlan,
    default_fields: tuple[str, ...],
    allowed: np.ndarray,
    limit: int,
    query_terms: QueryTerms,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(top docs, their scores, total matches) — documents must be ``allowed``."""
    scores, touched = _BUFFERS.ensure(reader.max_doc)
    n_touched = 0
    for field, counts in weighted_terms(reader, plan, default_fields).items():
        spec = reader.schema.get(field)
        assert spec is not None
        field_stats = stats.field(field)
        # Per segment: ordinals of the query terms, and the live doc freq over all segments.
        located: list[list[tuple[int, int, int]]] = []  # per segment: (term index, start, count)
        doc_freq = np.zeros(len(counts), dtype=np.int64)
        terms = list(counts)
        keys = [term_key(field, term) for term in terms]
        for segment in reader.segments:
            found = []
            for index, key in enumerate(keys):
                ordinal = segment.terms.ordinal(key)
                if ordinal < 0:
                    continue
                start, count = segment.postings_range(ordinal)
                if segment.live is not None:
                    count_live = live_doc_freq(segment.docs, start, count, segment.live)
                else:
                    count_live = count
                doc_freq[index] += count_live
                found.append((index, start, count))
            located.append(found)
        weights = np.array(
            [
                counts[t] * spec.boost * similarity.idf(int(df), field_stats) if df else 0.0
                for t, df in zip(terms, doc_freq)
            ]
        )
        for term in terms:
            query_terms.add(field, term)
        for segment, base, found in zip(reader.segments, reader.bases, located):
            if not found:
                continue
            n_touched = accumulate_bm25(
                segment.docs,
                segment.freqs,
                np.array([f[1] for f in found], dtype=np.int64),
                np.array([f[2] for f in found], dtype=np.int64),
                weights[[f[0] for f in found]],
                segment.lengths[field],
                field_stats.avg_length,
                similarity.k1,
                similarity.b,
                allowed,
                int(base),
                scores,
                touched,
                n_touched,
            )
    docs, top_scores = top_k_and_clear(scores, touched, n_touched, limit)
    return docs, top_scores, n_touched
