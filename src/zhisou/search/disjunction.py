"""The common case, compiled: a free-text query — a disjunction of words — scored by BM25.

``plan_disjunction`` recognizes query trees of that shape (words, optionally restricted by
filter and exclusion clauses); ``score_disjunction`` computes exactly what the general
executor would (same statistics, same sums), through the kernels in ``kernels.py``.
Anything else — phrases, prefixes, AND, sorting — takes the general path.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import cast

import numpy as np

from zhisou.analysis.tokenizers import is_single_chinese_character
from zhisou.errors import CorruptIndexError
from zhisou.index.reader import IndexReader
from zhisou.index.segment import Component
from zhisou.index.segment_reader import SegmentReader
from zhisou.index.termdict import encode_keys, term_key
from zhisou.search import kernels
from zhisou.search.executor import QueryTerms, ReaderStats
from zhisou.search.query import BooleanQuery, Query, TermQuery
from zhisou.search.similarity import Similarity

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
            self.touched = np.zeros(size + 1, dtype=np.int64)  # accumulate writes one ahead
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
        name = spec.analyzer_name
        terms = analyzed.get((name, text))
        if terms is None:
            terms = analyzed[(name, text)] = reader.analyzers.get(name).stream(text, for_query=True).terms
        counts = by_field.setdefault(field, {})
        for term in terms:
            counts[term] = counts.get(term, 0) + 1
    return by_field


@dataclass
class _QueryKeys:
    """A query's analyzed terms over all its fields, as parallel arrays (the kernels' layout)."""

    keys: list[bytes]  # ``field\x1fterm`` of each term
    multiplicity: np.ndarray  # how often the analyzed query produced each term
    field_of: np.ndarray  # index of each term's field in ``fields``
    fields: list[str]


def _query_keys(terms_by_field: dict[str, dict[str, int]]) -> _QueryKeys:
    keys: list[bytes] = []
    multiplicity: list[int] = []
    field_of: list[int] = []
    for number, (field, counts) in enumerate(terms_by_field.items()):
        for term, count in counts.items():
            keys.append(term_key(field, term))
            multiplicity.append(count)
            field_of.append(number)
    return _QueryKeys(
        keys, np.array(multiplicity, dtype=np.float64), np.array(field_of, dtype=np.int64), list(terms_by_field)
    )


def _locate(reader: IndexReader, keys: list[bytes]) -> tuple[list[np.ndarray], np.ndarray]:
    """Per segment, (postings start, count) of every key (count 0 where absent); and each key's
    live document frequency over the whole reader."""
    encoded = encode_keys(keys)
    ranges = [segment.postings_of(encoded) for segment in reader.segments]
    if len(ranges) == 1 and reader.segments[0].live is None:
        return ranges, ranges[0][:, 1]
    doc_freqs = np.zeros(len(keys), dtype=np.int64)
    for segment, segment_ranges in zip(reader.segments, ranges):
        if segment.live is None:
            doc_freqs += segment_ranges[:, 1]
        else:
            for index, (start, count) in enumerate(segment_ranges.tolist()):
                if count:
                    live = kernels.live_doc_freq(segment.docs, start, count, segment.live)
                    if live < 0:
                        raise _damaged(segment)
                    doc_freqs[index] += live
    return ranges, doc_freqs


@dataclass(frozen=True)
class _FieldConstants:
    """What scoring needs of a query's fields, the same for every query on them."""

    boosts: np.ndarray
    doc_counts: np.ndarray  # N of each field: live documents that have it
    norm_bases: np.ndarray  # the similarity's length-norm constants of each field
    norm_slopes: np.ndarray
    rows: list[np.ndarray]  # per segment, each field's row in its length matrix


def _memo(stats: ReaderStats, key: tuple[object, ...], similarity: Similarity) -> object | None:
    """A per-reader constant computed for ``similarity`` (kept with it: ids are reused)."""
    found = stats.memo.get(key)
    if found is not None and cast("tuple[object, object]", found)[0] is similarity:
        return cast("tuple[object, object]", found)[1]
    return None


def _field_constants(
    reader: IndexReader, stats: ReaderStats, similarity: Similarity, fields: tuple[str, ...]
) -> _FieldConstants:
    key = ("field-constants", id(similarity), fields)
    found = cast("_FieldConstants | None", _memo(stats, key, similarity))
    if found is None:
        field_stats = [stats.field(field) for field in fields]
        specs = [reader.schema.get(field) for field in fields]
        norms = np.array([similarity.length_norm(fs) for fs in field_stats], dtype=np.float64).reshape(-1, 2)
        found = _FieldConstants(
            np.array([spec.boost if spec is not None else 1.0 for spec in specs]),
            np.array([fs.doc_count for fs in field_stats], dtype=np.float64),
            np.ascontiguousarray(norms[:, 0]),
            np.ascontiguousarray(norms[:, 1]),
            [np.array([segment.text_field_row(f) for f in fields], dtype=np.int64) for segment in reader.segments],
        )
        stats.memo[key] = (similarity, found)
    return found


def _idf_table(reader: IndexReader, stats: ReaderStats, similarity: Similarity) -> np.ndarray:
    """The similarity's idf of every term of a one-segment reader without deletes, by term
    ordinal (document frequencies and N never change for a reader): the one-call kernel reads
    a term's idf here instead of computing a formula. Keyword and id terms get 0 (never asked)."""
    key = ("idf-table", id(similarity))
    table = cast("np.ndarray | None", _memo(stats, key, similarity))
    if table is None:
        segment = reader.segments[0]
        table = np.zeros(len(segment.terms))
        for spec in reader.schema.text_fields:
            ordinals = segment.field_ordinals(spec.name)
            doc_freqs = segment.term_info[ordinals.start : ordinals.stop, 1]
            counts = np.full(len(doc_freqs), stats.field(spec.name).doc_count, dtype=np.float64)
            table[ordinals.start : ordinals.stop] = similarity.idf_array(doc_freqs, counts)
        stats.memo[key] = (similarity, table)
    return table


def doc_freqs(reader: IndexReader, field: str, terms: list[str]) -> list[int]:
    """Live document frequency of each of ``terms`` of ``field`` over the reader."""
    return _locate(reader, [term_key(field, term) for term in terms])[1].tolist() if terms else []


def score_disjunction(
    reader: IndexReader,
    stats: ReaderStats,
    similarity: Similarity,
    terms_by_field: dict[str, dict[str, int]],
    allowed: np.ndarray,
    limit: int,
    query_terms: QueryTerms,
    method: str = "taat",
    track_total_hits: int = TRACK_TOTAL_HITS,
    matches: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """(top docs, their scores, matches counted, whether that count is exact) of the documents
    ``allowed`` that hold any of the analyzed terms (field → term → weight multiplier, see
    ``weighted_terms``). With ``matches`` (term-at-a-time only), every matching document is
    appended to it too, from the same pass: what facet counts need, without scoring again.

    ``method``: ``taat`` scores every posting (exact total); ``maxscore`` and ``blockmax``
    count the first ``track_total_hits`` matches exactly and then skip what cannot reach the
    top ``limit`` (with term-level or block-level bounds).
    The searcher's ``auto`` is ``taat``: on the benchmark corpora neither pruning variant skips
    enough to pay for document-at-a-time iteration (term-at-a-time measured 3× block-max at 100k
    documents and 1.8× at 1M; benchmarks/RESULTS.md), so both stay opt-in.
    """
    for field, counts in terms_by_field.items():
        query_terms.by_field.setdefault(field, set()).update(counts)
    query = _query_keys(terms_by_field)
    if not query.keys:
        return np.zeros(0, dtype=np.int64), np.zeros(0), 0, True
    constants = _field_constants(reader, stats, similarity, tuple(query.fields))
    filtered = allowed is not reader.live or reader.doc_count < reader.max_doc
    if method == "taat" and len(reader.segments) == 1 and reader.segments[0].live is None:
        segment = reader.segments[0]
        scores, touched = _BUFFERS.ensure(reader.max_doc)
        docs, top_scores, n_touched = kernels.score_one_segment(
            *segment.terms.arrays,
            segment.term_info,
            _idf_table(reader, stats, similarity),
            *encode_keys(query.keys),
            query.multiplicity,
            query.field_of,
            constants.boosts,
            segment.docs,
            segment.freqs,
            constants.rows[0],
            constants.norm_slopes,
            segment.length_matrix,
            constants.norm_bases,
            allowed,
            filtered,
            scores,
            touched,
            limit,
        )
        if n_touched < 0:
            raise _damaged(segment)
        if matches is not None:
            matches.append(touched[:n_touched].copy())
        return docs, top_scores, n_touched, True
    ranges, live_doc_freqs = _locate(reader, query.keys)
    weights = similarity.weights(
        live_doc_freqs, constants.doc_counts[query.field_of], query.multiplicity, constants.boosts[query.field_of]
    )
    norm_bases, norm_slopes, rows = constants.norm_bases, constants.norm_slopes, constants.rows
    if method in ("maxscore", "blockmax"):
        if matches is not None:
            raise ValueError("matches are collected by term-at-a-time only")
        flats = [
            _FlatCursors.of(segment_ranges, weights, query.field_of, segment_rows, norm_bases, norm_slopes)
            for segment_ranges, segment_rows in zip(ranges, rows)
        ]
        return _run_pruned(reader, flats, allowed, limit, track_total_hits, method == "blockmax")
    scores, touched = _BUFFERS.ensure(reader.max_doc)
    n_touched = 0
    for segment, base, segment_ranges, segment_rows in zip(reader.segments, reader.bases, ranges, rows):
        n_touched = kernels.accumulate(
            segment.docs,
            segment.freqs,
            segment_ranges,
            weights,
            query.field_of,
            segment_rows,
            norm_slopes,
            segment.length_matrix,
            norm_bases,
            allowed,
            filtered,
            int(base),
            scores,
            touched,
            n_touched,
        )
        if n_touched < 0:
            scores[:] = 0.0  # the per-thread buffer must be clean for the next query
            raise _damaged(segment)
    docs, top_scores = kernels.top_k_and_clear(scores, touched, n_touched, limit)
    if matches is not None:
        matches.append(touched[:n_touched].copy())
    return docs, top_scores, n_touched, True


def _damaged(segment: SegmentReader) -> CorruptIndexError:
    return CorruptIndexError(f"{segment.path(Component.DOCS)}: postings out of range; the index is damaged")


@dataclass
class _FlatCursors:
    """One segment's postings cursors, over all fields, as parallel arrays (what MaxScore takes)."""

    starts: np.ndarray
    counts: np.ndarray
    weights: np.ndarray
    rows: np.ndarray  # row of each cursor's field in the length matrix
    norm_base: np.ndarray
    norm_slope: np.ndarray

    @classmethod
    def of(
        cls,
        ranges: np.ndarray,
        weights: np.ndarray,
        field_of: np.ndarray,
        rows: np.ndarray,
        norm_bases: np.ndarray,
        norm_slopes: np.ndarray,
    ) -> _FlatCursors:
        held = np.flatnonzero(ranges[:, 1] > 0)
        return cls(
            ranges[held, 0].copy(),
            ranges[held, 1].copy(),
            weights[held],
            rows[field_of[held]],
            norm_bases[field_of[held]],
            norm_slopes[field_of[held]],
        )

    def sorted_by_weight(self) -> _FlatCursors:
        order = np.argsort(self.weights, kind="stable")
        return _FlatCursors(*(getattr(self, f)[order] for f in _FLAT_FIELDS))


_FLAT_FIELDS = ("starts", "counts", "weights", "rows", "norm_base", "norm_slope")


def _run_pruned(
    reader: IndexReader,
    segments: list[_FlatCursors],
    allowed: np.ndarray,
    limit: int,
    track_total_hits: int,
    block_max: bool,
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """MaxScore (term bounds) or block-max MaxScore over every segment, one shared heap."""
    heap_scores = np.zeros(limit)
    heap_docs = np.zeros(limit, dtype=np.int64)
    heap_size = matched = 0
    for segment, base, flat in zip(reader.segments, reader.bases, segments):
        if not len(flat.starts):
            continue
        if block_max:
            blocks = [
                segment.block_maxima(int(s), int(c), int(r), float(nb), float(ns))
                for s, c, r, nb, ns in zip(flat.starts, flat.counts, flat.rows, flat.norm_base, flat.norm_slope)
            ]
            heap_size, matched = kernels.block_max_maxscore(
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
            heap_size, matched = kernels.maxscore(
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
        if heap_size < 0:
            raise _damaged(segment)
    docs, top_scores = kernels.sort_heap(heap_scores, heap_docs, heap_size)
    return docs, top_scores, matched, matched < track_total_hits
