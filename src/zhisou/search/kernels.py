"""Compiled inner loops (numba): BM25 accumulation over postings and top-k selection.

Term-at-a-time: each query term's postings add ``weight · tf / (tf + k1 · (1 − b + b · dl / avgdl))``
into a dense score array; documents are remembered the first time they score, so selecting the
top k and clearing the array afterwards touch only the matching documents.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def accumulate_bm25(
    docs: np.ndarray,
    freqs: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    weights: np.ndarray,
    lengths: np.ndarray,
    avg_length: float,
    k1: float,
    b: float,
    allowed: np.ndarray,
    base: int,
    scores: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
) -> int:
    """Add the BM25 contributions of several terms of one field of one segment.

    ``allowed[base + doc]`` filters documents (live and passing filters); returns the new
    number of entries in ``touched``.
    """
    norm_base = k1 * (1.0 - b)
    norm_slope = k1 * b / avg_length
    for t in range(starts.shape[0]):
        weight = weights[t]
        start = starts[t]
        for i in range(start, start + counts[t]):
            doc = base + docs[i]
            if not allowed[doc]:
                continue
            tf = float(freqs[i])
            contribution = weight * tf / (tf + norm_base + norm_slope * lengths[docs[i]])
            if scores[doc] == 0.0:
                touched[n_touched] = doc
                n_touched += 1
            scores[doc] += contribution
    return n_touched


@njit(cache=True, nogil=True)
def live_doc_freq(docs: np.ndarray, start: int, count: int, live: np.ndarray) -> int:
    total = 0
    for i in range(start, start + count):
        if live[docs[i]]:
            total += 1
    return total


@njit(cache=True, nogil=True)
def _worse(score_a: float, doc_a: int, score_b: float, doc_b: int) -> bool:
    """Result order is score descending, then doc ascending; True if a ranks below b."""
    return score_a < score_b or (score_a == score_b and doc_a > doc_b)


@njit(cache=True, nogil=True)
def _sift_down(heap_scores: np.ndarray, heap_docs: np.ndarray, size: int, position: int) -> None:
    while True:
        child = 2 * position + 1
        if child >= size:
            return
        if child + 1 < size and _worse(
            heap_scores[child + 1], heap_docs[child + 1], heap_scores[child], heap_docs[child]
        ):
            child += 1
        if _worse(heap_scores[child], heap_docs[child], heap_scores[position], heap_docs[position]):
            heap_scores[child], heap_scores[position] = heap_scores[position], heap_scores[child]
            heap_docs[child], heap_docs[position] = heap_docs[position], heap_docs[child]
            position = child
        else:
            return


@njit(cache=True, nogil=True)
def top_k_and_clear(scores: np.ndarray, touched: np.ndarray, n_touched: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` touched documents in result order; resets their scores to 0."""
    size = min(k, n_touched)
    heap_scores = np.empty(size, dtype=np.float64)
    heap_docs = np.empty(size, dtype=np.int64)
    filled = 0
    for i in range(n_touched):
        doc = touched[i]
        score = scores[doc]
        scores[doc] = 0.0
        if filled < size:
            heap_scores[filled] = score
            heap_docs[filled] = doc
            filled += 1
            if filled == size:
                for position in range(size // 2 - 1, -1, -1):
                    _sift_down(heap_scores, heap_docs, size, position)
        elif _worse(heap_scores[0], heap_docs[0], score, doc):
            heap_scores[0] = score
            heap_docs[0] = doc
            _sift_down(heap_scores, heap_docs, size, 0)
    # Heap-sort: repeatedly move the worst to the end, giving best-first order.
    for end in range(filled - 1, 0, -1):
        heap_scores[0], heap_scores[end] = heap_scores[end], heap_scores[0]
        heap_docs[0], heap_docs[end] = heap_docs[end], heap_docs[0]
        _sift_down(heap_scores, heap_docs, end, 0)
    return heap_docs[:filled], heap_scores[:filled]
