"""Facet counts: how many matching documents carry each value of a keyword field, or fall in
each year of a date field (what a search page shows beside the results)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zhisou.index.reader import IndexReader


@dataclass(frozen=True, slots=True)
class FacetCount:
    value: str
    count: int


def _top(counts: dict[str, int], size: int) -> list[FacetCount]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [FacetCount(value, count) for value, count in ranked[:size] if count > 0]


def keyword_counts(reader: IndexReader, field: str, mask: np.ndarray, size: int) -> list[FacetCount]:
    """Every value of ``field`` is a term of the index: count its postings inside ``mask``.

    One vectorized pass over the field's postings per segment (decoded once and kept) — fine for tags and categories,
    wasteful for high-cardinality fields such as ids.
    """
    counts: dict[str, int] = {}
    for segment, base in zip(reader.segments, reader.bases):
        segment_mask = mask[int(base) : int(base) + segment.doc_count]
        terms, _, lengths = segment.field_terms(field)
        if not terms or not segment_mask.any():
            continue
        running = np.concatenate(([0], np.cumsum(segment_mask[segment.field_docs(field)], dtype=np.int64)))
        ends = np.cumsum(lengths)
        per_term = running[ends] - running[ends - lengths]
        for index in np.flatnonzero(per_term).tolist():
            counts[terms[index]] = counts.get(terms[index], 0) + int(per_term[index])
    return _top(counts, size)


def year_counts(seconds: np.ndarray, mask: np.ndarray, size: int) -> list[FacetCount]:
    """Matching documents per calendar year (UTC) of a date column, newest year first."""
    values = seconds[mask]
    values = values[~np.isnan(values)]
    if not len(values):
        return []
    years = values.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
    found, counts = np.unique(years, return_counts=True)
    ranked = sorted(zip(found.tolist(), counts.tolist()), reverse=True)
    return [FacetCount(str(year), count) for year, count in ranked[:size]]
