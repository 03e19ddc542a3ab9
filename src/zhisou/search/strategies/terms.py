"""A plan's words in the layout the compiled kernels read, shared by the compiled strategies.

A query's analyzed terms over all its fields become parallel arrays (key, multiplicity, field);
the similarity turns their document frequencies into per-term weights and each field's
statistics into length-norm constants, so the kernels compute ``weight · tf / (tf + base +
slope · dl)`` and know no formula. Constants that depend only on the reader and the similarity
are kept per reader.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import cast

import numpy as np

from zhisou.errors import ZhisouError
from zhisou.index.termdict import FIELD_SEPARATOR, encode_keys
from zhisou.search.plan import Plan, WordWeights
from zhisou.search.similarity import Similarity
from zhisou.search.stats import ReaderStats
from zhisou.search.strategies.base import Context


@dataclass
class QueryKeys:
    """A query's analyzed terms over all its fields, as parallel arrays."""

    keys: list[bytes]  # ``field\x1fterm`` of each term
    multiplicity: np.ndarray  # how often the analyzed query produced each term
    field_of: np.ndarray  # index of each term's field in ``fields``
    fields: tuple[str, ...]
    encoded: tuple[bytes, np.ndarray]  # ``keys`` as the dictionary lookup takes them (``encode_keys``)


def query_keys(words: WordWeights) -> QueryKeys:
    if len(words) == 1:  # one field, the common case: a few µs of a small corpus's query
        ((name, counts),) = words.items()
        prefix = name + FIELD_SEPARATOR  # term_key, inlined: this runs for every query term
        keys = [(prefix + term).encode() for term in counts]
        n = len(keys)
        multiplicity = np.array([*counts.values()], dtype=np.float64)
        return QueryKeys(keys, multiplicity, np.zeros(n, dtype=np.int64), (name,), encode_keys(keys))
    keys = []
    repeats: list[float] = []
    field_of: list[int] = []
    for number, (name, counts) in enumerate(words.items()):
        prefix = name + FIELD_SEPARATOR
        keys += [(prefix + term).encode() for term in counts]
        repeats += counts.values()
        field_of += [number] * len(counts)
    return QueryKeys(
        keys,
        np.array(repeats, dtype=np.float64),
        np.array(field_of, dtype=np.int64),
        tuple(words),
        encode_keys(keys),
    )


def words_of(plan: Plan) -> WordWeights:
    """The plan's words (what the compiled strategies score)."""
    assert plan.words is not None, "a compiled strategy was given a plan without words"
    return plan.words


@dataclass(frozen=True)
class FieldConstants:
    """What scoring needs of a query's fields, the same for every query on them."""

    boosts: np.ndarray
    doc_counts: np.ndarray  # N of each field: documents that have it
    norm_bases: np.ndarray  # the similarity's length-norm constants of each field
    norm_slopes: np.ndarray
    rows: list[np.ndarray]  # per segment, each field's row in its length matrix


def _memo(stats: ReaderStats, key: tuple[object, ...], similarity: Similarity) -> object | None:
    """A per-reader constant computed for ``similarity`` (kept with it: ids are reused)."""
    found = stats.memo.get(key)
    if found is not None and cast("tuple[object, object]", found)[0] is similarity:
        return cast("tuple[object, object]", found)[1]
    return None


def field_constants(context: Context, fields: tuple[str, ...]) -> FieldConstants:
    reader, stats, similarity = context.reader, context.stats, context.similarity
    key = ("field-constants", id(similarity), fields)
    found = cast("FieldConstants | None", _memo(stats, key, similarity))
    if found is None:
        field_stats = [stats.field(name) for name in fields]
        specs = [reader.schema.get(name) for name in fields]
        norms = np.array([similarity.length_norm(fs) for fs in field_stats], dtype=np.float64).reshape(-1, 2)
        found = FieldConstants(
            np.array([spec.boost if spec is not None else 1.0 for spec in specs]),
            np.array([fs.doc_count for fs in field_stats], dtype=np.float64),
            np.ascontiguousarray(norms[:, 0]),
            np.ascontiguousarray(norms[:, 1]),
            [np.array([segment.text_field_row(f) for f in fields], dtype=np.int64) for segment in reader.segments],
        )
        stats.memo[key] = (similarity, found)
    return found


OneSegmentArguments = tuple[np.ndarray, ...]


def one_segment(context: Context, fields: tuple[str, ...]) -> OneSegmentArguments:
    """What ``kernels.score_one_segment`` reads of a one-segment reader without deletes, scored
    with its own statistics, before the query's own arrays — the same for every query on
    ``fields``, so gathered once per reader: the dictionary, each term's idf by ordinal
    (document frequencies and N never change for a reader, so the kernel reads an idf instead
    of computing a formula; keyword and id terms get 0, never asked), the fields' boosts, the
    postings, the fields' length rows and norm constants, and the length matrix."""
    reader, stats, similarity = context.reader, context.stats, context.similarity
    key = ("one-segment", id(similarity), fields)
    found = cast("OneSegmentArguments | None", _memo(stats, key, similarity))
    if found is None:
        idf = _memo(stats, ("idf-by-ordinal", id(similarity)), similarity)
        segment = reader.segments[0]
        if idf is None:
            idf = np.zeros(len(segment.terms))
            for spec in reader.schema.text_fields:
                ordinals = segment.field_ordinals(spec.name)
                doc_freqs = segment.term_info[ordinals.start : ordinals.stop, 1]
                counts = np.full(len(doc_freqs), stats.field(spec.name).doc_count, dtype=np.float64)
                idf[ordinals.start : ordinals.stop] = similarity.idf_array(doc_freqs, counts)
            stats.memo[("idf-by-ordinal", id(similarity))] = (similarity, idf)
        constants = field_constants(context, fields)
        found = (
            *segment.terms.arrays,
            segment.term_info,
            cast("np.ndarray", idf),
            constants.boosts,
            segment.packed_postings,
            constants.rows[0],
            constants.norm_slopes,
            segment.length_matrix,
            constants.norm_bases,
        )
        stats.memo[key] = (similarity, found)
    return found


def weights(context: Context, query: QueryKeys, constants: FieldConstants, live_doc_freqs: np.ndarray) -> np.ndarray:
    """Each term's weight: the similarity's idf (from the statistics scores use) × multiplicity × boost."""
    doc_freqs = context.stats.doc_freqs(query.keys, live_doc_freqs)
    return context.similarity.weights(
        doc_freqs, constants.doc_counts[query.field_of], query.multiplicity, constants.boosts[query.field_of]
    )


_MAX_DOCS = 2**32 - 1  # what a touched list of 32-bit ids can name


class _Buffers(threading.local):
    """Per-thread score array, touched list and scratch for the touched scores, reused across
    queries (the scores are cleared as they are read). The touched list holds 32-bit ids: it is
    written once a posting and read once a touched document, and half the bytes made a top-10
    query 2.5–3 % faster at 100k and 1M documents (and a top 1,000)."""

    def __init__(self) -> None:
        self.scores = np.zeros(0)
        self.touched = np.zeros(0, dtype=np.uint32)
        self.gathered = np.zeros(0)

    def ensure(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.scores.shape[0] < size:
            if size > _MAX_DOCS:
                raise ZhisouError(f"{size:,} documents are more than one index can score; split it into shards")
            self.scores = np.zeros(size)
            self.touched = np.zeros(size + 1, dtype=np.uint32)  # accumulate writes one ahead
            self.gathered = np.zeros(size + 1)
        return self.scores, self.touched, self.gathered


BUFFERS = _Buffers()
