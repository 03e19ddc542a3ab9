"""The compiled free-text path must return what the general (exhaustive) executor returns."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhisou import Index, Schema
from zhisou.schema import FieldSpec
from zhisou.search.parser import parse_query
from zhisou.search.plan import plan_disjunction

VOCABULARY = ["rank", "ranking", "bm25", "索引", "倒排", "zebra", "混合", "精度", "spark", "data"]
SCHEMA = Schema((FieldSpec("title", "text", boost=2.0), FieldSpec("body", "text"), FieldSpec("tags", "keyword")))

documents = st.lists(
    st.fixed_dictionaries(
        {
            "title": st.lists(st.sampled_from(VOCABULARY), max_size=3).map(" ".join),
            "body": st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=12).map(" ".join),
            "tags": st.lists(st.sampled_from(["a", "b"]), max_size=2),
        }
    ),
    min_size=1,
    max_size=25,
)


def compare(index: Index, query: str, **options: object) -> None:
    """TAAT, MaxScore (pruning from the first match on) and auto equal the exhaustive executor."""
    searcher = index.searcher()
    everything = searcher.search(query, size=1000, with_docs=False, strategy="exhaustive", **options)  # type: ignore[arg-type]
    exact_score = dict(zip(everything.ids, everything.scores))
    for size in (1, 3, 50):
        slow = searcher.search(query, size=size, with_docs=False, strategy="exhaustive", **options)  # type: ignore[arg-type]
        for strategy, track in (
            ("auto", 10_000),
            ("taat", 10_000),
            ("maxscore", 10_000),
            ("maxscore", 0),
            ("blockmax", 10_000),
            ("blockmax", 0),
            ("bmw", 10_000),
            ("bmw", 0),
        ):
            fast = searcher.search(
                query,
                size=size,
                with_docs=False,
                strategy=strategy,
                track_total_hits=track,
                **options,  # type: ignore[arg-type]
            )
            # The same scores rank by rank; ids may swap only between documents whose scores
            # are equal up to floating-point summation order.
            assert fast.scores == pytest.approx(slow.scores, abs=1e-9), (query, strategy, track)
            assert len(set(fast.ids)) == len(fast.ids)
            for doc_id, score in zip(fast.ids, fast.scores):
                assert exact_score[doc_id] == pytest.approx(score, abs=1e-9), (query, strategy, doc_id)
            if fast.total_exact:
                assert fast.total == slow.total, (query, strategy)
            else:
                assert track <= fast.total <= slow.total


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    docs=documents,
    query_words=st.lists(
        st.sampled_from([*VOCABULARY, "missing", "title:rank", "body:索引", "rank^2", "body:索引^0.5", "bm25^3"]),
        min_size=1,
        max_size=4,
    ),
    segment_size=st.integers(1, 10),
    deleted=st.sets(st.integers(0, 24), max_size=6),
)
def test_compiled_path_equals_exhaustive(
    tmp_path_factory: pytest.TempPathFactory,
    docs: list[dict],
    query_words: list[str],
    segment_size: int,
    deleted: set[int],
) -> None:
    index = Index.create(tmp_path_factory.mktemp("s") / "ix", SCHEMA)
    for start in range(0, len(docs), segment_size):
        index.add({"id": str(i), **doc} for i, doc in enumerate(docs[start : start + segment_size], start))
        index.writer.commit(merge=False)
    index.delete([str(i) for i in deleted])
    index.commit()
    query = " ".join(query_words)
    compare(index, query)
    compare(index, query + " tags:a")
    compare(index, query + " -tags:b")
    compare(index, query, filters={"tags": "b"})
    index.close()


def test_plans() -> None:
    text = {"title", "body"}
    fields = {"title": _f("text"), "body": _f("text"), "tags": _f("keyword")}
    assert plan_disjunction(parse_query("a b", fields), text) is not None
    assert plan_disjunction(parse_query("a b tags:x", fields), text) is not None
    assert plan_disjunction(parse_query('"a b"', fields), text) is None
    assert plan_disjunction(parse_query("a AND b", fields), text) is None
    assert plan_disjunction(parse_query("a*", fields), text) is None
    assert plan_disjunction(parse_query("tags:x", fields), text) is None


def _f(kind: str):  # type: ignore[no-untyped-def]
    from zhisou.search.parser import FieldInfo

    return FieldInfo(kind)


def test_unknown_strategy(tmp_path: Path) -> None:
    index = Index.create(tmp_path / "ix")
    with pytest.raises(Exception, match="unknown strategy"):
        index.search("x", strategy="magic")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pruning_over_many_blocks(tmp_path: Path, seed: int) -> None:
    """Long postings (several 128-posting blocks per term) and skewed term frequencies."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(40)]
    weights = [1 / (i + 1) for i in range(len(words))]
    docs = [
        {
            "id": str(i),
            "body": " ".join(rng.choices(words, weights, k=rng.randint(3, 40))),
            "title": " ".join(rng.choices(words, weights, k=rng.randint(0, 3))),
        }
        for i in range(900)
    ]
    index = Index.create(tmp_path / "ix", SCHEMA)
    index.add(docs[:500])
    index.writer.commit(merge=False)
    index.add(docs[500:])
    index.delete([str(i) for i in range(0, 900, 17)])
    index.commit()
    for query in ("w0 w1", "w0 w7 w30", "w2 w3 w4 w5", "w39 w0", "w10 w11 w12 w13 w14 w15"):
        compare(index, query)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**31),
    n_docs=st.integers(200, 2500),
    vocabulary=st.integers(3, 80),
    skew=st.sampled_from([0.0, 1.0, 2.0]),
    segments=st.integers(1, 3),
)
def test_pruning_strategies_equal_exhaustive_over_many_blocks(
    tmp_path_factory: pytest.TempPathFactory, seed: int, n_docs: int, vocabulary: int, skew: float, segments: int
) -> None:
    """Long posting lists of many blocks (skip rows, block bounds, blocks passed undecoded),
    Zipf-skewed or flat term frequencies, short and long documents, deletes and filters: every
    pruning strategy returns the exhaustive top k."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocabulary)]
    weights = [1 / (i + 1) ** skew for i in range(vocabulary)]
    docs = [
        {
            "id": str(i),
            "body": " ".join(rng.choices(words, weights, k=rng.choice([2, 5, 30, 200]))),
            "tags": ["a"] if i % 3 else ["b"],
        }
        for i in range(n_docs)
    ]
    index = Index.create(tmp_path_factory.mktemp("blocks") / "ix", SCHEMA)
    step = -(-n_docs // segments)
    for start in range(0, n_docs, step):
        index.add(docs[start : start + step])
        index.writer.commit(merge=False)
    index.delete([str(i) for i in range(0, n_docs, 23)])
    index.commit()
    for _ in range(3):
        query = " ".join(rng.sample(words, min(len(words), rng.randint(1, 5))))
        compare(index, query)
    compare(index, words[0], filters={"tags": "a"})
    index.close()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4000), st.integers(1, 400), st.integers(1, 60), st.randoms(use_true_random=False))
def test_deep_top_k_selection_equals_sorting(n: int, k: int, levels: int, rng: random.Random) -> None:
    """The top k of the touched documents, by score then doc, whichever way it is selected: a
    heap for shallow lists, a histogram floor first for deep ones out of many candidates (few
    score levels: many ties, candidates exactly at the floor)."""
    import numpy as np

    from zhisou.search import kernels

    touched = np.array(rng.sample(range(n * 2), n), dtype=np.int64)  # first-touch order, not doc order
    scores = np.zeros(n * 2)
    scores[touched] = np.array([rng.randrange(levels) * 0.37 + 0.01 for _ in range(n)])
    expected = sorted((-scores[d], int(d)) for d in touched.tolist())[:k]
    docs, top = kernels.top_k_and_clear(scores, touched, n, k, np.zeros(n))
    assert [(-s, d) for s, d in zip(top.tolist(), docs.tolist())] == expected
    assert not scores.any()  # every touched score cleared


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(1e-300, 1e300),  # beyond the floor histogram's range at both ends
            st.sampled_from([0.5, 0.5000000001, 2.0**-40, 2.0**24, 1e-13]),  # bin edges and ties
            st.floats(-5.0, -1e-9),  # negative: no similarity here gives one, still exact
        ),
        min_size=1,
        max_size=3000,
    ),
    st.integers(65, 400),
)
def test_deep_top_k_selection_holds_for_any_scores(values: list[float], k: int) -> None:
    """The deep selection bins scores by their bits; scores outside its range, at a bin's edge or
    negative still give exactly the sorted top k."""
    import numpy as np

    from zhisou.search import kernels

    n = len(values)
    touched = np.arange(n, dtype=np.int64)[::-1].copy()
    scores = np.zeros(n)
    scores[touched] = values
    expected = sorted((-scores[d], int(d)) for d in touched.tolist())[:k]
    docs, top = kernels._deep_top_k_and_clear(scores, touched, n, min(k, n), np.zeros(n))
    assert [(-s, d) for s, d in zip(top.tolist(), docs.tolist())] == expected
    assert not scores.any()


def test_the_deep_selection_is_taken_for_a_deep_list_out_of_many() -> None:
    import numpy as np

    from zhisou.search import kernels

    rng = np.random.default_rng(3)
    touched = rng.permutation(50_000)[:20_000].astype(np.int64)
    scores = np.zeros(50_000)
    scores[touched] = rng.random(20_000)
    assert kernels.DEEP_FROM < 1000 and 20_000 > 8 * 1000
    expected = sorted((-scores[d], int(d)) for d in touched.tolist())[:1000]
    deep = kernels._deep_top_k_and_clear(scores.copy(), touched, 20_000, 1000, np.zeros(20_000))
    docs, top = kernels.top_k_and_clear(scores, touched, 20_000, 1000, np.zeros(20_000))
    assert [(-s, d) for s, d in zip(top.tolist(), docs.tolist())] == expected
    assert deep[0].tolist() == docs.tolist()


def test_the_touched_list_holds_32_bit_ids_and_refuses_more_documents_than_they_name() -> None:
    from zhisou.errors import ZhisouError
    from zhisou.search.strategies.terms import _Buffers

    buffers = _Buffers()
    scores, touched, _ = buffers.ensure(1000)
    assert touched.dtype == "uint32" and len(touched) == 1001 and len(scores) == 1000
    with pytest.raises(ZhisouError, match="shards"):
        buffers.ensure(2**32)  # refused before anything is allocated
