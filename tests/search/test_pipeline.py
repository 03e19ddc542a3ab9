"""The search pipeline's hand-offs: statistics handed in, TopDocs merged, stages plugged in,
filters built as queries, and the strategy registry."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from tests.search.test_strategies import VOCABULARY
from zhisou import Index, Schema
from zhisou.errors import ZhisouError
from zhisou.index.termdict import term_key
from zhisou.schema import FieldSpec
from zhisou.search.query import BooleanQuery, PhraseQuery, RangeQuery, TermQuery
from zhisou.search.request import SearchRequest
from zhisou.search.searcher import Searcher
from zhisou.search.stages import Stages
from zhisou.search.stats import SuppliedStatistics, local_statistics
from zhisou.search.strategies import STRATEGIES, choose
from zhisou.search.topk import TopDocs, merge

SCHEMA = Schema((FieldSpec("title", "text", boost=2.0), FieldSpec("body", "text"), FieldSpec("tags", "keyword")))


def _corpus(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [
        {
            "id": f"d{n}",
            "title": " ".join(rng.choices(VOCABULARY, k=rng.randint(0, 3))),
            "body": " ".join(rng.choices(VOCABULARY, k=rng.randint(1, 15))),
            "tags": rng.sample(["a", "b", "c"], rng.randint(0, 2)),
        }
        for n in range(count)
    ]


@pytest.mark.parametrize("strategy", ["exhaustive", "taat", "maxscore", "blockmax"])
def test_shards_scored_with_supplied_statistics_equal_one_index(
    make_index: Callable[..., Index], strategy: str
) -> None:
    """Split a corpus in three shards (one of them with deletes); each searched with the
    combined statistics scores every document as the whole index does, and merging the shards'
    TopDocs gives the whole index's ranking."""
    docs = _corpus(90, seed=3)
    whole = make_index(docs, SCHEMA, commit_every=30)
    shards = [make_index(docs[n::3], SCHEMA, commit_every=10) for n in range(3)]
    whole.delete("d5")
    whole.commit()
    shards[2].delete("d5")
    shards[2].commit()
    queries = ["rank bm25", "索引 zebra data", "spark", "混合 精度 title:ranking"]
    keys = [term_key(f, t) for f in ("title", "body") for t in {*VOCABULARY, "ranking", "rank"}]
    analyzer = whole.searcher().reader.analyzers.get("zh")
    keys += [term_key(f, t) for f in ("title", "body") for q in queries for t in analyzer.stream(q).terms]
    readers = [shard.searcher().reader for shard in shards]
    combined = SuppliedStatistics.combine(local_statistics(reader, keys) for reader in readers)
    reference = whole.searcher()
    for query in queries:
        expected = reference.search(query, size=100, with_docs=False, strategy="exhaustive")
        expected_scores = dict(zip(expected.ids, expected.scores))
        lists = []
        for reader in readers:
            searcher = Searcher(reader, statistics=combined)
            result = searcher.search(query, size=100, with_docs=False, strategy=strategy)
            for doc_id, score in zip(result.ids, result.scores):
                assert score == pytest.approx(expected_scores[doc_id], rel=1e-9), (query, doc_id)
            lists.append(searcher.top_docs(SearchRequest(query, size=5, strategy=strategy)))
        merged = merge(lists, 5)
        assert merged.scores.tolist() == pytest.approx(expected.scores[:5], rel=1e-9)
        assert merged.total == expected.total
        ids = [readers[s].doc_ids([int(d)])[0] for s, d in zip(merged.sources.tolist(), merged.docs.tolist())]  # type: ignore[union-attr]
        assert all(expected_scores[i] == pytest.approx(s, rel=1e-9) for i, s in zip(ids, merged.scores))


def test_without_supplied_statistics_a_shard_scores_differently(make_index: Callable[..., Index]) -> None:
    """The check above can fail: a shard's own statistics give other scores."""
    docs = _corpus(60, seed=4)
    whole, shard = make_index(docs, SCHEMA), make_index(docs[::2], SCHEMA)
    expected = dict(zip(*_ids_scores(whole.searcher(), "rank bm25")))
    got = dict(zip(*_ids_scores(shard.searcher(), "rank bm25")))
    assert any(abs(got[i] - expected[i]) > 1e-6 for i in got)


def _ids_scores(searcher: Searcher, query: str) -> tuple[list[str], list[float]]:
    result = searcher.search(query, size=100, with_docs=False)
    return result.ids, result.scores


def test_merge_orders_by_score_then_list_then_position() -> None:
    a = TopDocs(np.array([4, 1]), np.array([3.0, 1.0]), 7)
    b = TopDocs(np.array([9, 2, 5]), np.array([3.0, 2.0, 1.0]), 3, exact=False)
    merged = merge([a, b], 4)
    assert merged.docs.tolist() == [4, 9, 2, 1]
    assert merged.sources.tolist() == [0, 1, 1, 0]  # type: ignore[union-attr]
    assert merged.total == 10 and merged.exact is False
    assert len(merge([], 3)) == 0


class _Reverse:
    """A reranker that turns the head upside down (what a learned model could do)."""

    def __init__(self, depth: int, offset: float = 100.0) -> None:
        self.depth = depth
        self.offset = offset

    def rerank(
        self, request: SearchRequest, searcher: Searcher, top: TopDocs, channels: Sequence[tuple[str, TopDocs]]
    ) -> TopDocs:
        assert [name for name, _ in channels] == ["bm25"]
        return TopDocs(top.docs[::-1].copy(), np.arange(len(top), 0, -1, dtype=np.float64) + self.offset, top.total)

    def explain(
        self,
        request: SearchRequest,
        searcher: Searcher,
        docs: np.ndarray,
        channels: Sequence[tuple[str, TopDocs]],
        head: np.ndarray,
    ) -> list[dict[str, object]]:
        assert (
            set(docs.tolist()) <= set(head.tolist()) and len(head) <= self.depth
        )  # the page, within what it reordered
        return [{"reversed": True} for _ in docs]


class _Fixed:
    """A retriever returning given documents (another recall channel)."""

    name = "fixed"

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = ids

    def retrieve(self, request: SearchRequest, searcher: Searcher, depth: int) -> TopDocs:
        docs = np.array([searcher.reader.find(i) for i in self.ids][:depth], dtype=np.int64)
        return TopDocs(docs, np.ones(len(docs)), len(docs))


class _Interleave:
    """A fuser taking the lists' documents in turn, skipping repeats."""

    def fuse(self, lists: Sequence[TopDocs], depth: int) -> TopDocs:
        seen: list[int] = []
        for rank in range(max(len(t) for t in lists)):
            for top in lists:
                if rank < len(top) and int(top.docs[rank]) not in seen:
                    seen.append(int(top.docs[rank]))
        docs = np.array(seen[:depth], dtype=np.int64)
        return TopDocs(docs, np.linspace(1, 0, len(docs)), len(seen))

    def describe(self) -> str:
        return "interleaved"


def test_stages_rerank_the_head_and_fuse_other_retrievers(make_index: Callable[..., Index]) -> None:
    searcher = make_index().searcher()
    plain = searcher.search("rank", size=10, with_docs=False)
    assert len(plain.ids) >= 3
    reranked = searcher.with_stages(Stages(rerankers=(_Reverse(3),))).search("rank", size=10, with_docs=False)
    assert reranked.ids == plain.ids[:3][::-1] + plain.ids[3:]
    assert reranked.total == plain.total
    # A reranker's scores on another scale (here below the first stage's): the rest is shifted
    # under the head, so the list stays in score order and keeps the rest's differences.
    negative = searcher.with_stages(Stages(rerankers=(_Reverse(3, offset=-100),))).search("rank", with_docs=False)
    assert negative.ids == reranked.ids
    assert all(a >= b for a, b in zip(negative.scores, negative.scores[1:]))
    np.testing.assert_allclose(np.diff(negative.scores[3:]), np.diff(plain.scores[3:]))
    # Paging sees the reranked order: the second page of one starts where the first left off.
    staged = searcher.with_stages(Stages(rerankers=(_Reverse(3),)))
    assert staged.search("rank", size=2, page=2, with_docs=False).ids == reranked.ids[2:4]
    explained = staged.search("rank", size=2, explain=True).explanations
    assert explained is not None and all(entry["rerank"] == {"reversed": True} for entry in explained)
    fused = searcher.with_stages(Stages(retrievers=(_Fixed(["g", "c"]),), fuser=_Interleave()))
    result = fused.search("rank", size=4)
    assert result.ids == [plain.ids[0], "g", plain.ids[1], "c"]
    assert result.hits[1].doc["title"] == "FlashAttention"
    alone = searcher.with_stages(Stages(retrievers=(_Fixed(["c", "g"]),), lexical=False)).search("rank", size=5)
    assert alone.ids == ["c", "g"]


def test_stages_refuse_what_cannot_work(make_index: Callable[..., Index]) -> None:
    with pytest.raises(ZhisouError, match="fuser"):
        Stages(retrievers=(_Fixed(["a"]),))
    with pytest.raises(ZhisouError, match="at least one retriever"):
        Stages(lexical=False)

    class _Drop(_Reverse):
        def rerank(
            self, request: SearchRequest, searcher: Searcher, top: TopDocs, channels: Sequence[tuple[str, TopDocs]]
        ) -> TopDocs:
            return top.head(len(top) - 1)

    searcher = make_index().searcher().with_stages(Stages(rerankers=(_Drop(3),)))
    with pytest.raises(ZhisouError, match="changed which documents"):
        searcher.search("rank")


def test_dict_filters_are_queries_equal_to_their_query_syntax(make_index: Callable[..., Index]) -> None:
    searcher = make_index().searcher()
    assert searcher.filter_clause("tags", ["ranking", "索引"]) == BooleanQuery(
        should=(TermQuery("ranking", "tags"), TermQuery("索引", "tags"))
    )
    assert searcher.filter_clause("title", "Rank fusion") == PhraseQuery("Rank fusion", "title")
    assert searcher.filter_clause("date", ">=2024") == RangeQuery("date", "2024", None, True, True)
    assert searcher.filter_clause("date", "2024-01-10") == RangeQuery("date", "2024-01-10", "2024-01-10", True, True)
    for as_dict, as_text in (
        ({"tags": ["ranking", "索引"]}, ['tags:"ranking" OR tags:"索引"']),
        ({"date": "[2023 TO 2024]"}, ["date:[2023 TO 2024]"]),
        ({"date": "2024"}, ["date:2024"]),
        ({"title": "rank fusion"}, ['title:"rank fusion"']),
    ):
        by_dict = searcher.search("", filters=as_dict, size=20, with_docs=False).ids
        by_text = searcher.search("", filters=as_text, size=20, with_docs=False).ids
        assert by_dict == by_text and by_dict, as_dict
    for bad, message in (
        ({"nope": "x"}, "unknown filter field"),
        ({"date": ">=20x4"}, "date"),
        ({"tags": ""}, "empty"),
    ):
        with pytest.raises(ZhisouError, match=message):
            searcher.search("rank", filters=bad)


def test_every_strategy_has_one_signature_and_hands_over_what_it_cannot_run(make_index: Callable[..., Index]) -> None:
    searcher = make_index(commit_every=3).searcher()
    free_text = searcher.plan(SearchRequest("rank bm25"))
    phrase = searcher.plan(SearchRequest('"rank fusion"'))
    sorted_plan = searcher.plan(SearchRequest("rank", sort="-date"))
    expected = searcher.search("rank bm25", size=5, with_docs=False, strategy="exhaustive")
    for name, strategy in STRATEGIES.items():
        assert strategy.supports(free_text, None), name
        top = strategy.run(searcher.context, searcher.plan(SearchRequest("rank bm25")), 5, None)
        assert top.scores.tolist() == pytest.approx(expected.scores), name
        assert choose(name, searcher.context, phrase, 5, None).name == "exhaustive"
        assert choose(name, searcher.context, sorted_plan, 5, None).name == "exhaustive"
    assert STRATEGIES["exhaustive"].supports(phrase, None)
    assert not STRATEGIES["taat"].supports(phrase, None)
    with pytest.raises(ZhisouError, match="unknown strategy"):
        searcher.search("rank", strategy="fastest")


def test_unknown_search_options_are_one_line_errors(make_index: Callable[..., Index]) -> None:
    searcher = make_index().searcher()
    with pytest.raises(ZhisouError, match=r"^search: unknown option\(s\) 'colour'; options: .*facets") as info:
        searcher.search("rank", colour="red")
    assert "\n" not in str(info.value) and "__init__" not in str(info.value)


def test_auto_prunes_one_long_posting_list_for_a_shallow_top_k(
    make_index: Callable[..., Index], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The measured rule, on thresholds scaled down to a small index: one term with postings
    past the threshold and a top-k up to 100 runs block-max (exact total: the term's live
    document frequency), anything else term-at-a-time — with the exhaustive scores every time."""
    from zhisou.search import strategies

    monkeypatch.setattr(strategies, "BLOCKMAX_MIN_POSTINGS", 20)
    monkeypatch.setattr(strategies, "BLOCKMAX_POSTINGS_PER_HIT", 4)
    body = Schema((FieldSpec("body", "text"), FieldSpec("tags", "keyword")))
    index = make_index(_corpus(120, seed=5), body, commit_every=50)
    index.delete(["d1", "d2"])
    index.commit()
    searcher = index.searcher()
    ran: list[str] = []
    for name in ("taat", "blockmax"):
        real = strategies.STRATEGIES[name]
        monkeypatch.setitem(strategies.STRATEGIES, name, _Spy(real, ran))
    cases = [("rank", 3, "blockmax"), ("rank", 30, "taat"), ("rank data", 3, "taat"), ("zebra", 101, "taat")]
    for query, size, expected in cases:
        ran.clear()
        auto = searcher.search(query, size=size, with_docs=False)
        assert ran == [expected], (query, size, ran)
        reference = searcher.search(query, size=size, with_docs=False, strategy="exhaustive")
        assert auto.scores == pytest.approx(reference.scores, rel=1e-9)
        assert auto.total == reference.total and auto.total_exact
    ran.clear()
    faceted = searcher.search("rank", size=3, facets=["tags"], with_docs=False)
    assert ran == ["taat"] and faceted.facets["tags"]  # facet counts need every match
    ran.clear()
    filtered = searcher.search("rank", size=3, filters={"tags": "a"}, with_docs=False)
    assert ran == ["blockmax"]
    reference = searcher.search("rank", size=3, filters={"tags": "a"}, with_docs=False, strategy="exhaustive")
    assert filtered.scores == pytest.approx(reference.scores, rel=1e-9) and filtered.total <= reference.total


class _Spy:
    def __init__(self, strategy: object, ran: list[str]) -> None:
        self.strategy, self.ran = strategy, ran
        self.name, self.prunes = strategy.name, strategy.prunes  # type: ignore[attr-defined]

    def supports(self, *args: object) -> bool:
        return self.strategy.supports(*args)  # type: ignore[attr-defined,no-any-return]

    def run(self, *args: object) -> TopDocs:
        self.ran.append(self.name)
        return self.strategy.run(*args)  # type: ignore[attr-defined,no-any-return]
