"""Scoring functions: the one place that knows a formula.

Every strategy (the exhaustive executor, term-at-a-time, MaxScore, block-max) computes scores of
one shape, the saturation family of BM25:

    score(t, d) = boost · multiplicity · idf(t) · tf / (tf + base + slope · dl)

A ``Similarity`` chooses ``idf`` from a term's document frequency and the field's document count,
and ``(base, slope)`` from the field's statistics; the compiled kernels receive the resulting
arrays (per-term weights, per-field length-norm constants) and contain no formula. Since
``tf / (tf + base + slope · dl) < 1``, a term's weight bounds its score: what pruning relies on.
A similarity whose ``score`` leaves this shape (a subclass overriding ``score``) is still
correct everywhere: searches with it run on the exhaustive executor.

BM25 as in Lucene's ``BM25Similarity`` (Robertson et al.; the Lucene variant of Kamphuis et al.,
2020)::

    idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))      base = k1 · (1 - b)      slope = k1 · b / avgdl

N is the number of live documents that have the field, avgdl the mean field length over them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np


@dataclass(frozen=True, slots=True)
class FieldStats:
    """Collection statistics of one field over live documents."""

    doc_count: int
    total_length: int

    @property
    def avg_length(self) -> float:
        return self.total_length / self.doc_count if self.doc_count else 1.0


class Similarity:
    """Base of every similarity. Implement ``idf`` (one term) — or ``idf_array`` as well, for
    speed — and ``length_norm``; ``score`` follows from them. ``idf`` must be positive for every
    term a live document holds (a term of weight 0 matches nothing in the compiled strategies)."""

    name: ClassVar[str] = "custom"

    def idf(self, doc_freq: int, stats: FieldStats) -> float:
        """The weight of a term held by ``doc_freq`` live documents of the field; 0 when none."""
        raise NotImplementedError

    def idf_array(self, doc_freqs: np.ndarray, doc_counts: np.ndarray) -> np.ndarray:
        """``idf`` of many terms at once (``doc_counts``: each term's field's N)."""
        return np.array(
            [self.idf(int(df), FieldStats(int(n), 0)) for df, n in zip(doc_freqs, doc_counts)], dtype=np.float64
        )

    def length_norm(self, stats: FieldStats) -> tuple[float, float]:
        """``(base, slope)`` of the field: a document of length dl saturates at ``base + slope · dl``."""
        raise NotImplementedError

    def score(self, idf: float, freqs: np.ndarray, lengths: np.ndarray, stats: FieldStats) -> np.ndarray:
        """Per posting: ``idf · tf / (tf + base + slope · dl)`` (boost and multiplicity apart)."""
        base, slope = self.length_norm(stats)
        tf = freqs.astype(np.float64)
        return idf * tf / (tf + base + slope * lengths.astype(np.float64))

    @property
    def saturating(self) -> bool:
        """Whether scores have the shape the compiled strategies compute (``score`` not overridden)."""
        return type(self).score is Similarity.score

    def weights(
        self, doc_freqs: np.ndarray, doc_counts: np.ndarray, multiplicity: np.ndarray, boosts: np.ndarray
    ) -> np.ndarray:
        """Per query term: multiplicity · boost · idf — what the kernels multiply tf factors by."""
        return multiplicity * boosts * self.idf_array(doc_freqs, doc_counts)


@dataclass(frozen=True)
class BM25(Similarity):
    name: ClassVar[str] = "bm25"
    k1: float = 1.2  # Lucene's and Elasticsearch's defaults
    b: float = 0.75

    def __post_init__(self) -> None:
        if not (np.isfinite(self.k1) and self.k1 >= 0):
            raise ValueError(f"illegal k1 value {self.k1}: must be a finite number >= 0")
        if not (0.0 <= self.b <= 1.0):
            raise ValueError(f"illegal b value {self.b}: must be between 0 and 1")

    def idf(self, doc_freq: int, stats: FieldStats) -> float:
        """0 for a term no live document holds (it scores nothing)."""
        if doc_freq <= 0:
            return 0.0
        return math.log1p((stats.doc_count - doc_freq + 0.5) / (doc_freq + 0.5))

    def idf_array(self, doc_freqs: np.ndarray, doc_counts: np.ndarray) -> np.ndarray:
        if type(self).idf is not BM25.idf:  # a subclass that changed idf: follow it
            return super().idf_array(doc_freqs, doc_counts)
        # df + ½ > 0 and the ratio > −1 (N ≥ 0): no warning to silence, which saves a third of
        # this function's time — it runs on every query.
        df = np.asarray(doc_freqs, dtype=np.float64)
        return np.log1p((np.asarray(doc_counts, dtype=np.float64) - df + 0.5) / (df + 0.5)) * (df > 0)

    def length_norm(self, stats: FieldStats) -> tuple[float, float]:
        return self.k1 * (1.0 - self.b), self.k1 * self.b / stats.avg_length


# A term held by every document gets this weight instead of ln(N / N) = 0, so that it still
# matches (a zero weight would make it match nothing in the compiled strategies, while a match
# with score 0 is still a hit in Lucene's semantics); it moves no score by more than 1e-9.
MIN_IDF = 1e-9


@dataclass(frozen=True)
class AtireBM25(BM25):
    """BM25 as ATIRE computes it (Trotman, Puurula and Burgess, 2014; Kamphuis et al., 2020):
    idf = ln(N / df) and the tf factor scaled by k1 + 1 — another idf over the same saturation."""

    name: ClassVar[str] = "bm25-atire"

    def idf(self, doc_freq: int, stats: FieldStats) -> float:
        if doc_freq <= 0:
            return 0.0
        return (self.k1 + 1.0) * max(math.log(max(stats.doc_count, doc_freq) / doc_freq), MIN_IDF)

    def idf_array(self, doc_freqs: np.ndarray, doc_counts: np.ndarray) -> np.ndarray:
        if type(self).idf is not AtireBM25.idf:
            return Similarity.idf_array(self, doc_freqs, doc_counts)
        df = np.asarray(doc_freqs, dtype=np.float64)
        n = np.maximum(np.asarray(doc_counts, dtype=np.float64), df)
        with np.errstate(divide="ignore", invalid="ignore"):
            idf = (self.k1 + 1.0) * np.maximum(np.log(n / df), MIN_IDF)
        return np.where(df > 0, idf, 0.0)


# One registry: the names `zhisou eval --similarity` and the Python API accept.
SIMILARITIES: dict[str, type[BM25]] = {cls.name: cls for cls in (BM25, AtireBM25)}
