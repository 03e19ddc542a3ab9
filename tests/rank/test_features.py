"""Ranking features on hand-checked examples: each lexical column agrees with the engine and
with the formula worked out here, and the window, coverage and freshness come out as counted."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import numpy as np
import pytest

from zhisou import Index, Schema
from zhisou.rank.features import extract, feature_names, smallest_windows
from zhisou.schema import FieldSpec
from zhisou.search.request import SearchRequest
from zhisou.search.topk import TopDocs


def _features(index: Index, query: str, ids: list[str], channels=(), now: float | None = None):  # type: ignore[no-untyped-def]
    searcher = index.searcher()
    docs = np.array([searcher.reader.find(i) for i in ids], dtype=np.int64)
    return searcher, docs, extract(searcher, SearchRequest(query, plain=True), docs, channels, now=now)


def test_bm25_columns_add_up_to_the_engine_score_and_follow_the_formula(make_index: Callable[..., Index]) -> None:
    index = make_index()
    searcher, _docs, matrix = _features(index, "rank fusion", ["h", "d", "a"])
    engine = searcher.search("rank fusion", plain=True, size=10, with_docs=False)
    score_of = dict(zip(engine.ids, engine.scores))
    np.testing.assert_allclose(matrix.column("bm25"), [score_of["h"], score_of["d"], 0.0], rtol=1e-9)
    per_field = [name for name in matrix.names if name.startswith("bm25:")]  # title, body, tag_words
    assert {"bm25:title", "bm25:body"} <= set(per_field)
    np.testing.assert_allclose(matrix.column("bm25"), sum(matrix.column(name) for name in per_field))
    # By hand: title "Rank fusion" holds both terms once; "rank" is in the titles of d and h,
    # "fusion" in h's only; the title field is boosted 2x.
    stats = searcher.stats.field("title")
    n, avgdl, dl = stats.doc_count, stats.avg_length, 2.0

    def part(df: int) -> float:
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return 2.0 * idf * 1 / (1 + 1.2 * (1 - 0.75 + 0.75 * dl / avgdl))

    assert matrix.column("bm25:title")[0] == pytest.approx(part(2) + part(1), rel=1e-9)
    assert matrix.column("bm25")[2] == 0.0  # a: neither word


def test_coverage_title_phrase_and_ratio(make_index: Callable[..., Index]) -> None:
    _, _, matrix = _features(make_index(), "rank fusion", ["h", "d", "a"])
    assert matrix.column("coverage:title").tolist() == [1.0, 0.5, 0.0]
    assert matrix.column("coverage").tolist() == [1.0, 0.5, 0.0]
    assert matrix.column("title_phrase").tolist() == [1.0, 0.0, 0.0]
    assert matrix.column("title_ratio")[0] == 1.0  # "Rank fusion": both of its terms asked for
    assert matrix.column("title_ratio")[1] == pytest.approx(1 / 2)  # "Learning to rank": "to" is a stopword
    assert matrix.column("query_terms").tolist() == [2.0, 2.0, 2.0]


def test_a_query_with_syntax_gives_the_features_of_its_words(make_index: Callable[..., Index]) -> None:
    """Field names, operators, boosts and filters are not words: ``rank^2 fusion tags:ranking``
    has the features of ``rank fusion`` (as the semantic channel reads it), and a parsed query
    object has its words' features too."""
    from zhisou.search.query import BooleanQuery, TermQuery

    index = make_index()
    searcher, docs, plain = _features(index, "rank fusion", ["h", "d", "a"])
    for query in ("rank^2 fusion tags:ranking", BooleanQuery(should=(TermQuery("rank"), TermQuery("fusion")))):
        matrix = extract(searcher, SearchRequest(query), docs)
        for name in ("bm25", "coverage", "query_terms", "title_phrase"):
            np.testing.assert_allclose(matrix.column(name), plain.column(name), err_msg=f"{query} {name}")


def test_proximity_is_the_smallest_window(make_index: Callable[..., Index]) -> None:
    docs = [
        {"id": "near", "body": "alpha delta beta gamma"},
        {"id": "far", "body": "alpha beta gamma delta"},
        {"id": "one", "body": "alpha beta"},
        {"id": "again", "body": "delta beta gamma epsilon alpha zeta alpha delta"},
    ]
    index = make_index(docs, Schema((FieldSpec("body", "text", analyzer="en"),)))
    _, _, matrix = _features(index, "alpha delta", ["near", "far", "one", "again"])
    # near: side by side (window 2); far: positions 0 and 3 (window 4); one: a single term;
    # again: the last two words are side by side.
    assert matrix.column("proximity").tolist() == [1.0, 0.5, 0.0, 1.0]


def test_smallest_windows_kernel() -> None:
    positions = np.array([0, 5, 9, 3, 4, 10, 1], dtype=np.int64)
    terms = np.array([0, 1, 0, 0, 1, 2, 1], dtype=np.int64)
    offsets = np.array([0, 3, 6, 7], dtype=np.int64)
    # group 0: a@0 b@5 a@9 → [5, 9] = 5; group 1: a@3 b@4 c@10 → [3, 10] = 8; group 2: b@1 → 1
    assert smallest_windows(positions, terms, offsets, 3).tolist() == [5.0, 8.0, 1.0]


def test_freshness_lengths_and_channel_ranks(make_index: Callable[..., Index]) -> None:
    index = make_index()
    now = dt.datetime(2024, 10, 10, tzinfo=dt.UTC).timestamp()
    searcher = index.searcher()
    h, d = searcher.reader.find("h"), searcher.reader.find("d")
    channels = [("bm25", TopDocs(np.array([d, h]), np.array([2.0, 1.0]), 2))]
    _, _, matrix = _features(index, "rank fusion", ["h", "d"], channels, now=now)
    assert matrix.column("age_days").tolist() == [366.0, 9.0]  # 2023-10-10 and 2024-10-01
    assert matrix.column("rr:bm25").tolist() == [0.5, 1.0]
    assert matrix.column("rr:semantic").tolist() == [0.0, 0.0]
    assert matrix.column("semantic").tolist() == [0.0, 0.0]  # no vectors in this index
    assert matrix.column("length:title").tolist() == [2.0, 2.0]
    assert matrix.names == feature_names(searcher)


def test_channel_ranks_count_the_window_a_fusion_reads(make_index: Callable[..., Index]) -> None:
    """A channel list fetched deeper than RANK_WINDOW (an evaluation's 1,000 hits, a far page)
    gives the features a list of RANK_WINDOW gives: the ranker's order does not depend on the page."""
    from zhisou.search.fusion import RANK_WINDOW

    index = make_index()
    searcher = index.searcher()
    h, d = searcher.reader.find("h"), searcher.reader.find("d")
    others = [doc for doc in range(searcher.reader.max_doc) if doc not in (h, d)]
    filler = np.arange(10_000, 10_000 + RANK_WINDOW - 1)  # stand-ins ahead of d: d is last in the window
    deep = np.concatenate([[h], filler[: RANK_WINDOW - 2], [d], filler[RANK_WINDOW - 2 :], others])
    channels = [("semantic", TopDocs(deep, np.linspace(1.0, 0.0, len(deep)), len(deep)))]
    _, _, matrix = _features(index, "rank fusion", ["h", "d"], channels)
    assert matrix.column("rr:semantic").tolist() == [1.0, 1.0 / RANK_WINDOW]
    channels = [("semantic", TopDocs(deep[1:], np.linspace(1.0, 0.0, len(deep) - 1), len(deep) - 1))]
    _, _, matrix = _features(index, "rank fusion", ["h", "d"], channels)
    assert matrix.column("rr:semantic").tolist() == [0.0, 1.0 / (RANK_WINDOW - 1)]
    past = np.concatenate([np.arange(10_000, 10_000 + RANK_WINDOW), [d]])  # d at RANK_WINDOW + 1: as if absent
    channels = [("semantic", TopDocs(past, np.linspace(1.0, 0.0, len(past)), len(past)))]
    _, _, matrix = _features(index, "rank fusion", ["h", "d"], channels)
    assert matrix.column("rr:semantic").tolist() == [0.0, 0.0]


def test_a_document_without_date_has_no_age(make_index: Callable[..., Index]) -> None:
    index = make_index([{"id": "x", "title": "rank", "body": "rank"}])
    _, _, matrix = _features(index, "rank", ["x"])
    assert np.isnan(matrix.column("age_days")[0])
    assert np.isnan(matrix.select(["no-such-feature"])[0, 0])


def test_list_features_place_each_candidate_between_the_lists_lowest_and_highest(
    make_index: Callable[..., Index],
) -> None:
    index = make_index()
    searcher, docs, matrix = _features(index, "rank fusion", ["h", "d", "b", "a"])
    bm25 = matrix.column("bm25")
    expected = (bm25 - bm25.min()) / (bm25.max() - bm25.min())
    np.testing.assert_allclose(matrix.column("bm25@list"), expected)
    assert matrix.column("bm25@list").max() == 1.0 and matrix.column("bm25@list").min() == 0.0
    assert np.isnan(matrix.column("semantic@list")).all()  # all equal (no vectors): no order to tell
    # Scaled within the first ``listed`` rows: a document after them keeps that scale.
    head = extract(searcher, SearchRequest("rank fusion", plain=True), docs, listed=2)
    top2 = bm25[:2]
    np.testing.assert_allclose(head.column("bm25@list"), (bm25 - top2.min()) / (top2.max() - top2.min()))


def test_explain_reads_the_features_the_reranker_read(make_index: Callable[..., Index]) -> None:
    """A model that scores by a list feature: its explanation of one page must scale within the
    list it reordered, not within the page."""
    from zhisou.rank.features import FeatureMatrix
    from zhisou.rank.rerank import LearnedReranker
    from zhisou.search.stages import Stages

    class ByListScore:
        features, clicks = ("bm25@list",), None

        def predict(self, matrix: FeatureMatrix) -> np.ndarray:
            return matrix.select(self.features)[:, 0]

        def describe(self) -> str:
            return "by bm25@list"

    index = make_index()
    reranker = LearnedReranker(ByListScore(), depth=20)  # type: ignore[arg-type]
    searcher = index.searcher().with_stages(Stages(rerankers=(reranker,)))
    full = searcher.search("rank OR 索引 OR fusion", size=20, explain=True, with_docs=False)
    assert len(full.ids) >= 4
    for page in (1, 2, 3):
        shown = searcher.search("rank OR 索引 OR fusion", size=2, page=page, explain=True, with_docs=False)
        assert shown.ids == full.ids[(page - 1) * 2 : page * 2]
        for hit, score in zip(shown.hits, shown.scores):
            assert hit.explain is not None and hit.explain["rerank"]["score"] == pytest.approx(score)
