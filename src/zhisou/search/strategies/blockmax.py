"""Block-max MaxScore (as PISA's ``block_max_maxscore``): MaxScore whose bounds are refined per
block of 128 postings from the bounds every block carries in its skip row (``index/postings.py``:
four (tf, length) points of the block's Pareto front, valid for any similarity of the kernels'
shape), so a candidate is dropped as soon as the blocks it falls in cannot lift it into the
heap, and blocks of a window that cannot are never decoded.
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
        heap.size, heap.matched = kernels.block_max_maxscore(
            segment.packed_postings,
            flat.starts,
            flat.counts,
            flat.weights,
            flat.rows,
            segment.length_matrix,
            flat.norm_base,
            flat.norm_slope,
            allowed,
            base,
            heap.scores,
            heap.docs,
            heap.size,
            heap.matched,
            plan.track_total_hits,
        )
