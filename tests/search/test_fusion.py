"""Fusion arithmetic, by hand on small lists."""

from __future__ import annotations

import numpy as np
import pytest

from zhisou.errors import ZhisouError
from zhisou.search.fusion import ConvexFusion, ReciprocalRankFusion, make_fuser
from zhisou.search.topk import TopDocs


def top(docs: list[int], scores: list[float], total: int | None = None) -> TopDocs:
    return TopDocs(np.array(docs, dtype=np.int64), np.array(scores), total if total is not None else len(docs))


LEXICAL = top([1, 2, 3], [9.0, 6.0, 3.0], total=40)
SEMANTIC = top([3, 4, 1], [0.9, 0.8, 0.5])


def test_reciprocal_rank_fusion_by_hand() -> None:
    fused = ReciprocalRankFusion(k=60).fuse([LEXICAL, SEMANTIC], 10)
    expected = {
        1: 1 / 61 + 1 / 63,
        2: 1 / 62,
        3: 1 / 63 + 1 / 61,
        4: 1 / 62,
    }
    # 1 and 3 tie (ranks 1+3 and 3+1): the lexical list's order breaks it; so do 2 and 4.
    assert fused.docs.tolist() == [1, 3, 2, 4]
    assert fused.scores.tolist() == pytest.approx([expected[d] for d in (1, 3, 2, 4)])
    assert fused.total == 40
    assert ReciprocalRankFusion().fuse([LEXICAL, SEMANTIC], 2).docs.tolist() == [1, 3]


def test_convex_fusion_by_hand() -> None:
    fused = ConvexFusion(weight=0.5, normalization="minmax").fuse([LEXICAL, SEMANTIC], 10)
    # min-max: lexical 1 → 1, 2 → 0.5, 3 → 0; semantic 3 → 1, 4 → 0.75, 1 → 0; absent → 0 (the list's lowest).
    expected = {1: 0.5 * 1 + 0.5 * 0, 2: 0.5 * 0.5 + 0, 3: 0 + 0.5 * 1, 4: 0 + 0.5 * 0.75}
    assert fused.docs.tolist() == [1, 3, 4, 2]
    assert fused.scores.tolist() == pytest.approx([expected[d] for d in (1, 3, 4, 2)])
    dense_heavy = ConvexFusion(weight=0.9).fuse([LEXICAL, SEMANTIC], 10)
    assert dense_heavy.docs.tolist()[:2] == [3, 4]
    z = ConvexFusion(weight=0.5, normalization="zscore")
    lex_z = (np.array([9.0, 6.0, 3.0]) - 6.0) / np.std([9.0, 6.0, 3.0])
    sem_z = (np.array([0.9, 0.8, 0.5]) - np.mean([0.9, 0.8, 0.5])) / np.std([0.9, 0.8, 0.5])
    fused_z = z.fuse([LEXICAL, SEMANTIC], 10)
    by_doc = dict(zip(fused_z.docs.tolist(), fused_z.scores.tolist()))
    assert by_doc[2] == pytest.approx(0.5 * lex_z[1] + 0.5 * sem_z.min())
    assert by_doc[1] == pytest.approx(0.5 * lex_z[0] + 0.5 * sem_z[2])


def test_fusion_edges() -> None:
    assert len(ReciprocalRankFusion().fuse([], 5)) == 0
    one = ConvexFusion().fuse([top([5], [2.0]), top([], [])], 5)
    assert one.docs.tolist() == [5]
    with pytest.raises(ZhisouError, match="between 0 and 1"):
        ConvexFusion(weight=1.5)
    with pytest.raises(ZhisouError, match="unknown fusion"):
        make_fuser("borda")
    with pytest.raises(ZhisouError, match="two lists"):
        ConvexFusion().fuse([LEXICAL], 3)
