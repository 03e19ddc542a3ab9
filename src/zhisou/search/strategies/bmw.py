"""Block-max WAND (Ding & Suel, 2011; PISA's ``block_max_wand``): document-at-a-time in doc
order, a pivot chosen by whole-list bounds and confirmed or skipped by the bounds of the blocks
under it (the skip rows' (tf, length) points, ``index/postings.py``), so runs of documents whose
blocks cannot reach the top k are passed without decoding them.
"""

from __future__ import annotations

import numpy as np

from zhisou.index.segment_reader import SegmentReader
from zhisou.search import kernels
from zhisou.search.plan import Plan
from zhisou.search.strategies.maxscore import Cursors, Heap, PrunedStrategy


class BlockMaxWand(PrunedStrategy):
    name = "bmw"

    @staticmethod
    def search_segment(
        segment: SegmentReader, base: int, flat: Cursors, allowed: np.ndarray, heap: Heap, plan: Plan
    ) -> None:
        heap.size, heap.matched = kernels.block_max_wand(
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
