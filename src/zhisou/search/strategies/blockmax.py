"""Block-max MaxScore (as PISA's ``block_max_maxscore``): MaxScore whose bounds are refined per
block of 128 postings (``index/blocks.py``, from the same similarity constants), so a candidate
is dropped as soon as the blocks it falls in cannot lift it into the heap.
"""

from __future__ import annotations

import numpy as np

from zhisou.index.segment_reader import SegmentReader
from zhisou.search import kernels
from zhisou.search.plan import Plan
from zhisou.search.strategies.maxscore import Cursors, Heap, PrunedStrategy


class BlockMax(PrunedStrategy):
    name = "blockmax"

    @staticmethod
    def search_segment(
        segment: SegmentReader, base: int, flat: Cursors, allowed: np.ndarray, heap: Heap, plan: Plan
    ) -> None:
        blocks = [
            segment.block_maxima(int(s), int(c), int(r), float(nb), float(ns))
            for s, c, r, nb, ns in zip(flat.starts, flat.counts, flat.rows, flat.norm_base, flat.norm_slope)
        ]
        heap.size, heap.matched = kernels.block_max_maxscore(
            segment.docs,
            segment.freqs,
            flat.starts,
            flat.counts,
            flat.weights,
            flat.rows,
            segment.length_matrix,
            flat.norm_base,
            flat.norm_slope,
            np.concatenate(([0], np.cumsum([len(b[0]) for b in blocks]))),
            np.concatenate([b[0] for b in blocks]),
            np.concatenate([b[1] for b in blocks]),
            allowed,
            base,
            heap.scores,
            heap.docs,
            heap.size,
            heap.matched,
            plan.track_total_hits,
        )
