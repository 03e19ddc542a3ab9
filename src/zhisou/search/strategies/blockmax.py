"""Block-max MaxScore (as PISA's ``block_max_maxscore``): MaxScore whose bounds are refined per
block of 128 postings from the bounds every block carries in its skip row (``index/postings.py``:
four (tf, length) points of the block's Pareto front, valid for any similarity of the kernels'
shape), so a candidate is dropped as soon as the blocks it falls in cannot lift it into the
heap, and blocks of a window that cannot are never decoded.
"""

from __future__ import annotations

from zhisou.search.strategies.maxscore import PrunedStrategy


class BlockMax(PrunedStrategy):
    name = "blockmax"
    kernel = "block_max_maxscore"
