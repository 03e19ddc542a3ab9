"""Block-max metadata: for each block of a term's postings, bounds that hold for every
posting in it. Pruned top-k search uses them to skip blocks that cannot reach the top."""

from __future__ import annotations

import numpy as np
from numba import njit

BLOCK = 128  # postings per block of block-max metadata


@njit(cache=True, nogil=True)
def block_maxima(
    docs: np.ndarray, freqs: np.ndarray, start: int, count: int, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per block of ``BLOCK`` postings of one term: last doc, max tf, min field length.

    ``tf / (tf + k1 · (1 − b + b · dl / avgdl))`` grows with tf and shrinks with dl, so
    (max tf, min dl) bounds every score in the block, whatever k1, b and avgdl are.
    """
    n_blocks = (count + BLOCK - 1) // BLOCK
    last = np.empty(n_blocks, dtype=np.int64)
    max_tf = np.zeros(n_blocks, dtype=np.int64)
    min_len = np.empty(n_blocks, dtype=np.int64)
    for block in range(n_blocks):
        first = start + block * BLOCK
        end = min(first + BLOCK, start + count)
        best_tf = 0
        shortest = np.iinfo(np.int64).max
        for i in range(first, end):
            if freqs[i] > best_tf:
                best_tf = freqs[i]
            length = lengths[docs[i]]
            if length < shortest:
                shortest = length
        last[block] = docs[end - 1]
        max_tf[block] = best_tf
        min_len[block] = shortest
    return last, max_tf, min_len
