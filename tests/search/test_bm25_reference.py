"""BM25 scores against a straightforward reference implementation (Lucene's formula)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import pytest

from tests.conftest import SMALL_CORPUS
from zhisou import BM25, Index, Schema
from zhisou.analysis import AnalyzerRegistry
from zhisou.schema import FieldSpec

BODIES = [{"id": d["id"], "body": d["body"]} for d in SMALL_CORPUS] + [
    {"id": "long", "body": "rank " * 3 + "索引 " + "filler words " * 30},
    {"id": "empty", "body": ""},
]


def reference_scores(
    docs: list[dict], field: str, query_words: list[str], k1: float, b: float, boost: float = 1.0
) -> dict[str, float]:
    analyzer = AnalyzerRegistry().get("zh")
    tokens = {d["id"]: analyzer.terms(d.get(field, "")) for d in docs}
    with_field = [i for i, t in tokens.items() if t]
    n = len(with_field)
    avgdl = sum(len(tokens[i]) for i in with_field) / n
    scores: dict[str, float] = {}
    for word in query_words:
        for term in dict.fromkeys(analyzer.terms(word)):
            df = sum(1 for i in with_field if term in tokens[i])
            if df == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            for doc_id, terms in tokens.items():
                tf = Counter(terms)[term]
                if tf:
                    norm = k1 * (1 - b + b * len(terms) / avgdl)
                    scores[doc_id] = scores.get(doc_id, 0.0) + boost * idf * tf / (tf + norm)
    return scores


@pytest.mark.parametrize("k1,b", [(0.9, 0.4), (1.2, 0.75), (2.0, 0.0), (0.5, 1.0)])
@pytest.mark.parametrize("query", ["rank", "BM25 ranking", "索引 倒排索引", "混合精度 training", "flashattention io"])
def test_scores_match_reference(
    make_index: Callable[..., Index], body_only_schema: Schema, query: str, k1: float, b: float
) -> None:
    index = make_index(BODIES, body_only_schema, commit_every=4, similarity=BM25(k1, b))
    result = index.search(query, size=50)
    expected = reference_scores(BODIES, "body", query.split(), k1, b)
    assert {h.id: h.score for h in result.hits} == pytest.approx(expected, abs=1e-5)
    assert result.total == len(expected)


def test_field_boosts_add_up(make_index: Callable[..., Index]) -> None:
    schema = Schema((FieldSpec("title", "text", boost=3.0), FieldSpec("body", "text")))
    docs = [{"id": d["id"], "title": d["title"], "body": d["body"]} for d in SMALL_CORPUS]
    index = make_index(docs, schema)
    got = {h.id: h.score for h in index.search("rank", size=50).hits}
    defaults = BM25()  # Lucene's k1 = 1.2, b = 0.75
    assert (defaults.k1, defaults.b) == (1.2, 0.75)
    title = reference_scores(docs, "title", ["rank"], defaults.k1, defaults.b, boost=3.0)
    body = reference_scores(docs, "body", ["rank"], defaults.k1, defaults.b)
    expected = {k: title.get(k, 0.0) + body.get(k, 0.0) for k in set(title) | set(body)}
    assert got == pytest.approx(expected, abs=1e-5)


def test_illegal_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="illegal b"):
        BM25(0.9, 1.5)
    with pytest.raises(ValueError, match="illegal k1"):
        BM25(-1, 0.4)
