"""The click simulator and the position-based click model: propensities recovered from
simulated sessions, and a ranker trained from the log end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.rank.test_training import SCHEMA, TOPICS, corpus
from zhisou import Index
from zhisou.cli import app
from zhisou.rank.clickmodel import fit_pbm, naive_ctr, relevance_posterior
from zhisou.rank.clicks import read_sessions
from zhisou.rank.simulate import ClickSimulator


def pages(count: int, seed: int = 1) -> tuple[list[tuple[str, list[str]]], dict[str, dict[str, int]]]:
    rng = np.random.default_rng(seed)
    shown, relevance = [], {}
    for number in range(count):
        ids = [f"q{number}d{i}" for i in range(10)]
        relevance[f"query {number}"] = {d: 1 for d in ids if rng.random() < 0.3}
        shown.append((f"query {number}", ids))
    return shown, relevance


def test_the_click_model_recovers_the_simulated_examination(tmp_path: Path) -> None:
    shown, relevance = pages(200)
    # Every page in a random order: the randomized experiment propensities are estimated from
    # (with a share of fixed orders the estimates drift by up to 0.06 at rank 2: each pair's own
    # appeal is a parameter, and those many parameters bias the shared ones).
    simulator = ClickSimulator(eta=1.0, noise=0.1, randomize=1.0, seed=3)
    assert simulator.simulate(shown, relevance, tmp_path / "logs", sessions_per_query=50) > 0
    sessions = read_sessions(tmp_path / "logs").sessions
    assert len(sessions) == 200 * 50
    model = fit_pbm(sessions)
    truth = 1 / np.arange(1, 11)
    np.testing.assert_allclose(model.examination[:10], truth, atol=0.04)
    # The raw click-through rate of a relevant document depends on where it was shown; the
    # click model's estimate does not (close to 1 - noise).
    relevant = [(q, d) for q, docs in relevance.items() for d in docs]
    gammas = np.array([model.attractiveness[(q, d)] for q, d in relevant])
    assert abs(float(np.median(gammas)) - 0.9) < 0.1
    ctr = naive_ctr(sessions)
    assert float(np.median([ctr[pair] for pair in relevant])) < 0.5


def test_later_pages_are_reached_as_often_as_their_first_rank_is_examined(tmp_path: Path) -> None:
    # 25 ranked ids in pages of 10: page 2 is reached with θ(11), page 3 with θ(21); every
    # page is its own logged search, starting at its rank, and the clicks of page 2 follow
    # θ(k) / θ(11), so each rank is examined with θ(k) overall.
    ids = [f"d{i}" for i in range(25)]
    simulator = ClickSimulator(eta=1.0, noise=0.0, seed=5)
    simulator.simulate([("q", ids)], {"q": dict.fromkeys(ids, 1)}, tmp_path / "logs", sessions_per_query=4000)
    sessions = read_sessions(tmp_path / "logs").sessions
    by_page = {first: [s for s in sessions if s.first_rank == first] for first in (1, 11, 21)}
    assert len(sessions) == sum(len(found) for found in by_page.values())
    assert len(by_page[1]) == 4000 and [len(s.shown) for s in by_page[21][:1]] == [5]
    assert abs(len(by_page[11]) / 4000 - 1 / 11) < 0.015
    assert abs(len(by_page[21]) / 4000 - 1 / 21) < 0.012
    clicks_at_15 = sum("d14" in s.clicks for s in by_page[11])
    assert abs(clicks_at_15 / 4000 - 1 / 15) < 0.012


def test_the_relevance_posterior_is_not_fooled_by_a_few_clicks_on_a_rarely_seen_page(tmp_path: Path) -> None:
    # Two pages of 10: 30 % of page 1 relevant, 2 % of page 2 (reached by one search in 11).
    rng = np.random.default_rng(7)
    shown, relevance = [], {}
    for number in range(300):
        ids = [f"q{number}d{i}" for i in range(20)]
        relevance[f"query {number}"] = {d: 1 for i, d in enumerate(ids) if rng.random() < (0.3 if i < 10 else 0.02)}
        shown.append((f"query {number}", ids))
    ClickSimulator(eta=1.0, noise=0.1, randomize=0.2, seed=4).simulate(shown, relevance, tmp_path / "logs", 60)
    sessions = read_sessions(tmp_path / "logs").sessions
    model = fit_pbm(sessions)
    posterior = relevance_posterior(sessions, model)
    wrong = {1: 0, 2: 0}
    right_deep = 0
    for query, ids in shown:
        for i, doc in enumerate(ids):
            truth = doc in relevance[query]
            said = posterior.get((query, doc), 0.0) >= 0.5
            wrong[1 if i < 10 else 2] += said != truth
            right_deep += i >= 10 and said and truth
    assert wrong[1] <= 0.01 * 3000  # page 1: nearly every label right
    # Page 2: ~8 impressions a document; the relevant ones found, few others taken for them.
    deep_relevant = sum(i >= 10 for ids in relevance.values() for i in [int(d.split("d")[1]) for d in ids])
    assert right_deep >= 0.5 * deep_relevant and wrong[2] <= 0.5 * deep_relevant
    # The rate alone (clicks ÷ θ over impressions) errs far more there.
    clicked: dict[tuple[str, str], float] = {}
    looked: dict[tuple[str, str], float] = {}
    for session in sessions:
        for offset, doc in enumerate(session.shown):
            looked[(session.query, doc)] = looked.get((session.query, doc), 0.0) + model.propensity(
                session.first_rank + offset
            )
            clicked[(session.query, doc)] = clicked.get((session.query, doc), 0.0) + (doc in session.clicks)
    rate_wrong = sum(
        (clicked.get((query, doc), 0.0) >= 0.5 * looked.get((query, doc), 1.0)) != (doc in relevance[query])
        for query, ids in shown
        for doc in ids[10:]
    )
    assert rate_wrong > 2 * wrong[2]


def test_the_same_seed_writes_the_same_log(tmp_path: Path) -> None:
    shown, relevance = pages(5)
    for name in ("one", "two"):
        ClickSimulator(seed=9, randomize=0.5).simulate(shown, relevance, tmp_path / name, sessions_per_query=4)
    clicks = [[sorted(s.clicks) for s in read_sessions(tmp_path / name).sessions] for name in ("one", "two")]
    assert clicks[0] == clicks[1]


def test_train_from_the_search_log(make_index: Callable[..., Index]) -> None:
    pytest.importorskip("lightgbm")
    docs, qrels = corpus()
    index = make_index(docs, SCHEMA)
    searcher = index.searcher()
    shown = [(topic, searcher.search(topic, size=6, with_docs=False).ids) for topic in TOPICS]
    judged = {topic: qrels[f"q{n}"] for n, topic in enumerate(TOPICS)}
    ClickSimulator(randomize=0.2).simulate(shown, judged, index.directory / "logs", sessions_per_query=30)
    with open(index.directory / "logs" / next((index.directory / "logs").iterdir()).name, "a") as handle:
        handle.write("garbage line\n")
    runner = CliRunner()
    both = runner.invoke(app, ["ltr", "train", "--from-logs", "-i", str(index.directory), "-d", str(index.directory)])
    assert both.exit_code == 2 and "not both" in both.output  # one source of labels, said, not guessed
    result = runner.invoke(app, ["ltr", "train", "--from-logs", "--index", str(index.directory), "--base", "bm25"])
    assert result.exit_code == 0, result.output
    assert "model-1 from 1,200 sessions" in result.output and ": active" in result.output
    assert "not JSON" in result.output  # the damaged line, reported
    reranked = index.searcher().search("topic7", size=2, mode="ltr", explain=True)
    assert set(reranked.ids) == {"topic7-4", "topic7-5"}
    # The model keeps the log's click statistics, and its click features read them searching.
    model = index.searcher().ranking_model()
    assert model is not None and model.clicks is not None and "click:query_doc" in model.features
    assert model.meta["labelled_sessions"] == model.meta["sessions"] - model.meta["sessions"] // 2
    features = reranked.explanations[0]["rerank"]["features"]
    assert features["click:query_doc_looks"] > 0 and features["click:doc"] is not None


def test_counterfactual_dcg_weighs_clicks_by_inverse_propensity() -> None:
    from zhisou.rank.clickmodel import PositionBasedModel
    from zhisou.rank.clicks import Session
    from zhisou.rank.data import RankingData
    from zhisou.rank.fromlogs import counterfactual_dcg

    pbm = PositionBasedModel(np.array([1.0, 0.5, 0.25]), {}, {})
    # The first stage's order for "q": x, y, z; a user clicked y, shown at rank 2 (θ = 0.5).
    data = RankingData(("f",), np.zeros((3, 1)), np.zeros(3), np.array([3]), ["q"], ["x", "y", "z"])
    session = Session("s1", "Q", ["z", "y", "x"], 1, 0.0, {"y": 1.0})
    assert counterfactual_dcg(None, data, [session], pbm) == pytest.approx((1 / 0.5) / np.log2(3))
    unclicked = Session("s2", "q", ["x"], 1, 0.0, {})
    assert counterfactual_dcg(None, data, [session, unclicked], pbm) == pytest.approx((1 / 0.5) / np.log2(3) / 2)
    # A click on page 2 (the page starts at rank 3: θ there is 0.25, and one search in the two
    # went on to it): looked at with 0.25 × ½; the model's order puts z at rank 3.
    later = Session("s3", "q", ["z"], 3, 0.0, {"z": 1.0})
    expected = ((1 / 0.5) / np.log2(3) + (1 / 0.125) / np.log2(4)) / 2
    assert counterfactual_dcg(None, data, [session, unclicked, later], pbm) == pytest.approx(expected)
