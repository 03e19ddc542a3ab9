"""Training, storing, switching and guarding ranking models on a corpus where relevance is
something BM25 cannot see (recency), so a model has something to learn."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from zhisou import Index, Schema
from zhisou.errors import ZhisouError
from zhisou.rank.data import RankingData, collect
from zhisou.rank.model import ModelStore
from zhisou.rank.train import fit, guard, ndcg_at_10, score, split_dev
from zhisou.schema import FieldSpec

pytest.importorskip("lightgbm")

TOPICS = [f"topic{k}" for k in range(40)]
SCHEMA = Schema((FieldSpec("title", "text", boost=2.0), FieldSpec("body", "text"), FieldSpec("date", "date")))


def corpus() -> tuple[list[dict[str, str]], dict[str, dict[str, int]]]:
    """Per topic, six notes mentioning it one to six times; the two newest are the relevant ones
    (and they mention the topic least, so BM25 puts them last)."""
    rng = np.random.default_rng(7)
    docs, qrels = [], {}
    for number, topic in enumerate(TOPICS):
        years = rng.permutation(6) + 2015
        for k in range(6):
            doc_id = f"{topic}-{k}"
            filler = " ".join(f"w{rng.integers(200)}" for _ in range(8))
            docs.append(
                {
                    "id": doc_id,
                    "title": f"note {k}",
                    "body": f"{' '.join([topic] * (6 - k))} {filler}",
                    "date": f"{2015 + k}-06-01",
                }
            )
        del years
        qrels[f"q{number}"] = {f"{topic}-4": 1, f"{topic}-5": 2}
    return docs, qrels


@pytest.fixture
def judged(make_index: Callable[..., Index]) -> tuple[Index, RankingData, dict[str, dict[str, int]]]:
    docs, qrels = corpus()
    index = make_index(docs, SCHEMA)
    queries = [(f"q{n}", topic) for n, topic in enumerate(TOPICS)]
    data = collect(index.searcher(), queries, qrels, depth=10, base="keyword")
    return index, data, qrels


@pytest.mark.parametrize(
    ("backend", "objective"),
    [("lightgbm", "listwise"), ("lightgbm", "pointwise"), ("xgboost", "pairwise"), ("xgboost", "listwise")],
)
def test_a_tiny_training_run_beats_the_first_stage_on_its_dev_queries(
    judged: tuple[Index, RankingData, dict[str, dict[str, int]]], backend: str, objective: str
) -> None:
    if backend == "xgboost":
        pytest.importorskip("xgboost")
    _, data, qrels = judged
    assert data.groups.tolist() == [6] * len(TOPICS)
    train_data, dev_data = split_dev(data)
    trained = fit(train_data, dev_data, qrels, backend=backend, objective=objective, max_rounds=60)
    assert trained.dev["first_stage_nDCG@10"] < 0.6
    assert trained.dev["nDCG@10"] > trained.dev["first_stage_nDCG@10"] + 0.3
    assert next(iter(trained.model.importance())) in {"age_days", "rr:bm25", "bm25", "bm25:body"}


def test_models_are_stored_versioned_switched_and_guarded(
    judged: tuple[Index, RankingData, dict[str, dict[str, int]]], tmp_path: Path
) -> None:
    index, data, qrels = judged
    train_data, dev_data = split_dev(data)
    good = fit(train_data, dev_data, qrels, backend="lightgbm", objective="listwise", max_rounds=60).model
    store = ModelStore(index.directory)
    assert store.active() is None and index.searcher().ranking_model() is None
    accepted, reason = guard(good, None, dev_data, qrels)
    assert accepted and "beats the first stage" in reason
    first = store.save(good)
    store.activate(first)
    # What was stored predicts what was trained.
    np.testing.assert_allclose(score(store.load(first), dev_data), score(good, dev_data))
    # A model trained to prefer what is not relevant is refused against the active one.
    flipped = RankingData(
        train_data.names,
        train_data.values,
        (train_data.labels == 0).astype(float),
        train_data.groups,
        train_data.query_ids,
        train_data.doc_ids,
    )
    flipped_qrels = {q: {d: 1 for d in flipped.doc_ids} for q in flipped.query_ids}
    bad = fit(flipped, dev_data, flipped_qrels, backend="lightgbm", objective="listwise", max_rounds=30).model
    accepted, reason = guard(bad, store.load_active(), dev_data, qrels)
    assert not accepted and "does not beat model-1" in reason
    second = store.save(bad)
    assert store.versions() == [1, 2] and store.active() == 1
    store.activate(second)  # an operator may still insist
    assert store.active() == 2
    assert store.rollback() == 1 and store.active() == 1
    with pytest.raises(ZhisouError, match="no ranking model 7"):
        store.activate(7)
    assert ndcg_at_10(dev_data, score(store.load_active(), dev_data), qrels) > 0.9  # type: ignore[arg-type]


def test_ltr_mode_reranks_with_the_active_model(judged: tuple[Index, RankingData, dict[str, dict[str, int]]]) -> None:
    index, data, qrels = judged
    searcher = index.searcher()
    with pytest.raises(ZhisouError, match="needs a trained ranking model"):
        searcher.search("topic3", mode="ltr")
    train_data, dev_data = split_dev(data)
    model = fit(train_data, dev_data, qrels, backend="lightgbm", objective="listwise", max_rounds=60).model
    store = ModelStore(index.directory)
    store.activate(store.save(model))
    keyword = searcher.search("topic3", size=6)
    reranked = searcher.search("topic3", size=6, mode="ltr", explain=True)
    assert sorted(reranked.ids) == sorted(keyword.ids)
    assert reranked.ids[:2] != keyword.ids[:2] and set(reranked.ids[:2]) == {"topic3-4", "topic3-5"}
    assert reranked.explanations is not None
    rerank = reranked.explanations[0]["rerank"]
    assert rerank["model"].startswith("model-1 (lightgbm lambdarank)")
    assert rerank["score"] == pytest.approx(reranked.scores[0])
    assert set(rerank["features"]) == set(model.features)
    assert reranked.total == keyword.total
