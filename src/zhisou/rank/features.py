"""Ranking features of (query, candidate) pairs, computed for a whole candidate list at once.

Every feature is a named column; a model records the names it was trained on and reads its
columns by name, so a schema with other fields (``bm25:title`` …) or a feature added later does
not shift what an old model sees. The lexical features score with the searcher's own
similarity and statistics through ``Similarity.score`` — the per-field columns add up to the
keyword score the engine gives the document for the same words.

=================  =============================================================================
name               value
=================  =============================================================================
bm25               the engine's score of the query's words (sum over fields)
bm25:<field>       that score's part from one text field (boost included)
semantic           cosine of the query with the document's best passage (0 without vectors)
bm25@list          ``bm25`` scaled within the query's candidate list: 0 for the list's lowest,
                   1 for its highest (LETOR's query-level normalization: where a candidate stands
                   among the others, whatever the query's score level; NaN when all are equal)
semantic@list      ``semantic`` scaled likewise (a query's cosines may all lie near 0.85,
                   another's near 0.75)
rr:bm25            1 / rank in the keyword channel's list (0 when its first RANK_WINDOW, as a
                   fusion reads them, do not hold the document: the same however deep it went)
rr:semantic        1 / rank in the semantic channel's list (0 likewise)
coverage           the best field's share of the query's distinct terms that the document holds
coverage:<field>   that share in one field
proximity          matched terms / the smallest window of positions holding them all, in the
                   field where that is largest (1: side by side; 0: fewer than two terms)
title_phrase       1 when the title holds the query as a phrase
title_ratio        query-term occurrences in the title / the title's length
length:<field>     the document's length in terms, per text field
age_days           days between the document's date and now (NaN without a date)
query_terms        distinct terms the query analyzes to
click:doc          the document's clicks per look over every query (``clickstats.py``; NaN
                   when the log never showed it, or without click statistics)
click:query_doc    its clicks per look for this query (NaN likewise)
click:query_doc_looks  how many looks that rate rests on (0 without any)
=================  =============================================================================

Missing values are NaN (gradient-boosted trees learn where to send them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from zhisou.compiled import kernel
from zhisou.rank.clickstats import CLICK_FEATURES, ClickStats
from zhisou.search.executor import Executor
from zhisou.search.fusion import RANK_WINDOW
from zhisou.search.hits import CardFields
from zhisou.search.plan import DisjunctionPlan, WordWeights, weighted_terms
from zhisou.search.query import PhraseQuery, TermQuery
from zhisou.search.stats import locate
from zhisou.search.strategies.terms import field_constants, query_keys
from zhisou.search.topk import TopDocs

if TYPE_CHECKING:
    from zhisou.search.request import SearchRequest
    from zhisou.search.searcher import Searcher

CHANNELS = ("bm25", "semantic")
DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class FeatureMatrix:
    """One row per candidate, one named column per feature."""

    names: tuple[str, ...]
    values: np.ndarray  # float64, (candidates, features)

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]

    def select(self, names: Sequence[str]) -> np.ndarray:
        """The columns ``names`` in that order; a name this matrix lacks reads as NaN (missing)."""
        out = np.full((len(self.values), len(names)), np.nan)
        for number, name in enumerate(names):
            if name in self.names:
                out[:, number] = self.values[:, self.names.index(name)]
        return out


def feature_names(searcher: Searcher) -> tuple[str, ...]:
    """The features ``extract`` computes on this searcher's schema, in column order."""
    fields = [spec.name for spec in searcher.schema.text_fields]
    return (
        "bm25",
        *(f"bm25:{name}" for name in fields),
        "semantic",
        *(f"{name}@list" for name in CHANNELS),
        *(f"rr:{channel}" for channel in CHANNELS),
        "coverage",
        *(f"coverage:{name}" for name in fields),
        "proximity",
        "title_phrase",
        "title_ratio",
        *(f"length:{name}" for name in fields),
        "age_days",
        "query_terms",
        *CLICK_FEATURES,
    )


def query_words(searcher: Searcher, text: str, fields: Sequence[str] | None = None) -> WordWeights:
    """The query read as plain words: field → analyzed term → multiplicity, over ``fields``
    (default: every text field), as the keyword channel analyzes them."""
    names = tuple(fields) if fields else tuple(spec.name for spec in searcher.schema.text_fields)
    if not text.strip():
        return {}
    return weighted_terms(searcher.reader, DisjunctionPlan((TermQuery(text),), ()), names)


def extract(
    searcher: Searcher,
    request: SearchRequest,
    docs: np.ndarray,
    channels: Sequence[tuple[str, TopDocs]] = (),
    now: float | None = None,
    clicks: ClickStats | None = None,
    listed: int | None = None,
) -> FeatureMatrix:
    """The features of ``docs`` (global doc numbers) for ``request``; ``channels``: each recall
    channel's own list (``Stages.run`` fills them); ``clicks``: the log's statistics, if any.
    ``docs`` is the candidate list the ``@list`` features scale within — its first ``listed``
    rows when given (the rest are scaled as those are: an explanation of documents past it)."""
    docs = np.asarray(docs, dtype=np.int64)
    names = feature_names(searcher)
    columns: dict[str, np.ndarray] = {}
    text = searcher.semantic_query(request).text  # the words that score, without syntax (as the semantic channel)
    words = query_words(searcher, text, request.fields)
    fields = [spec.name for spec in searcher.schema.text_fields]
    _lexical(searcher, words, docs, fields, columns)
    columns["semantic"] = _semantic(searcher, text, docs)
    for channel in CHANNELS:
        columns[f"rr:{channel}"] = _reciprocal_ranks(docs, dict(channels).get(channel))
        columns[f"{channel}@list"] = _within_list(columns[channel], listed)
    columns["title_phrase"] = _title_phrase(searcher, text, docs, words)
    columns["age_days"] = _age_days(searcher, docs, time.time() if now is None else now)
    columns["query_terms"] = np.full(len(docs), float(len({t for counts in words.values() for t in counts})))
    if clicks is not None and len(docs):
        columns |= clicks.columns(text, searcher.reader.doc_ids(docs.tolist()))
    else:
        columns |= {name: np.full(len(docs), np.nan) for name in CLICK_FEATURES}
    values = np.column_stack([columns[name] for name in names]) if len(docs) else np.zeros((0, len(names)))
    return FeatureMatrix(names, values.astype(np.float64, copy=False))


def _lexical(
    searcher: Searcher, words: WordWeights, docs: np.ndarray, fields: list[str], columns: dict[str, np.ndarray]
) -> None:
    """bm25, bm25:<field>, coverage, coverage:<field>, proximity, length:<field>, title_ratio."""
    n = len(docs)
    stats, similarity, reader = searcher.stats, searcher.similarity, searcher.reader
    for name in fields:
        columns[f"bm25:{name}"] = np.zeros(n)
        columns[f"coverage:{name}"] = np.zeros(n)
        columns[f"length:{name}"] = stats.lengths(name)[docs].astype(np.float64)
    columns["proximity"] = np.zeros(n)
    columns["title_ratio"] = np.zeros(n)
    query = query_keys(words)
    if not query.keys or not n:
        columns["bm25"] = np.zeros(n)
        columns["coverage"] = np.zeros(n)
        return
    constants = field_constants(searcher.context, tuple(query.fields))
    title = CardFields.of(searcher.schema).title
    _, live_doc_freqs = locate(reader, query.keys)
    field_doc_counts = constants.doc_counts[query.field_of]
    idf = similarity.idf_array(stats.doc_freqs(query.keys, live_doc_freqs), field_doc_counts)
    factors = query.multiplicity * constants.boosts[query.field_of]
    tf, occurrences = _term_frequencies(searcher, query.keys, docs)
    for t, field_number in enumerate(query.field_of.tolist()):
        name = query.fields[field_number]
        has = tf[:, t] > 0
        if idf[t] and has.any():
            part = similarity.score(
                float(idf[t]), tf[has, t], stats.lengths(name)[docs[has]], stats.field(name)
            ) * float(factors[t])
            columns[f"bm25:{name}"][has] += part
    columns["bm25"] = sum((columns[f"bm25:{name}"] for name in fields), np.zeros(n))
    for field_number, name in enumerate(query.fields):
        terms = np.flatnonzero(query.field_of == field_number)
        matched = (tf[:, terms] > 0).sum(axis=1)
        columns[f"coverage:{name}"] = matched / len(terms)
        proximity = _proximity(searcher, occurrences, n, terms, matched)
        columns["proximity"] = np.maximum(columns["proximity"], proximity)
        if name == title:
            lengths = columns[f"length:{name}"]
            ratio = np.divide(tf[:, terms].sum(axis=1), lengths, out=np.zeros(n), where=lengths > 0)
            columns["title_ratio"] = np.minimum(ratio, 1.0)
    columns["coverage"] = np.max([columns[f"coverage:{name}"] for name in fields], axis=0)


@dataclass
class _Occurrences:
    """Where the candidates' postings of the query's keys keep their positions: one record per
    (candidate row, key) that occurs, with the segment and the range in ``positions`` (the
    decoded positions of every (segment, key) that occurs, one after another)."""

    rows: np.ndarray
    keys: np.ndarray
    segments: np.ndarray
    begins: np.ndarray
    ends: np.ndarray
    positions: np.ndarray


def _term_frequencies(searcher: Searcher, keys: list[bytes], docs: np.ndarray) -> tuple[np.ndarray, _Occurrences]:
    """Each candidate's frequency of each key, and where its positions of each key are."""
    reader = searcher.reader
    tf = np.zeros((len(docs), len(keys)))
    parts: list[tuple[np.ndarray, ...]] = []
    pool: list[np.ndarray] = []
    pooled = 0
    owners = np.searchsorted(reader.bases, docs, side="right") - 1
    for number, segment in enumerate(reader.segments):
        rows = np.flatnonzero(owners == number)
        if not len(rows):
            continue
        local = docs[rows] - int(reader.bases[number])
        for key, ordinal in enumerate(segment.terms.ordinals(keys).tolist()):
            if ordinal < 0:
                continue
            posting_docs, freqs = segment.postings_at(ordinal)
            count = len(posting_docs)
            at = np.minimum(np.searchsorted(posting_docs, local), count - 1)
            found = posting_docs[at] == local
            if not found.any():
                continue
            postings = at[found]
            tf[rows[found], key] = freqs[postings]
            # A posting's positions follow those of the postings before it: frequencies summed.
            ends = np.cumsum(freqs[: int(postings.max()) + 1], dtype=np.int64)
            begins = np.where(postings > 0, ends[postings - 1], 0)
            position_start = pooled
            pool.append(segment.positions_of_rows(ordinal, ordinal + 1, freqs))
            pooled += len(pool[-1])
            parts.append(
                (
                    rows[found],
                    np.full(len(postings), key),
                    np.full(len(postings), number),
                    position_start + begins,
                    position_start + ends[postings],
                )
            )
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return tf, _Occurrences(empty, empty, empty, empty, empty, empty)
    columns = [np.concatenate(column).astype(np.int64) for column in zip(*parts)]
    return tf, _Occurrences(*columns, np.concatenate(pool))


def _proximity(
    searcher: Searcher, occurrences: _Occurrences, n_docs: int, terms: np.ndarray, matched: np.ndarray
) -> np.ndarray:
    """Per candidate: terms matched / the smallest window of positions that holds one of each
    (of ``terms``, one field's keys); 0 when fewer than two of them occur."""
    out = np.zeros(n_docs)
    numbers = np.full(max(int(terms.max(initial=0)), int(occurrences.keys.max(initial=0))) + 1, -1, dtype=np.int64)
    numbers[terms] = np.arange(len(terms))
    keep = (matched[occurrences.rows] >= 2) & np.isin(occurrences.keys, terms)
    for segment_number in np.unique(occurrences.segments[keep]).tolist():
        chosen = keep & (occurrences.segments == segment_number)
        order = np.lexsort((occurrences.keys[chosen], occurrences.rows[chosen]))
        rows = occurrences.rows[chosen][order]
        positions, lengths = gather_ranges(
            occurrences.positions,
            occurrences.begins[chosen][order],
            occurrences.ends[chosen][order],
        )
        term_of = np.repeat(numbers[occurrences.keys[chosen][order]], lengths)
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        groups = np.r_[np.cumsum(np.r_[0, lengths])[starts], len(positions)].astype(np.int64)
        windows = smallest_windows(positions.astype(np.int64), term_of, groups, len(terms))
        grouped = rows[starts]
        out[grouped] = np.minimum(matched[grouped] / windows, 1.0)
    return out


@kernel
def gather_ranges(source: np.ndarray, begins: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``source[begins[i]:ends[i]]`` for every i, concatenated, and each range's length."""
    lengths = ends - begins
    out = np.empty(lengths.sum(), dtype=source.dtype)
    at = 0
    for i in range(begins.shape[0]):
        for j in range(begins[i], ends[i]):
            out[at] = source[j]
            at += 1
    return out, lengths


@kernel
def smallest_windows(positions: np.ndarray, terms: np.ndarray, offsets: np.ndarray, n_terms: int) -> np.ndarray:
    """Per group (``offsets``), the length of the smallest span of positions holding one
    occurrence of every term that occurs in the group (terms are 0 .. ``n_terms`` - 1)."""
    n_groups = offsets.shape[0] - 1
    out = np.zeros(n_groups)
    for g in range(n_groups):
        start, end = offsets[g], offsets[g + 1]
        order = np.argsort(positions[start:end], kind="mergesort") + start
        present = np.zeros(n_terms, dtype=np.int64)
        for i in range(start, end):
            present[terms[i]] = 1
        need = present.sum()
        counts = np.zeros(n_terms, dtype=np.int64)
        have = 0
        best = np.inf
        left = 0
        for right in range(order.shape[0]):
            term = terms[order[right]]
            if counts[term] == 0:
                have += 1
            counts[term] += 1
            while have == need:
                span = positions[order[right]] - positions[order[left]] + 1
                if span < best:
                    best = span
                gone = terms[order[left]]
                counts[gone] -= 1
                if counts[gone] == 0:
                    have -= 1
                left += 1
        out[g] = best
    return out


def _semantic(searcher: Searcher, text: str, docs: np.ndarray) -> np.ndarray:
    if not text.strip() or not searcher.has_vectors or not len(docs):
        return np.zeros(len(docs))
    from zhisou.search.dense import best_passage_scores

    return best_passage_scores(searcher, docs, searcher.query_vector(text))


def _within_list(values: np.ndarray, listed: int | None) -> np.ndarray:
    """``values`` scaled so the lowest of the first ``listed`` is 0 and the highest 1."""
    head = values[:listed]
    if not len(head):
        return np.full(len(values), np.nan)
    low, high = float(head.min()), float(head.max())
    if not high > low:
        return np.full(len(values), np.nan)
    return (values - low) / (high - low)


def _reciprocal_ranks(docs: np.ndarray, top: TopDocs | None) -> np.ndarray:
    out = np.zeros(len(docs))
    if top is None or not len(top):
        return out
    rank_of = {int(doc): rank for rank, doc in enumerate(top.docs[:RANK_WINDOW].tolist(), start=1)}
    for row, doc in enumerate(docs.tolist()):
        rank = rank_of.get(doc)
        if rank is not None:
            out[row] = 1.0 / rank
    return out


def _title_phrase(searcher: Searcher, text: str, docs: np.ndarray, words: WordWeights) -> np.ndarray:
    """1 where the title holds the query as a phrase (0 everywhere without a title field)."""
    title = CardFields.of(searcher.schema).title
    if title is None or not len(docs) or not words.get(title):
        return np.zeros(len(docs))
    executor = Executor(searcher.reader, searcher.stats, searcher.similarity, (title,))
    return executor.evaluate(PhraseQuery(text, field=title)).mask[docs].astype(np.float64)


def _age_days(searcher: Searcher, docs: np.ndarray, now: float) -> np.ndarray:
    date = CardFields.of(searcher.schema).date
    if date is None:
        return np.full(len(docs), np.nan)
    return (now - searcher.stats.column(date)[docs]) / DAY_SECONDS
