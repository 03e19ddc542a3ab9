"""Block-max metadata: for each block of a term's postings, the largest BM25 term-frequency
factor ``tf / (tf + k1 · (1 − b + b · dl / avgdl))`` in it. Pruned top-k search multiplies it by
the term's weight to bound every score in the block, and skips blocks that cannot reach the top.

It depends on k1, b and avgdl, so it is computed at search time, once per term, segment and
set of parameters (``SegmentReader.block_maxima`` keeps it), not stored in the segment.
"""

from __future__ import annotations

import numpy as np

from zhisou.compiled import kernel

BLOCK = 128  # postings per block


@kernel
def block_maxima(
    docs: np.ndarray,
    freqs: np.ndarray,
    start: int,
    count: int,
    lengths: np.ndarray,
    norm_base: float,
    norm_slope: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(last doc, max tf factor) of each block of ``BLOCK`` postings of one term."""
    n_blocks = (count + BLOCK - 1) // BLOCK
    last = np.empty(n_blocks, dtype=np.int64)
    best = np.zeros(n_blocks)
    for block in range(n_blocks):
        first = start + block * BLOCK
        end = min(first + BLOCK, start + count)
        top = 0.0
        for i in range(first, end):
            tf = float(freqs[i])
            factor = tf / (tf + norm_base + norm_slope * lengths[docs[i]])
            if factor > top:
                top = factor
        last[block] = docs[end - 1]
        best[block] = top
    return last, best
