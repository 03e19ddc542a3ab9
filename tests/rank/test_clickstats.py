"""Click statistics as features: looks weighted by examination, smoothing, storage with a model,
and their place in training from the log (history before labels)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from zhisou.errors import CorruptIndexError
from zhisou.rank.clickmodel import PositionBasedModel
from zhisou.rank.clicks import Session
from zhisou.rank.clickstats import PRIOR_LOOKS, ClickStats
from zhisou.rank.fromlogs import split_by_time

THETA = PositionBasedModel(np.array([1.0, 0.5, 0.25]), {}, {})


def sessions() -> list[Session]:
    return [
        Session("s1", "BM25 Ranking", ["a", "b", "c"], 1, 10.0, {"a": 11.0}),
        Session("s2", "bm25 ranking", ["b", "a"], 1, 20.0, {"a": 21.0}),
        Session("s3", "fusion", ["c", "a"], 1, 30.0, {}),
    ]


def test_rates_count_looks_by_examination_and_are_smoothed() -> None:
    stats = ClickStats.from_sessions(sessions(), THETA)
    # a: looked at 1 + 0.5 + 0.5 = 2 times over all queries, clicked twice; b: 0.5 + 1, no click;
    # c: 0.25 + 1, no click. Overall: 2 clicks in 4.75 looks.
    assert stats.docs["a"] == (2.0, 2.0) and stats.docs["c"] == (0.0, 1.25)
    rate = 2 / 4.75
    assert stats.rate == pytest.approx(rate)
    columns = stats.columns("bm25  RANKING", ["a", "c", "never"])
    doc = (2 + PRIOR_LOOKS * rate) / (2 + PRIOR_LOOKS)
    assert columns["click:doc"][0] == pytest.approx(doc)
    assert columns["click:doc"][1] == pytest.approx(PRIOR_LOOKS * rate / (1.25 + PRIOR_LOOKS))
    assert math.isnan(columns["click:doc"][2])
    # For this query (normalized: case and spaces): a looked at 1.5 times, clicked twice; c 0.25.
    assert columns["click:query_doc"][0] == pytest.approx((2 + PRIOR_LOOKS * rate) / (1.5 + PRIOR_LOOKS))
    assert columns["click:query_doc_looks"].tolist() == [1.5, 0.25, 0.0]
    assert math.isnan(stats.columns("fusion", ["b"])["click:query_doc"][0])


def test_statistics_are_stored_and_read_back(tmp_path: Path) -> None:
    stats = ClickStats.from_sessions(sessions(), THETA)
    stats.save(tmp_path)
    assert ClickStats.load(tmp_path) == stats
    assert ClickStats.load(tmp_path / "elsewhere") is None
    (tmp_path / "clicks.json").write_text('{"rate": 0.1}', encoding="utf-8")
    with pytest.raises(CorruptIndexError, match=r"clicks\.json"):
        ClickStats.load(tmp_path)


def test_the_older_sessions_give_features_and_the_newer_labels() -> None:
    older, newer = split_by_time(list(reversed(sessions())))
    assert [s.query_id for s in older] == ["s1"] and [s.query_id for s in newer] == ["s2", "s3"]
