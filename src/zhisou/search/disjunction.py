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

from zhisou.analysis.tokenizers import is_single_chinese_character
from zhisou.index.reader import IndexReader
from zhisou.index.termdict import term_key
from zhisou.search.executor import QueryTerms, ReaderStats
from zhisou.search.kernels import (
    accumulate_bm25,
    block_max_maxscore,
    live_doc_freq,
    maxscore,
    sort_heap,
    top_k_and_clear,
)
from zhisou.search.query import BooleanQuery, Query, TermQuery
from zhisou.search.similarity import BM25

# Like Elasticsearch: count matches exactly up to here, then report "at least".
TRACK_TOTAL_HITS = 10_000


@dataclass(frozen=True)
class DisjunctionPlan:
    words: tuple[TermQuery, ...]
    filters: tuple[Query, ...] = ()
    exclusions: tuple[Query, ...] = ()


def _is_word(query: Query, text_fields: set[str]) -> bool:
    """A plain word (one Chinese character expands to the words holding it: general path)."""
    return (
        isinstance(query, TermQuery)
        and not query.prefix
        and (query.field is None or query.field in text_fields)
        and not is_single_chinese_character(query.text.strip())
    )


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


@dataclass
class _SegmentCursors:
    """The query terms one segment holds, over all fields: where each term's postings are."""

    starts: list[np.ndarray]
    counts: list[np.ndarray]
    weights: list[np.ndarray]
    fields: list[int]  # row of each group in the segment's length matrix


# Where a term's postings are: its live document frequency over the reader, and per segment
# holding it, (segment number, postings start, postings count).
TermPostings = tuple[int, tuple[tuple[int, int, int], ...]]
TERM_CACHE_SIZE = 1 << 16  # query terms follow Zipf's law: a small memo answers most lookups


def locate_terms(reader: IndexReader, stats: ReaderStats, field: str, terms: list[str]) -> list[TermPostings]:
    """Where each of ``terms`` of ``field`` lives, from the reader's memo or one compiled
    dictionary search per segment for the terms not seen before."""
    cache = stats.term_postings
    found: list[TermPostings | None] = [cache.get((field, term)) for term in terms]
    missing = [i for i, entry in enumerate(found) if entry is None]
    if missing:
        keys = [term_key(field, terms[i]) for i in missing]
        doc_freq = [0] * len(missing)
        places: list[list[tuple[int, int, int]]] = [[] for _ in missing]
        for number, segment in enumerate(reader.segments):
            for index, (start, length) in enumerate(segment.postings_of(keys)):
                if length:
                    live = length if segment.live is None else live_doc_freq(segment.docs, start, length, segment.live)
                    doc_freq[index] += live
                    places[index].append((number, start, length))
        if len(cache) + len(missing) > TERM_CACHE_SIZE:
            cache.clear()
        for slot, index in enumerate(missing):
            found[index] = cache[(field, terms[index])] = (doc_freq[slot], tuple(places[slot]))
    return found  # type: ignore[return-value]


def score_disjunction(
    reader: IndexReader,
    stats: ReaderStats,
    similarity: BM25,
    terms_by_field: dict[str, dict[str, int]],
    allowed: np.ndarray,
    limit: int,
    query_terms: QueryTerms,
    method: str = "taat",
    track_total_hits: int = TRACK_TOTAL_HITS,
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """(top docs, their scores, matches counted, whether that count is exact) of the documents
    ``allowed`` that hold any of the analyzed terms (field → term → weight multiplier, see
    ``weighted_terms``).

    ``method``: ``taat`` scores every posting (exact total); ``maxscore`` and ``blockmax``
    count the first ``track_total_hits`` matches exactly and then skip what cannot reach the
    top ``limit`` (with term-level or block-level bounds).
    The searcher's ``auto`` is ``taat``: on the benchmark corpora neither pruning variant
    skipped enough to pay for document-at-a-time iteration (+14 % at best, at 1M documents;
    benchmarks/RESULTS.md), so both stay opt-in.
    """
    n_segments = len(reader.segments)
    # Per segment and field: the postings starts, counts and weights of the query terms it holds.
    groups: list[list[tuple[list[int], list[int], list[float]]]] = [[] for _ in range(n_segments)]
    norms: list[tuple[float, float]] = []  # per field group: (norm base, norm slope)
    rows: list[str] = []  # field of each group
    for field, counts in terms_by_field.items():
        spec = reader.schema.get(field)
        assert spec is not None
        field_stats = stats.field(field)
        terms = list(counts)
        per_segment: list[tuple[list[int], list[int], list[float]]] = [([], [], []) for _ in range(n_segments)]
        for term, (doc_freq, places) in zip(terms, locate_terms(reader, stats, field, terms)):
            weight = counts[term] * spec.boost * similarity.idf(doc_freq, field_stats)
            for number, start, length in places:
                starts, lengths, weights = per_segment[number]
                starts.append(start)
                lengths.append(length)
                weights.append(weight)
        query_terms.by_field.setdefault(field, set()).update(terms)
        norms.append((similarity.k1 * (1 - similarity.b), similarity.k1 * similarity.b / field_stats.avg_length))
        rows.append(field)
        for number in range(n_segments):
            groups[number].append(per_segment[number])
    segments = [
        _SegmentCursors(
            [np.array(starts, dtype=np.int64) for starts, _, _ in segment_groups],
            [np.array(lengths, dtype=np.int64) for _, lengths, _ in segment_groups],
            [np.array(weights, dtype=np.float64) for _, _, weights in segment_groups],
            [segment.text_field_row(field) for field in rows],
        )
        for segment, segment_groups in zip(reader.segments, groups)
    ]
    if method in ("maxscore", "blockmax"):
        return _run_pruned(reader, segments, norms, allowed, limit, track_total_hits, method == "blockmax")
    return _run_taat(reader, segments, norms, allowed, limit)


def _run_taat(
    reader: IndexReader,
    segments: list[_SegmentCursors],
    norms: list[tuple[float, float]],
    allowed: np.ndarray,
    limit: int,
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    scores, touched = _BUFFERS.ensure(reader.max_doc)
    n_touched = 0
    for segment, base, cursors in zip(reader.segments, reader.bases, segments):
        for group, row in enumerate(cursors.fields):
            if not len(cursors.starts[group]):
                continue
            norm_base, norm_slope = norms[group]
            n_touched = accumulate_bm25(
                segment.docs,
                segment.freqs,
                cursors.starts[group],
                cursors.counts[group],
                cursors.weights[group],
                segment.length_matrix[row],
                norm_base,
                norm_slope,
                allowed,
                int(base),
                scores,
                touched,
                n_touched,
            )
    docs, top_scores = top_k_and_clear(scores, touched, n_touched, limit)
    return docs, top_scores, n_touched, True


@dataclass
class _FlatCursors:
    """One segment's cursors over all fields as parallel arrays, the layout the kernels take."""

    starts: np.ndarray
    counts: np.ndarray
    weights: np.ndarray
    rows: np.ndarray  # row of each cursor's field in the length matrix
    norm_base: np.ndarray
    norm_slope: np.ndarray

    @classmethod
    def of(cls, cursors: _SegmentCursors, norms: list[tuple[float, float]]) -> _FlatCursors:
        group_of = np.concatenate([np.full(len(s), g) for g, s in enumerate(cursors.starts)]).astype(np.int64)
        return cls(
            np.concatenate(cursors.starts),
            np.concatenate(cursors.counts),
            np.concatenate(cursors.weights),
            np.array(cursors.fields, dtype=np.int64)[group_of],
            np.array([norms[g][0] for g in group_of]),
            np.array([norms[g][1] for g in group_of]),
        )

    def sorted_by_weight(self) -> _FlatCursors:
        order = np.argsort(self.weights, kind="stable")
        return _FlatCursors(*(getattr(self, f)[order] for f in _FLAT_FIELDS))


_FLAT_FIELDS = ("starts", "counts", "weights", "rows", "norm_base", "norm_slope")


def _run_pruned(
    reader: IndexReader,
    segments: list[_SegmentCursors],
    norms: list[tuple[float, float]],
    allowed: np.ndarray,
    limit: int,
    track_total_hits: int,
    block_max: bool,
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """MaxScore (term bounds) or block-max MaxScore over every segment, one shared heap."""
    heap_scores = np.zeros(limit)
    heap_docs = np.zeros(limit, dtype=np.int64)
    heap_size = matched = 0
    for segment, base, cursors in zip(reader.segments, reader.bases, segments):
        if not any(len(s) for s in cursors.starts):
            continue
        flat = _FlatCursors.of(cursors, norms)
        if block_max:
            blocks = [
                segment.block_maxima(int(s), int(c), int(r), float(nb), float(ns))
                for s, c, r, nb, ns in zip(flat.starts, flat.counts, flat.rows, flat.norm_base, flat.norm_slope)
            ]
            heap_size, matched = block_max_maxscore(
                segment.docs,
                segment.freqs,
                flat.starts,
                flat.counts,
                flat.weights,
                flat.rows,
                segment.length_matrix,
                flat.norm_base,
                flat.norm_slope,
                np.concatenate(([0], np.cumsum([len(b[0]) for b in blocks]))),
                np.concatenate([b[0] for b in blocks]),
                np.concatenate([b[1] for b in blocks]),
                allowed,
                int(base),
                heap_scores,
                heap_docs,
                heap_size,
                matched,
                track_total_hits,
            )
        else:
            flat = flat.sorted_by_weight()  # MaxScore wants cursors by bound, ascending
            heap_size, matched = maxscore(
                segment.docs,
                segment.freqs,
                flat.starts,
                flat.counts,
                flat.weights,
                flat.rows,
                segment.length_matrix,
                flat.norm_base,
                flat.norm_slope,
                allowed,
                int(base),
                heap_scores,
                heap_docs,
                heap_size,
                matched,
                track_total_hits,
            )
    docs, top_scores = sort_heap(heap_scores, heap_docs, heap_size)
    return docs, top_scores, matched, matched < track_total_hits
