"""Fusion arithmetic, by hand on small lists."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_a_fusion_scores_each_lists_first_window_entries() -> None:
    """Past ``window`` a list's entries count as absent: the z-scores come from the head, the
    deeper documents follow the fused ones in the first list's order, then the second's."""
    lexical = top([1, 2, 3, 4, 5], [9.0, 6.0, 3.0, 2.0, 1.0])
    semantic = top([6, 3, 7, 1, 8], [0.9, 0.5, 0.4, 0.3, 0.1])
    fused = ConvexFusion(weight=0.5, normalization="zscore", window=3).fuse([lexical, semantic], 10)
    lex = (np.array([9.0, 6.0, 3.0]) - 6.0) / np.std([9.0, 6.0, 3.0])
    sem = (np.array([0.9, 0.5, 0.4]) - 0.6) / np.std([0.9, 0.5, 0.4])
    floor = 0.5 * lex[2] + 0.5 * sem[2]  # 1 is fourth in the semantic list: at that head's floor
    expected = {1: 0.5 * lex[0] + 0.5 * sem[2], 6: 0.5 * lex[2] + 0.5 * sem[0], 2: 0.5 * lex[1] + 0.5 * sem[2]}
    expected |= {3: 0.5 * lex[2] + 0.5 * sem[1], 7: floor, 4: floor, 5: floor, 8: floor}
    # 7 (last of the semantic head) ties with the tails and goes first; then the lexical tail, 4
    # and 5, then the semantic one, 8.
    assert fused.docs.tolist() == [1, 6, 2, 3, 7, 4, 5, 8]
    assert fused.scores.tolist() == pytest.approx([expected[d] for d in fused.docs.tolist()])
    rrf = ReciprocalRankFusion(k=60, window=3).fuse([lexical, semantic], 10)
    assert rrf.docs.tolist() == [3, 1, 6, 2, 7, 4, 5, 8]  # 3: 1/63 + 1/62; 1 and 6: 1/61 each
    assert rrf.scores.tolist() == pytest.approx([1 / 63 + 1 / 62, 1 / 61, 1 / 61, 1 / 62, 1 / 63, 0, 0, 0])
    with pytest.raises(ZhisouError, match="window"):
        ConvexFusion(window=0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 60), min_size=0, max_size=40, unique=True),
    st.lists(st.integers(0, 60), min_size=0, max_size=40, unique=True),
    st.integers(1, 12),
    st.sampled_from(["rrf", "minmax", "zscore"]),
)
def test_a_fused_ranking_does_not_depend_on_how_deep_the_lists_go(
    first: list[int], second: list[int], window: int, kind: str
) -> None:
    """The fusion of lists cut at any depth ≥ window is the start of the fusion of the deeper
    lists: what makes page 11 follow page 10 and an evaluation's 1,000 hits start with a page's 10."""
    fuser = ReciprocalRankFusion(window=window) if kind == "rrf" else ConvexFusion(0.4, kind, window=window)
    deep = [top(first, sorted(range(len(first)), reverse=True)), top(second, [1 / (r + 1) for r in range(len(second))])]
    whole = fuser.fuse(deep, 200)
    for depth in range(window, max(len(first), len(second)) + 1):
        cut = [TopDocs(d.docs[:depth], d.scores[:depth], d.total) for d in deep]
        fused = fuser.fuse(cut, depth)
        assert fused.docs.tolist() == whole.docs.tolist()[:depth]
        assert fused.scores.tolist() == pytest.approx(whole.scores.tolist()[:depth])
