"""Scoring functions. BM25 as in Lucene's ``BM25Similarity`` (Robertson et al.; the Lucene
variant of Kamphuis et al., 2020):

    idf(t)    = ln(1 + (N - df + 0.5) / (df + 0.5))
    score(t)  = boost · idf(t) · tf / (tf + k1 · (1 - b + b · dl / avgdl))

N is the number of live documents that have the field, avgdl the mean field length over
them. The score never decreases when tf grows and never increases when dl grows — the
monotonicity that dynamic pruning relies on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class FieldStats:
    """Collection statistics of one field over live documents."""

    doc_count: int
    total_length: int

    @property
    def avg_length(self) -> float:
        return self.total_length / self.doc_count if self.doc_count else 1.0


class Similarity(Protocol):
    def idf(self, doc_freq: int, stats: FieldStats) -> float: ...

    def idf_array(self, doc_freqs: np.ndarray, stats: FieldStats) -> np.ndarray: ...

    def score(self, idf: float, freqs: np.ndarray, lengths: np.ndarray, stats: FieldStats) -> np.ndarray: ...


@dataclass(frozen=True)
class BM25:
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

    def score(self, idf: float, freqs: np.ndarray, lengths: np.ndarray, stats: FieldStats) -> np.ndarray:
        tf = freqs.astype(np.float64)
        norm = self.k1 * (1.0 - self.b + self.b * lengths.astype(np.float64) / stats.avg_length)
        return idf * tf / (tf + norm)


SIMILARITIES: dict[str, type[BM25]] = {"bm25": BM25}
