"""Fusers: several ranked lists of the same reader → one (the ``Fuser`` stage).

- ``ReciprocalRankFusion`` (Cormack et al., 2009): a document scores Σ 1 / (k + rank) over the
  lists that hold it (ranks from 1; k = 60 as in the paper). Scores are ignored, so channels
  with incomparable scores need no calibration.
- ``ConvexFusion``: each list's scores normalized (min-max to [0, 1], or z-scores), then
  ``(1 − weight) · first + weight · second`` (the first list is the lexical one, the second the
  semantic one); a document missing from a list gets that list's lowest normalized score.
Ties go to the document that ranks higher in the first list, then in the second.

Both look at the first ``window`` entries of each list (``RANK_WINDOW``, Elasticsearch's
``rank_window_size``): the z-scores and min-max bounds come from that head, and a document
further down a list counts as absent from it. So a fused ranking does not depend on how deep
the lists were fetched: page 11 continues page 10, and a search of 1,000 hits (an evaluation's)
begins with the 10 a page of 10 shows. Documents outside every head follow the fused ones in
the first list's order, then the second's.

The default is convex fusion of z-scores, half and half: chosen on the training splits of scifact
and cmrc2018 among RRF and convex fusion (min-max or z-scores, weights 0.3 / 0.5 / 0.7), and
better than RRF on every test split, dureader-robust's included, which had no part in the choice
(benchmarks/RESULTS.md, "The default fusion"; chosen again once fusions scored a window of each
list, "A fused ranking that does not depend on the page").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zhisou.errors import ZhisouError
from zhisou.search.topk import TopDocs

RRF_K = 60
RANK_WINDOW = 100  # entries of each list a fusion scores (see above)
# The default fusion (see above): one place for the library, the CLI and the evaluation.
DEFAULT_FUSION = "convex"
DEFAULT_WEIGHT = 0.5  # of the semantic list
DEFAULT_NORMALIZATION = "zscore"


def _union(lists: Sequence[TopDocs], window: int) -> tuple[np.ndarray, np.ndarray]:
    """The documents of all lists (first seen first: the first list's order, then the rest's)
    and, per list, each one's 0-based rank in that list's first ``window`` entries (-1: not
    there), as a (lists × documents) matrix."""
    order: dict[int, int] = {}
    for top in lists:
        for doc in top.docs.tolist():
            order.setdefault(int(doc), len(order))
    ranks = np.full((len(lists), len(order)), -1, dtype=np.int64)
    for number, top in enumerate(lists):
        for rank, doc in enumerate(top.docs[:window].tolist()):
            ranks[number, order[int(doc)]] = rank
    return np.fromiter(order, dtype=np.int64, count=len(order)), ranks


def _check_window(window: int) -> None:
    if not isinstance(window, int) or window < 1:
        raise ZhisouError(f"a fusion's window must be a whole number >= 1, got {window!r}")


def _ranked(docs: np.ndarray, scores: np.ndarray, ranks: np.ndarray, lists: Sequence[TopDocs], depth: int) -> TopDocs:
    # Sort by score, then by rank in each list's head (absent last), then by first appearance.
    keys = [np.where(r < 0, np.iinfo(np.int64).max, r) for r in ranks[::-1]]
    order = np.lexsort((np.arange(len(docs)), *keys, -scores))[:depth]
    total = max((top.total for top in lists), default=0)
    return TopDocs(docs[order], scores[order], max(total, len(docs)), all(top.exact for top in lists))


@dataclass(frozen=True)
class ReciprocalRankFusion:
    k: int = RRF_K
    window: int = RANK_WINDOW

    def __post_init__(self) -> None:
        _check_window(self.window)

    def describe(self) -> str:
        return f"rrf (k={self.k}): sum of 1 / (k + rank) over each list's first {self.window}"

    def fuse(self, lists: Sequence[TopDocs], depth: int) -> TopDocs:
        if not lists:
            return TopDocs.empty()
        docs, ranks = _union(lists, self.window)
        contributions = np.where(ranks >= 0, 1.0 / (self.k + ranks + 1), 0.0)
        return _ranked(docs, contributions.sum(axis=0), ranks, lists, depth)


NORMALIZATIONS = ("minmax", "zscore")


@dataclass(frozen=True)
class ConvexFusion:
    weight: float = DEFAULT_WEIGHT  # of the second (semantic) list
    normalization: str = DEFAULT_NORMALIZATION
    window: int = RANK_WINDOW

    def __post_init__(self) -> None:
        _check_window(self.window)
        if not 0.0 <= self.weight <= 1.0:
            raise ZhisouError(f"fusion weight must be between 0 and 1, got {self.weight}")
        if self.normalization not in NORMALIZATIONS:
            raise ZhisouError(
                f"unknown normalization {self.normalization!r}; choose one of: {', '.join(NORMALIZATIONS)}"
            )

    def describe(self) -> str:
        weights = f"{1 - self.weight:g} × bm25 + {self.weight:g} × semantic"
        return f"convex: {self.normalization}-normalized, {weights} over each list's first {self.window}"

    def fuse(self, lists: Sequence[TopDocs], depth: int) -> TopDocs:
        if len(lists) != 2:
            raise ZhisouError(f"convex fusion combines two lists (lexical, semantic), got {len(lists)}")
        docs, ranks = _union(lists, self.window)
        total = np.zeros(len(docs))
        for number, (top, weight) in enumerate(zip(lists, (1.0 - self.weight, self.weight))):
            normalized = self.normalize(top.scores[: self.window])
            floor = normalized.min() if len(normalized) else 0.0
            present = ranks[number] >= 0
            column = np.full(len(docs), floor)
            column[present] = normalized[ranks[number][present]]
            total += weight * column
        return _ranked(docs, total, ranks, lists, depth)

    def normalize(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        if not len(scores):
            return scores
        if self.normalization == "minmax":
            low, high = scores.min(), scores.max()
            return (scores - low) / (high - low) if high > low else np.ones_like(scores)
        spread = scores.std()
        return (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)


FUSIONS = ("rrf", "convex")


def make_fuser(
    name: str = DEFAULT_FUSION, weight: float = DEFAULT_WEIGHT, normalization: str = DEFAULT_NORMALIZATION
) -> ReciprocalRankFusion | ConvexFusion:
    if name == "rrf":
        return ReciprocalRankFusion()
    if name == "convex":
        return ConvexFusion(weight, normalization)
    raise ZhisouError(f"unknown fusion {name!r}; choose one of: {', '.join(FUSIONS)}")
