"""Block-max WAND (Ding & Suel, 2011; PISA's ``block_max_wand``): document-at-a-time in doc
order, a pivot chosen by whole-list bounds and confirmed or skipped by the bounds of the blocks
under it (the skip rows' (tf, length) points, ``index/postings.py``), so runs of documents whose
blocks cannot reach the top k are passed without decoding them.
"""

from __future__ import annotations

from zhisou.search.strategies.maxscore import PrunedStrategy


class BlockMaxWand(PrunedStrategy):
    name = "bmw"
    kernel = "block_max_wand"
