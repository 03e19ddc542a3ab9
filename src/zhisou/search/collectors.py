"""Collectors: what one pass over the matches gathers besides the top documents.

A strategy ranks (its top-k heap lives in the compiled kernels, next to the scores) and counts
the matches; a collector receives the set of matching documents of the same pass — so a facet
count, or any other aggregate, costs no second evaluation of the query (Lucene's
``MultiCollector``). A collector that needs every match (``needs_every_match``) rules out
strategies that skip documents: they would hand it only the ones they scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from zhisou.errors import ZhisouError
from zhisou.index.reader import IndexReader
from zhisou.search.facets import FacetCount, keyword_counts, year_counts
from zhisou.search.stats import ReaderStats


class Collector(Protocol):
    needs_every_match: bool

    def collect(self, docs: np.ndarray) -> None:
        """Documents that matched (global doc numbers, any order, each once per pass)."""


class MultiCollector:
    """Several collectors fed from one pass."""

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self.collectors = list(collectors)
        self.needs_every_match = any(c.needs_every_match for c in self.collectors)

    def collect(self, docs: np.ndarray) -> None:
        for collector in self.collectors:
            collector.collect(docs)


class FacetCollector:
    """Value counts of keyword fields, and years of date fields, over every match."""

    needs_every_match = True

    def __init__(self, reader: IndexReader, stats: ReaderStats, fields: Sequence[str], size: int = 10) -> None:
        check_facet_fields(reader, fields)
        self.reader, self.stats, self.fields, self.size = reader, stats, list(fields), size
        self.mask = np.zeros(reader.max_doc, dtype=np.bool_)

    def collect(self, docs: np.ndarray) -> None:
        self.mask[docs] = True

    def counts(self) -> dict[str, list[FacetCount]]:
        """Most frequent values first, at most ``size`` per field."""
        return facet_counts(self.reader, self.stats, self.mask, self.fields, self.size)


def check_facet_fields(reader: IndexReader, fields: Sequence[str]) -> None:
    """One line naming the facetable fields when ``fields`` holds another."""
    for name in fields:
        spec = reader.schema.get(name)
        if spec is None or spec.type not in ("keyword", "date"):
            facetable = ", ".join(f.name for f in reader.schema.fields if f.type in ("keyword", "date"))
            raise ZhisouError(f"cannot count values of {name!r}: facets need a keyword or date field ({facetable})")


def facet_counts(
    reader: IndexReader, stats: ReaderStats, mask: np.ndarray, fields: Sequence[str], size: int
) -> dict[str, list[FacetCount]]:
    out: dict[str, list[FacetCount]] = {}
    for name in fields:
        spec = reader.schema.get(name)
        assert spec is not None
        if spec.type == "keyword":
            out[name] = keyword_counts(reader, name, mask, size)
        else:
            out[name] = year_counts(stats.column(name), mask, size)
    return out
