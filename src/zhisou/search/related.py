"""More-like-this: the words that best tell a document apart, to find its neighbours.

As Lucene's ``MoreLikeThis``: every term of the document's text fields is weighed by
tf · idf (times the field's boost); terms only this document holds cannot find another one
and are skipped; the best ``max_terms`` are searched as one BM25 disjunction.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from zhisou.index.reader import IndexReader
from zhisou.index.termdict import term_key
from zhisou.search.similarity import Similarity
from zhisou.search.stats import ReaderStats, locate

MIN_DOC_FREQ = 2  # the document itself is one


def distinctive_terms(
    reader: IndexReader, stats: ReaderStats, similarity: Similarity, stored: dict[str, Any], max_terms: int
) -> dict[str, dict[str, int]]:
    """field → term → 1 for the ``max_terms`` best terms of a stored document."""
    scored: list[tuple[float, str, str]] = []
    for spec in reader.schema.text_fields:
        value = stored.get(spec.name)
        if not isinstance(value, str) or not value.strip():
            continue
        counts = Counter(reader.analyzers.get(spec.analyzer_name).stream(value).terms)
        terms = list(counts)
        field_stats = stats.field(spec.name)
        keys = [term_key(spec.name, term) for term in terms]
        doc_freqs = stats.doc_freqs(keys, locate(reader, keys)[1]) if keys else []
        for term, doc_freq in zip(terms, doc_freqs):
            if doc_freq >= MIN_DOC_FREQ:
                weight = counts[term] * spec.boost * similarity.idf(int(doc_freq), field_stats)
                scored.append((weight, spec.name, term))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    chosen: dict[str, dict[str, int]] = {}
    for _, field, term in scored[:max_terms]:
        chosen.setdefault(field, {})[term] = 1
    return chosen
